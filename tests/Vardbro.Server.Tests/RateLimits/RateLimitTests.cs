using System.Diagnostics;
using System.Globalization;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Vardbro.Server.Api;
using Vardbro.Server.Tests.Infrastructure;

namespace Vardbro.Server.Tests.RateLimits;

/// <summary>
/// A server with small limits: 6 requests per client at once (refilled at one a minute), 2 at once for
/// the EMR <c>takecare</c>, 3 failed authentications per source address and 2 per client id. The test
/// host takes a request's source address from <c>x-test-address</c>.
/// </summary>
public sealed class RateLimitFactory : VardbroFactory
{
    public const int ClientBurst = 6;
    public const int TakecareBurst = 2;
    public const int FailuresPerAddress = 3;
    public const int FailuresPerClient = 2;
    public const string AddressHeader = "x-test-address";

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureAppConfiguration(c => c.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["RateLimits:PerClient:RequestsPerMinute"] = "1",
            ["RateLimits:PerClient:Burst"] = ClientBurst.ToString(CultureInfo.InvariantCulture),
            ["RateLimits:Emrs:takecare:Burst"] = TakecareBurst.ToString(CultureInfo.InvariantCulture),
            ["RateLimits:FailedAuth:PerAddressPerMinute"] = FailuresPerAddress.ToString(CultureInfo.InvariantCulture),
            ["RateLimits:FailedAuth:PerClientPerMinute"] = FailuresPerClient.ToString(CultureInfo.InvariantCulture),
            ["Telemetry:Prometheus"] = "true",
        }));
        builder.ConfigureServices(s => s.AddSingleton<IStartupFilter, TestAddress>());
    }

    /// <summary>The in-memory test server has no peer address: each request names its own.</summary>
    private sealed class TestAddress : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use((context, nextMiddleware) =>
            {
                if (IPAddress.TryParse(context.Request.Headers[AddressHeader].ToString(), out var address))
                {
                    context.Connection.RemoteIpAddress = address;
                }

                return nextMiddleware(context);
            });
            next(app);
        };
    }
}

/// <summary>
/// Rate limits (API.md §8, docs/api.md "Rate limits"): per client with a per-EMR override, and failed
/// authentication throttled per source address and per client id before the secret is checked. Every
/// test uses clients and addresses of its own, so the tests share the server without sharing a bucket.
/// Buckets refill by real time (the limiter reads the stopwatch, not a TimeProvider), so where a test
/// counts answers it allows the tokens the elapsed time can have refilled: none at all unless the test
/// took longer than the 20 seconds the fastest of these buckets needs for one token.
/// </summary>
public sealed class RateLimitTests(RateLimitFactory factory) : IClassFixture<RateLimitFactory>
{
    private const string BothEmrs = """[{"emr":"webdoc","care_units":["*"]},{"emr":"takecare","care_units":["*"]}]""";

    [Fact]
    public async Task A_burst_over_the_client_limit_gets_429_with_retry_after_in_the_envelope_and_another_client_is_unaffected()
    {
        var (busy, busySecret) = await CreateClientAsync("burst-busy");
        var (calm, calmSecret) = await CreateClientAsync("burst-calm");
        using var busyClient = factory.WithCredentials(busy, busySecret);
        var watch = Stopwatch.StartNew();

        var statuses = new List<HttpStatusCode>();
        HttpResponseMessage? refused = null;
        for (var i = 0; i < RateLimitFactory.ClientBurst + 20 && refused is null; i++)
        {
            var response = await busyClient.GetAsync(new Uri("/api/emrs", UriKind.Relative));
            statuses.Add(response.StatusCode);
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                refused = response;
            }
            else
            {
                response.Dispose();
            }
        }

        Assert.NotNull(refused);
        using (refused)
        {
            var passed = statuses.Count(s => s == HttpStatusCode.OK);
            Assert.Equal(statuses.Count - 1, passed);
            Assert.InRange(passed, RateLimitFactory.ClientBurst, RateLimitFactory.ClientBurst + Refilled(watch.Elapsed, perMinute: 1));
            var problem = await refused.ProblemAsync(HttpStatusCode.TooManyRequests, "RATE_LIMITED");
            Assert.Equal("TOO_MANY_REQUESTS", (string?)problem["code"]);
            Assert.EndsWith("/docs/errors#too_many_requests", (string?)problem["type"], StringComparison.Ordinal);

            // One token a minute: the next one is up to a minute away.
            var retryAfter = int.Parse(Assert.Single(refused.Headers.GetValues("Retry-After")), CultureInfo.InvariantCulture);
            Assert.InRange(retryAfter, 1, 60);
        }

        // The other client has a bucket of its own; the refused one stays refused.
        using var calmClient = factory.WithCredentials(calm, calmSecret);
        for (var i = 0; i < RateLimitFactory.ClientBurst; i++)
        {
            using var response = await calmClient.GetAsync(new Uri("/api/emrs", UriKind.Relative));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        using var again = await busyClient.GetAsync(new Uri("/api/emrs", UriKind.Relative));
        Assert.Equal(HttpStatusCode.TooManyRequests, again.StatusCode);

        // Unauthenticated operations endpoints are not limited per client.
        using var anonymous = factory.CreateClient();
        for (var i = 0; i < RateLimitFactory.ClientBurst * 2; i++)
        {
            using var health = await anonymous.GetAsync(new Uri("/healthz", UriKind.Relative));
            Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        }
    }

    [Fact]
    public async Task An_emr_with_its_own_limit_has_a_bucket_per_client_apart_from_the_clients_other_requests()
    {
        var (first, firstSecret) = await CreateClientAsync("emr-first");
        var (second, secondSecret) = await CreateClientAsync("emr-second");
        using var client = factory.WithCredentials(first, firstSecret);
        var watch = Stopwatch.StartNew();

        var takecare = await CountUntilRefusedAsync(client, "/api/emrs/takecare/care-units");
        Assert.InRange(takecare, RateLimitFactory.TakecareBurst, RateLimitFactory.TakecareBurst + Refilled(watch.Elapsed, perMinute: 1));

        // takecare's requests took nothing from the client's own bucket, which still holds its burst.
        var webdoc = await CountUntilRefusedAsync(client, "/api/emrs/webdoc/care-units");
        Assert.InRange(webdoc, RateLimitFactory.ClientBurst, RateLimitFactory.ClientBurst + Refilled(watch.Elapsed, perMinute: 1));

        // Another client has its own takecare bucket.
        using var other = factory.WithCredentials(second, secondSecret);
        using var response = await other.GetAsync(new Uri("/api/emrs/takecare/care-units", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Wrong_secrets_from_one_address_are_throttled_and_a_refused_request_runs_no_secret_check()
    {
        // Each attempt names another client id, so that only the address's allowance is used up.
        // Addresses in one IPv6 /64 share it; another /64 has its own.
        var hasher = factory.Services.GetRequiredService<SecretHasher>();
        var checksBefore = hasher.Verifications;
        var watch = Stopwatch.StartNew();
        var answers = new List<HttpStatusCode>();
        for (var i = 0; i < 20; i++)
        {
            answers.Add(await StatusAsync($"2001:db8:1::{i + 1:x}", $"cli_nobody_{i}", "sec_wrong"));
        }

        var checks = hasher.Verifications - checksBefore;
        var failed = answers.Count(s => s == HttpStatusCode.Unauthorized);
        var throttled = answers.Count(s => s == HttpStatusCode.TooManyRequests);
        Assert.Equal(answers.Count, failed + throttled);
        Assert.InRange(failed, RateLimitFactory.FailuresPerAddress, RateLimitFactory.FailuresPerAddress + Refilled(watch.Elapsed, RateLimitFactory.FailuresPerAddress));
        Assert.True(answers.Take(RateLimitFactory.FailuresPerAddress).All(s => s == HttpStatusCode.Unauthorized), string.Join(", ", answers));

        // Exactly one secret check per 401; none for any 429.
        Assert.Equal(failed, checks);

        // The address is refused even with good credentials; the envelope says why and when to retry.
        using var refused = await SendAsync("2001:db8:1::ffff", VardbroFactory.SandboxClientId, VardbroFactory.SandboxSecret);
        await refused.ProblemAsync(HttpStatusCode.TooManyRequests, "RATE_LIMITED");
        Assert.InRange(int.Parse(Assert.Single(refused.Headers.GetValues("Retry-After")), CultureInfo.InvariantCulture), 1, 60);
        Assert.Equal(checks, hasher.Verifications - checksBefore);

        // Another address, and the same address's health endpoint, are unaffected.
        Assert.Equal(HttpStatusCode.OK, await StatusAsync("2001:db8:2::1", VardbroFactory.SandboxClientId, VardbroFactory.SandboxSecret));
        Assert.Equal(HttpStatusCode.Unauthorized, await StatusAsync("192.0.2.7", "cli_nobody_x", "sec_wrong"));
        using var health = await SendAsync("2001:db8:1::1", null, null, "/healthz");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }

    [Fact]
    public async Task Wrong_secrets_for_one_client_id_are_throttled_from_any_address_and_a_refused_request_runs_no_secret_check()
    {
        var (target, targetSecret) = await CreateClientAsync("target");
        var (bystander, bystanderSecret) = await CreateClientAsync("bystander");
        var hasher = factory.Services.GetRequiredService<SecretHasher>();
        var checksBefore = hasher.Verifications;
        var watch = Stopwatch.StartNew();

        // Every attempt from another address, so that only the client id's allowance is used up.
        var answers = new List<HttpStatusCode>();
        for (var i = 0; i < 20; i++)
        {
            answers.Add(await StatusAsync($"198.51.100.{i + 1}", target, "sec_wrong"));
        }

        var checks = hasher.Verifications - checksBefore;
        var failed = answers.Count(s => s == HttpStatusCode.Unauthorized);
        Assert.Equal(answers.Count, failed + answers.Count(s => s == HttpStatusCode.TooManyRequests));
        Assert.InRange(failed, RateLimitFactory.FailuresPerClient, RateLimitFactory.FailuresPerClient + Refilled(watch.Elapsed, RateLimitFactory.FailuresPerClient));
        Assert.Equal(failed, checks);

        // The client id is refused unchecked, even with its right secret from a fresh address ...
        using var refused = await SendAsync("198.51.100.200", target, targetSecret);
        await refused.ProblemAsync(HttpStatusCode.TooManyRequests, "RATE_LIMITED");
        Assert.Equal(checks, hasher.Verifications - checksBefore);

        // ... while another client id from that address is served.
        Assert.Equal(HttpStatusCode.OK, await StatusAsync("198.51.100.200", bystander, bystanderSecret));
    }

    [Fact]
    public async Task Successful_requests_use_none_of_the_failed_authentication_allowance()
    {
        var (id, secret) = await CreateClientAsync("successful");
        const string address = "203.0.113.9";
        var watch = Stopwatch.StartNew();

        // More successes than either failure allowance holds (and the client's whole request burst).
        for (var i = 0; i < RateLimitFactory.ClientBurst; i++)
        {
            Assert.Equal(HttpStatusCode.OK, await StatusAsync(address, id, secret));
        }

        // The client id's allowance (the smaller) is still whole: its failures are each checked.
        for (var i = 0; i < RateLimitFactory.FailuresPerClient; i++)
        {
            Assert.Equal(HttpStatusCode.Unauthorized, await StatusAsync(address, id, "sec_wrong"));
        }

        if (Refilled(watch.Elapsed, RateLimitFactory.FailuresPerClient) == 0)
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, await StatusAsync(address, id, "sec_wrong"));
        }

        // The address had the same successes and the client id's failures: one failure is left to it.
        Assert.Equal(HttpStatusCode.Unauthorized, await StatusAsync(address, "cli_nobody_else", "sec_wrong"));
    }

    [Fact]
    public async Task The_metrics_count_failed_and_throttled_authentications_and_the_limiters_refusals()
    {
        const string address = "192.0.2.200";
        for (var i = 0; i <= RateLimitFactory.FailuresPerAddress; i++)
        {
            await StatusAsync(address, $"cli_metrics_{i}", "sec_wrong");
        }

        var (id, secret) = await CreateClientAsync("metrics");
        using var client = factory.WithCredentials(id, secret);
        await CountUntilRefusedAsync(client, "/api/emrs");

        using var scrape = factory.CreateClient();
        var metrics = await scrape.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        Assert.Matches("""vardbro_auth_failures_total\{[^}]*vardbro_outcome="failed"[^}]*\} [1-9]""", metrics);
        Assert.Matches("""vardbro_auth_failures_total\{[^}]*vardbro_outcome="throttled"[^}]*\} [1-9]""", metrics);
        Assert.Matches("""aspnetcore_rate_limiting_requests_total\{[^}]*aspnetcore_rate_limiting_result="global_limiter"[^}]*\} [1-9]""", metrics);
    }

    /// <summary>The most whole tokens a bucket refilling <paramref name="perMinute"/> a minute can have regained in <paramref name="elapsed"/>.</summary>
    private static int Refilled(TimeSpan elapsed, int perMinute) => (int)(elapsed.TotalMinutes * perMinute) + (elapsed.TotalMinutes * perMinute >= 1 ? 1 : 0);

    private static async Task<int> CountUntilRefusedAsync(HttpClient client, string url)
    {
        for (var served = 0; served < 100; served++)
        {
            using var response = await client.GetAsync(new Uri(url, UriKind.Relative));
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                await response.ProblemAsync(HttpStatusCode.TooManyRequests, "RATE_LIMITED");
                return served;
            }

            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        throw new InvalidOperationException($"{url} was never refused.");
    }

    private async Task<HttpStatusCode> StatusAsync(string address, string id, string secret)
    {
        using var response = await SendAsync(address, id, secret);
        return response.StatusCode;
    }

    private async Task<HttpResponseMessage> SendAsync(string address, string? id, string? secret, string url = "/api/emrs")
    {
        using var client = factory.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(url, UriKind.Relative));
        request.Headers.Add(RateLimitFactory.AddressHeader, address);
        if (id is not null && secret is not null)
        {
            request.Headers.Add("x-leyr-client-id", id);
            request.Headers.Add("x-leyr-client-secret", secret);
        }

        return await client.SendAsync(request);
    }

    private async Task<(string Id, string Secret)> CreateClientAsync(string name)
    {
        using var admin = factory.Admin();
        var created = await admin.PostJsonAsync("/api/admin/clients", $$"""{"name":"{{name}}","grants":{{BothEmrs}}}""", HttpStatusCode.Created);
        return ((string)created["client_id"]!, (string)created["client_secret"]!);
    }
}
