using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Vardbro.Server.Tests.Infrastructure;

namespace Vardbro.Server.Tests.Health;

/// <summary>
/// The sandbox's two built-in EMRs beside FHIR EMRs whose servers are not there: one at a closed port
/// (refused at once), several at a port that takes the connection and never answers.
/// </summary>
public sealed class BackEndsDownFactory : VardbroFactory
{
    public const int Silent = 4;

    // Accepted by the kernel's backlog and never read: a request sent there waits for ever.
    private readonly TcpListener silent = new(IPAddress.Loopback, 0);

    public BackEndsDownFactory() => silent.Start();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        var silentPort = ((IPEndPoint)silent.LocalEndpoint).Port;
        var settings = new Dictionary<string, string?>
        {
            ["Health:EmrTimeoutSeconds"] = "1",
            ["Emrs:down:Connector"] = "fhir",
            ["Emrs:down:BaseUrl"] = $"http://127.0.0.1:{ClosedPort()}/fhir",
        };
        for (var i = 0; i < Silent; i++)
        {
            settings[$"Emrs:silent{i}:Connector"] = "fhir";
            settings[$"Emrs:silent{i}:BaseUrl"] = $"http://127.0.0.1:{silentPort}/fhir";
            settings[$"Emrs:silent{i}:TimeoutSeconds"] = "60"; // the health check's own limit is what ends the wait
        }

        builder.ConfigureAppConfiguration(c => c.AddInMemoryCollection(settings));
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing)
        {
            silent.Dispose();
        }
    }

    private static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>
/// <c>/healthz</c> and <c>/readyz</c> from the standard health checks (ADR 7): readiness is the
/// database; every EMR back end is a check of its own, limited in time, and at worst degraded.
/// </summary>
public sealed class HealthCheckTests(BackEndsDownFactory factory) : IClassFixture<BackEndsDownFactory>
{
    [Fact]
    public async Task Liveness_runs_no_check_and_needs_no_credentials()
    {
        using var client = factory.CreateClient();
        using var response = await client.GetAsync(new Uri("/healthz", UriKind.Relative));
        var body = await response.JsonAsync(HttpStatusCode.OK);
        Assert.Equal("Healthy", (string?)body["status"]);
        Assert.Empty(body["checks"]!.AsArray());
        Assert.Equal("no-store", response.Headers.CacheControl?.ToString());
    }

    [Fact]
    public async Task One_EMR_back_end_down_is_degraded_and_readiness_stays_200()
    {
        using var client = factory.CreateClient();
        var body = await client.GetJsonAsync("/readyz");

        Assert.Equal("Degraded", (string?)body["status"]);
        var checks = Checks(body);
        Assert.Equal("Healthy", (string?)checks["database"]["status"]);
        Assert.Equal("Healthy", (string?)checks["emr:webdoc"]["status"]);
        Assert.Equal("Healthy", (string?)checks["emr:takecare"]["status"]);
        Assert.Equal("Degraded", (string?)checks["emr:down"]["status"]);

        // The failure's own text (which names the back end's host) stays in the log.
        Assert.DoesNotContain("127.0.0.1", body.ToJsonString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Checks_run_at_the_same_time_each_within_its_time_limit()
    {
        using var client = factory.CreateClient();
        var clock = Stopwatch.StartNew();
        var body = await client.GetJsonAsync("/readyz");
        clock.Stop();

        var checks = Checks(body);
        for (var i = 0; i < BackEndsDownFactory.Silent; i++)
        {
            var check = checks[$"emr:silent{i}"];
            Assert.Equal("Degraded", (string?)check["status"]);
            Assert.Equal("No answer within the check's time limit.", (string?)check["description"]);
            Assert.True((double)check["duration_ms"]! >= 900, $"emr:silent{i} took {check["duration_ms"]} ms");
        }

        // Four checks of 1 s each, one after another, would take 4 s at least.
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(3.5), $"/readyz took {clock.Elapsed}");
    }

    private static Dictionary<string, JsonNode> Checks(JsonNode body) =>
        body["checks"]!.AsArray().ToDictionary(c => (string)c!["name"]!, c => c!);
}
