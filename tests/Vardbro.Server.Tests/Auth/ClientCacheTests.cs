using System.Net;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Vardbro.Server.Api;
using Vardbro.Server.Tests.Appointments;
using Vardbro.Server.Tests.Infrastructure;

namespace Vardbro.Server.Tests.Auth;

/// <summary>
/// A client's row is read once per verified secret and <see cref="VerifiedSecretCache.Lifetime"/>:
/// changes made through another instance (here: straight in the database) take effect within it,
/// changes made through this instance's admin API at once, and a secret this instance has not
/// verified is always checked against the row as stored.
/// </summary>
public sealed class ClientCacheTests(FakeClockFactory factory) : IClassFixture<FakeClockFactory>
{
    private const string Clients = "/api/admin/clients";

    /// <summary>A new client that has made one request, so its row was read for its secret.</summary>
    private async Task<(string Id, HttpClient Client)> VerifiedClientAsync(string name)
    {
        using var admin = factory.Admin();
        var created = await admin.PostJsonAsync(Clients, $$"""{"name":"{{name}}","grants":[{"emr":"webdoc","care_units":["*"]}]}""", HttpStatusCode.Created);
        var client = factory.WithCredentials((string)created["client_id"]!, (string)created["client_secret"]!);
        await client.GetJsonAsync("/api/emrs");
        return ((string)created["client_id"]!, client);
    }

    private Task<int> RevokeInTheDatabaseAsync(string id) =>
        factory.WithDbAsync(db => db.Clients.Where(c => c.Id == id)
            .ExecuteUpdateAsync(c => c.SetProperty(x => x.RevokedAt, factory.Time.GetUtcNow()).SetProperty(x => x.SecretStamp, "changed-elsewhere")));

    [Fact]
    public async Task A_revocation_made_through_another_instance_takes_effect_within_the_lifetime()
    {
        var (id, client) = await VerifiedClientAsync("cache-elsewhere");
        using var _ = client;

        await RevokeInTheDatabaseAsync(id);

        // Still within the lifetime of the row read for this secret: served from it.
        factory.Time.Advance(VerifiedSecretCache.Lifetime - TimeSpan.FromMilliseconds(10));
        await client.GetJsonAsync("/api/emrs");

        factory.Time.Advance(TimeSpan.FromMilliseconds(10));
        await client.GetProblemAsync("/api/emrs", HttpStatusCode.Unauthorized, "UNAUTHORIZED");
    }

    [Fact]
    public async Task A_revocation_through_this_instance_refuses_the_next_request_even_within_the_lifetime()
    {
        var (id, client) = await VerifiedClientAsync("cache-here");
        using var _ = client;

        using var admin = factory.Admin();
        using (var deleted = await admin.DeleteAsync(new Uri($"{Clients}/{id}", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        }

        await client.GetProblemAsync("/api/emrs", HttpStatusCode.Unauthorized, "UNAUTHORIZED");
    }

    [Fact]
    public async Task A_secret_rotated_through_another_instance_works_at_once_while_the_old_one_lapses_within_the_lifetime()
    {
        var (id, client) = await VerifiedClientAsync("cache-rotated-elsewhere");
        using var _ = client;

        // Another instance rotates: the row now holds the hash of a new secret.
        var rotated = Secrets.NewSecret();
        var hash = factory.Services.GetRequiredService<SecretHasher>().Hash(rotated);
        await factory.WithDbAsync(db => db.Clients.Where(c => c.Id == id)
            .ExecuteUpdateAsync(c => c.SetProperty(x => x.SecretHash, hash).SetProperty(x => x.SecretStamp, Secrets.NewStamp())));

        // A secret this instance has not verified is checked against the row as stored, so the new one works at once.
        using var renewed = factory.WithCredentials(id, rotated);
        await renewed.GetJsonAsync("/api/emrs");

        // The new secret's row replaced the old secret's entry: the old secret is checked against it and refused.
        await client.GetProblemAsync("/api/emrs", HttpStatusCode.Unauthorized, "UNAUTHORIZED");
        factory.Time.Advance(VerifiedSecretCache.Lifetime);
        await client.GetProblemAsync("/api/emrs", HttpStatusCode.Unauthorized, "UNAUTHORIZED");
        await renewed.GetJsonAsync("/api/emrs");
    }
}
