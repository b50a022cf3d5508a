using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using Vardbro.Connectors.Cliniko;
using Vardbro.Tests.Peers;

namespace Vardbro.Connectors.Tests.Contract;

/// <summary>
/// How the Cliniko connector uses the API, against the peer: its rate budget, 429s, retries,
/// failures mapped to Vardbro's outcomes, and the headers and settings Cliniko requires.
/// </summary>
public sealed class ClinikoTransportTests(ClinikoPeerFixture fixture) : IClassFixture<ClinikoPeerFixture>, IAsyncLifetime
{
    private ClinikoPeer Peer => fixture.Peer;

    public async Task InitializeAsync()
    {
        await Peer.ResetAsync();
        await Peer.ClearRequestsAsync();
    }

    public Task DisposeAsync() => Task.CompletedTask;

    private (ClinikoConnector Connector, ClinikoTransport Transport) Open(Dictionary<string, string?>? extra = null, TimeSpan? window = null)
    {
        var transport = ClinikoTransport.Create(ClinikoPeerFixture.Settings(Peer, extra), TimeProvider.System, NullLogger.Instance, window ?? ClinikoTransport.Window);
        return (new ClinikoConnector(transport, fixture.NewStore(), TimeProvider.System, NullLogger.Instance), transport);
    }

    [Fact]
    public async Task A_burst_never_makes_Cliniko_see_more_than_the_budget_and_nothing_is_refused()
    {
        // Cliniko's window (here 2 s instead of 60) opens with the first request it sees; the budget must hold for any such window.
        await Peer.SetRateLimitAsync(10, windowMs: 2000);
        var (connector, transport) = Open(new() { ["RequestsPerMinute"] = "10", ["TimeoutSeconds"] = "30" }, TimeSpan.FromSeconds(2));
        using (transport)
        {
            var watch = Stopwatch.StartNew();
            var units = await Task.WhenAll(Enumerable.Range(0, 35).Select(_ => Task.Run(() => connector.GetCareUnitAsync(ClinikoPeer.Business, default))));
            Assert.All(units, u => Assert.Equal("Vårdcentralen Tolvan", u?.Name));
            var (_, maxCount, rejected) = await Peer.RateLimitAsync();
            Assert.InRange(maxCount, 1, 10);
            Assert.Equal(0, rejected);

            // 35 requests at 10 per 2 s cannot all go at once.
            Assert.True(watch.Elapsed > TimeSpan.FromSeconds(5), $"35 requests took only {watch.Elapsed}.");
        }
    }

    [Fact]
    public async Task A_429_is_waited_out_until_the_documented_reset()
    {
        var (connector, transport) = Open();
        using (transport)
        {
            var reset = TimeProvider.System.GetUtcNow().AddSeconds(2).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
            await Peer.FailAsync(429, count: 1, method: "GET", path: "/v1/businesses", headers: new Dictionary<string, string> { ["X-RateLimit-Reset"] = reset });
            var watch = Stopwatch.StartNew();
            Assert.NotNull(await connector.GetCareUnitAsync(ClinikoPeer.Business, default));
            Assert.True(watch.Elapsed > TimeSpan.FromSeconds(0.9), $"The 429 was not waited out ({watch.Elapsed}).");
            var statuses = (await Peer.RequestsAsync()).Where(r => r.Path.StartsWith("/v1/businesses", StringComparison.Ordinal)).Select(r => r.Status).ToList();
            Assert.Equal([429, 200], statuses);
        }
    }

    [Fact]
    public async Task A_429_whose_reset_is_beyond_the_timeout_is_unavailable_at_once()
    {
        var (connector, transport) = Open(new() { ["TimeoutSeconds"] = "2" });
        using (transport)
        {
            await Peer.FailAsync(429, count: 5, headers: new Dictionary<string, string> { ["Retry-After"] = "30" });
            var watch = Stopwatch.StartNew();
            var error = await Assert.ThrowsAsync<EmrUnavailableException>(() => connector.GetCareUnitAsync(ClinikoPeer.Business, default));
            Assert.False(error.TimedOut);
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(2), "It should not wait for a reset it cannot reach.");

            // And the rest of the EMR's requests wait for that reset too, instead of hammering Cliniko.
            await Assert.ThrowsAsync<EmrUnavailableException>(() => connector.ListCareUnitsAsync(default));
            Assert.Single(await Peer.RequestsAsync());
        }
    }

    [Fact]
    public async Task Reads_are_retried_writes_are_not_and_failures_map_to_vardbro_outcomes()
    {
        var (connector, transport) = Open(new() { ["TimeoutSeconds"] = "2" });
        using (transport)
        {
            await Peer.FailAsync(500, count: 2, method: "GET");
            Assert.NotNull(await connector.GetCareUnitAsync(ClinikoPeer.Business, default));

            await Peer.FailAsync(502, count: 3, method: "GET");
            await Assert.ThrowsAsync<EmrBadAnswerException>(() => connector.GetCareUnitAsync(ClinikoPeer.Business, default));

            await Peer.FailAsync(401, count: 1, method: "GET");
            await Assert.ThrowsAsync<EmrBadAnswerException>(() => connector.ListCareUnitsAsync(default));

            await Peer.ClearRequestsAsync();
            await Peer.FailAsync(500, count: 1, method: "POST", path: "/v1/patients");
            await Assert.ThrowsAsync<EmrBadAnswerException>(() => connector.CreateOrReturnPatientAsync(ClinikoPeer.Business, new NewPatient("Ny", "Patient", null, null, null, [], [], null), default));
            Assert.Single(await Peer.RequestsAsync(), r => r.Method == "POST");

            // 422: Cliniko's messages in emr_error, personal numbers removed.
            await Peer.FailAsync(422, count: 1, method: "POST", path: "/v1/patients", body: JsonNode.Parse("""{"errors": {"old_reference_id": "191212121212 is taken"}, "message": "Validation Failed"}"""));
            var refused = await Assert.ThrowsAsync<VardbroException>(() => connector.CreateOrReturnPatientAsync(ClinikoPeer.Business, new NewPatient("Ny", "Patient", null, null, null, [], [], null), default));
            Assert.Equal(ErrorCodes.BadInput, refused.Errors[0].ErrorCode);
            Assert.Equal("Validation Failed; old_reference_id [redacted] is taken", refused.Errors[0].EmrError);

            await Peer.DelayAsync(3000, count: 1, method: "GET");
            var slow = await Assert.ThrowsAsync<EmrUnavailableException>(() => connector.ListCareUnitsAsync(default));
            Assert.True(slow.TimedOut);

            // The peer still answers the abandoned request later; let it, so it counts in no other test's rate window.
            await Task.Delay(TimeSpan.FromSeconds(1.5));
        }
    }

    [Fact]
    public async Task Every_request_carries_basic_auth_the_user_agent_and_accepts_json()
    {
        var (connector, transport) = Open();
        using (transport)
        {
            await connector.ListResourcesAsync(ClinikoPeer.Business, default);
            var requests = await Peer.RequestsAsync();
            Assert.NotEmpty(requests);
            Assert.All(requests, r => Assert.True(r.AuthValid && r.AcceptJson && r.UserAgent == ClinikoPeer.UserAgent, $"{r.Method} {r.Path}"));
        }
    }

    [Fact]
    public async Task An_unreachable_cliniko_is_unavailable()
    {
        var settings = ClinikoPeerFixture.Settings(Peer, new() { ["BaseUrl"] = "http://127.0.0.1:1/v1", ["ReadRetries"] = "0" });
        using var transport = ClinikoTransport.Create(settings, TimeProvider.System, NullLogger.Instance);
        var connector = new ClinikoConnector(transport, null, TimeProvider.System, NullLogger.Instance);
        var error = await Assert.ThrowsAsync<EmrUnavailableException>(() => connector.ListCareUnitsAsync(default));
        Assert.False(error.TimedOut);
        Assert.False(await connector.IsReachableAsync(default));
    }

    [Theory]
    [InlineData("abc123-uk1", "https://api.uk1.cliniko.com/v1/")]
    [InlineData("abc123-au2", "https://api.au2.cliniko.com/v1/")]
    [InlineData("abc123", "https://api.au1.cliniko.com/v1/")]
    public void The_base_url_follows_the_keys_shard_unless_set(string key, string expected)
    {
        var (settings, problems) = ClinikoSettings.Read("c", k => k switch { "ApiKey" => key, "UserAgent" => "X (x@example.com)", _ => null });
        Assert.Empty(problems);
        Assert.Equal(expected, settings!.BaseUrl.ToString());
        var (set, _) = ClinikoSettings.Read("c", k => k switch { "ApiKey" => key, "UserAgent" => "X (x@example.com)", "BaseUrl" => "https://proxy.example/v1", _ => null });
        Assert.Equal("https://proxy.example/v1/", set!.BaseUrl.ToString());
        Assert.Equal((200, TimeSpan.FromSeconds(10), 2), (settings.RequestsPerMinute, settings.Timeout, settings.ReadRetries));
    }

    [Fact]
    public void A_missing_key_or_user_agent_or_unheld_id_type_is_named()
    {
        var (settings, problems) = ClinikoSettings.Read("cl", k => k == "PatientIdTypes:0" ? "se_personal_number" : null);
        Assert.Null(settings);
        Assert.Contains(problems, p => p.StartsWith("Emrs:cl:ApiKey", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Emrs:cl:UserAgent", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Emrs:cl:PatientIdTypes", StringComparison.Ordinal));
        Assert.DoesNotContain("ApiKey", new ClinikoSettings("c", new Uri("https://x/"), "secret-key", "ua", 1, TimeSpan.FromSeconds(1), 0, new Dictionary<string, string>(), null).ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Paragraph_answers_survive_clinikos_html_rules()
    {
        const string text = "Rad 1 <b>&</b>\nRad 2\tflik";
        var html = ClinikoConnector.ToParagraph(text);
        Assert.DoesNotContain('\n', html);
        Assert.DoesNotContain('\t', html);
        Assert.Equal(text, ClinikoConnector.FromParagraph(html));
        Assert.Equal("a\nb", ClinikoConnector.FromParagraph("<div>a</div><div>b</div>"));
        Assert.Equal("%k%", ClinikoConnector.NamePattern("Åkes"));
        Assert.Null(ClinikoConnector.NamePattern("Östr"));
    }
}
