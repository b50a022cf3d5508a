using System.Net;
using Microsoft.AspNetCore.Hosting;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Vardbro.Connectors;
using Vardbro.Server.Idempotency;
using Vardbro.Server.Tests.Infrastructure;
using Vardbro.Server.Tests.Telemetry;

namespace Vardbro.Server.Tests.Idempotency;

/// <summary>A key held by a concurrent request, or reused with another body, is an expected outcome: nothing is logged as a failure.</summary>
public sealed class IdempotencyConflictLogTests(VardbroFactory factory) : IClassFixture<VardbroFactory>
{
    private const string Patients = "/api/emrs/webdoc/care-units/L0_1/patients";

    [Fact]
    public async Task Concurrent_requests_with_one_key_and_a_reused_key_log_no_failure_and_store_no_raw_key()
    {
        var logs = new LogCapture();
        await using var app = factory.WithWebHostBuilder(b =>
        {
            b.ConfigureAppConfiguration(c => c.AddInMemoryCollection(new Dictionary<string, string?> { ["Logging:LogLevel:Default"] = "Information", ["Logging:LogLevel:Microsoft"] = "Information", ["Logging:LogLevel:Microsoft.AspNetCore"] = "Information", ["Logging:LogLevel:Microsoft.EntityFrameworkCore"] = "Information", ["Logging:LogLevel:Vardbro.Requests"] = "Information" }));
            b.ConfigureLogging(l => l.AddProvider(logs));
        });
        var key = "conflict-" + Guid.NewGuid();
        var number = SwedishPersonalNumber.Generate(new Random(77), new DateOnly(1990, 1, 1));
        var body = $$"""{"first_name":"Kim","last_name":"Samtidig","external_id":"{{number}}"}""";
        var clients = Enumerable.Range(0, 12).Select(_ => app.Sandbox()).ToList();
        var fromStart = logs.Entries.Count; // what the start logged (the sandbox's warning) is not these requests'
        try
        {
            using var gate = new ManualResetEventSlim(false);
            var posts = clients.Select(c => Task.Run(async () =>
            {
                gate.Wait();
                using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(Patients, UriKind.Relative)) { Content = JsonContent.Of(body) };
                request.Headers.Add(IdempotencyMiddleware.HeaderName, key);
                using var response = await c.SendAsync(request);
                return response.StatusCode;
            })).ToList();
            gate.Set();
            var statuses = await Task.WhenAll(posts);
            Assert.All(statuses, s => Assert.Equal(HttpStatusCode.Created, s));

            using var reuse = new HttpRequestMessage(HttpMethod.Post, new Uri(Patients, UriKind.Relative)) { Content = JsonContent.Of(body.Replace("Kim", "Kimmo", StringComparison.Ordinal)) };
            reuse.Headers.Add(IdempotencyMiddleware.HeaderName, key);
            using var refused = await clients[0].SendAsync(reuse);
            Assert.Equal((HttpStatusCode)422, refused.StatusCode);
        }
        finally
        {
            clients.ForEach(c => c.Dispose());
        }

        var entries = logs.Entries.Skip(fromStart).ToList();
        Assert.NotEmpty(entries);
        Assert.DoesNotContain(entries, e => e.StartsWith("Error", StringComparison.Ordinal) || e.StartsWith("Critical", StringComparison.Ordinal) || e.StartsWith("Warning", StringComparison.Ordinal));
        Assert.DoesNotContain(entries, e => e.Contains("Exception", StringComparison.Ordinal));
        Assert.DoesNotContain(entries, e => e.Contains(key, StringComparison.Ordinal));
        var keys = await factory.WithDbAsync(db => db.IdempotencyRecords.AsNoTracking().Select(r => r.Key).ToListAsync());
        Assert.Contains(IdempotencyStore.Stored(key), keys);
        Assert.DoesNotContain(key, keys);
    }
}
