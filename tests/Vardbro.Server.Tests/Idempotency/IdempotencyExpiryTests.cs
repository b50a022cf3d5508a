using System.Net;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Vardbro.Connectors;
using Vardbro.Server.Idempotency;
using Vardbro.Server.Storage;
using Vardbro.Server.Tests.Infrastructure;

namespace Vardbro.Server.Tests.Idempotency;

/// <summary>The sandbox server on a clock the tests move.</summary>
public sealed class ClockedFactory : VardbroFactory
{
    protected override bool UseFakeTime => true;
}

public sealed class IdempotencyExpiryTests(ClockedFactory factory) : IClassFixture<ClockedFactory>
{
    private const string Patients = "/api/emrs/webdoc/care-units/L0_1/patients";

    private static async Task<(HttpStatusCode Status, bool Replayed)> PostAsync(HttpClient client, string body, string key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(Patients, UriKind.Relative)) { Content = JsonContent.Of(body) };
        request.Headers.Add(IdempotencyMiddleware.HeaderName, key);
        using var response = await client.SendAsync(request);
        return (response.StatusCode, response.Headers.Contains(IdempotencyMiddleware.ReplayedHeader));
    }

    [Fact]
    public async Task A_record_older_than_24_hours_counts_as_absent()
    {
        using var client = factory.Sandbox();
        var key = Guid.NewGuid().ToString();
        var number = SwedishPersonalNumber.Generate(new Random(42), new DateOnly(1980, 5, 5));
        var body = $$"""{"first_name":"Olle","last_name":"Gammal","external_id":"{{number}}"}""";

        Assert.Equal((HttpStatusCode.Created, false), await PostAsync(client, body, key));
        factory.Time.Advance(TimeSpan.FromHours(23));
        Assert.Equal((HttpStatusCode.Created, true), await PostAsync(client, body, key));

        // Past 24 hours the key is free again: the request runs (the patient exists now, so 200)...
        factory.Time.Advance(TimeSpan.FromHours(2));
        Assert.Equal((HttpStatusCode.OK, false), await PostAsync(client, body, key));

        // ...and its response is the one replayed from now on; even another body was accepted.
        Assert.Equal((HttpStatusCode.OK, true), await PostAsync(client, body, key));
        factory.Time.Advance(TimeSpan.FromHours(25));
        var other = $$"""{"first_name":"Olle","last_name":"Gammal","external_id":"{{SwedishPersonalNumber.Generate(new Random(43), new DateOnly(1981, 6, 6))}}"}""";
        Assert.Equal((HttpStatusCode.Created, false), await PostAsync(client, other, key));
    }

    [Fact]
    public async Task Records_older_than_24_hours_are_purged()
    {
        var now = factory.Time.GetUtcNow();
        await factory.WithDbAsync(async db =>
        {
            db.IdempotencyRecords.Add(Row("purge-old", now - TimeSpan.FromHours(25)));
            db.IdempotencyRecords.Add(Row("purge-fresh", now - TimeSpan.FromHours(23)));
            return await db.SaveChangesAsync();
        });

        // The purger runs every ten minutes of the server's clock.
        factory.Time.Advance(IdempotencyPurger.Interval);
        var keys = new List<string>();
        for (var i = 0; i < 100; i++)
        {
            keys = await factory.WithDbAsync(db => db.IdempotencyRecords.AsNoTracking().Where(r => r.Key.StartsWith("purge-")).Select(r => r.Key).ToListAsync());
            if (!keys.Contains("purge-old"))
            {
                break;
            }

            await Task.Delay(50);
        }

        Assert.Equal(["purge-fresh"], keys);

        // The store's purge, as the purger calls it, with a cutoff two hours later.
        var store = factory.Services.GetRequiredService<IdempotencyStore>();
        Assert.True(await store.PurgeAsync(now + TimeSpan.FromHours(2) - IdempotencyMiddleware.Retention, CancellationToken.None) >= 1);
        Assert.False(await factory.WithDbAsync(db => db.IdempotencyRecords.AnyAsync(r => r.Key == "purge-fresh")));
    }

    private static IdempotencyRow Row(string key, DateTimeOffset createdAt) => new()
    {
        ClientId = VardbroFactory.SandboxClientId,
        Key = key,
        RequestHash = RequestFingerprint.Of("POST", "/api/x", Encoding.UTF8.GetBytes("{}")),
        StatusCode = 200,
        ContentType = "application/json",
        Body = Encoding.UTF8.GetBytes("{}"),
        CreatedAt = createdAt.ToUniversalTime(),
    };
}
