using System.Net;
using Vardbro.Server.Tests.Infrastructure;
using Vardbro.Tests.Peers;

namespace Vardbro.Server.Tests.Cliniko;

/// <summary>The EMR's Cliniko budget held by the whole server: a burst of API calls never makes Cliniko refuse one.</summary>
public sealed class ClinikoRateLimitTests : IAsyncLifetime
{
    private const int Budget = 20;
    private ClinikoPeer Peer { get; set; } = null!;
    private ClinikoEmrFactory Factory { get; set; } = null!;

    public async Task InitializeAsync()
    {
        Peer = await ClinikoPeer.StartAsync();
        await Peer.SetRateLimitAsync(Budget);
        Factory = new ClinikoEmrFactory(Peer, new Dictionary<string, string?>
        {
            ["Emrs:webdoc:RequestsPerMinute"] = Budget.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Emrs:webdoc:TimeoutSeconds"] = "3",
        });
    }

    public async Task DisposeAsync()
    {
        await Factory.DisposeAsync();
        await Peer.DisposeAsync();
    }

    [Fact]
    public async Task A_burst_beyond_the_budget_is_held_back_and_what_cannot_wait_is_503()
    {
        using var client = Factory.Sandbox();

        // Four clients at a time, sixteen calls, each several Cliniko requests: more than the budget.
        using var clients = new SemaphoreSlim(4);
        var statuses = await Task.WhenAll(Enumerable.Range(0, 16).Select(async _ =>
        {
            await clients.WaitAsync();
            try
            {
                using var response = await client.GetAsync(new Uri($"{ClinikoEmrFactory.Unit}/resources", UriKind.Relative));
                if (response.StatusCode != HttpStatusCode.OK)
                {
                    await response.ProblemAsync(HttpStatusCode.ServiceUnavailable);
                }

                return response.StatusCode;
            }
            finally
            {
                clients.Release();
            }
        }));

        var (_, maxCount, rejected) = await Peer.RateLimitAsync();
        Assert.InRange(maxCount, Budget / 2, Budget);
        Assert.Equal(0, rejected);
        Assert.Contains(HttpStatusCode.OK, statuses);
        Assert.Contains(HttpStatusCode.ServiceUnavailable, statuses);
    }

    [Fact]
    public async Task A_429_from_cliniko_is_waited_out()
    {
        using var client = Factory.Sandbox();
        var reset = TimeProvider.System.GetUtcNow().AddSeconds(2).ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture);
        await Peer.FailAsync(429, count: 1, method: "GET", headers: new Dictionary<string, string> { ["X-RateLimit-Reset"] = reset });
        var units = (await client.GetJsonAsync("/api/emrs/webdoc/care-units")).AsArray();
        Assert.Single(units);
        Assert.Contains(await Peer.RequestsAsync(), r => r.Status == 429);
    }
}
