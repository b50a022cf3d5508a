using System.Collections.Concurrent;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Vardbro.Server.Emrs;
using Vardbro.Server.Storage;
using Vardbro.Server.Tests.Infrastructure;

namespace Vardbro.Server.Tests.Storage;

/// <summary>
/// The request's database context comes from a pool. A scope that disposed its context twice could
/// return it to the pool after another scope had rented it again, and two requests (or a request and
/// the audit writer) would then share one connection: on PostgreSQL that hung the audit writer
/// inside its transaction, holding the audit lock, and every audited request with it.
/// </summary>
public sealed class PooledContextTests(VardbroFactory factory) : IClassFixture<VardbroFactory>
{
    [Fact]
    public void Only_one_registration_hands_out_the_scoped_context()
    {
        using var scope = factory.Services.CreateScope();
        Assert.NotNull(scope.ServiceProvider.GetRequiredService<VardbroDb>());
        Assert.Null(scope.ServiceProvider.GetService<DbContext>());
    }

    [Fact]
    public async Task No_two_live_scopes_ever_hold_the_same_context()
    {
        var inUse = new ConcurrentDictionary<VardbroDb, bool>(ReferenceEqualityComparer.Instance);
        var shared = 0;
        var workers = Enumerable.Range(0, 8).Select(worker => Task.Run(async () =>
        {
            for (var i = 0; i < 2000; i++)
            {
                await using var scope = factory.Services.CreateAsyncScope();
                var db = scope.ServiceProvider.GetRequiredService<VardbroDb>();
                _ = scope.ServiceProvider.GetRequiredService<EmrConnectors>(); // what a request resolves too
                if (!inUse.TryAdd(db, true))
                {
                    Interlocked.Increment(ref shared);
                }

                await Task.Yield();
                inUse.TryRemove(db, out var _);
            }
        }));
        await Task.WhenAll(workers);
        Assert.Equal(0, shared);
    }
}
