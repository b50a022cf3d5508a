using System.Diagnostics;
using System.Net;
using Vardbro.Server.Tests.Infrastructure;
using Vardbro.Tests.Peers;

namespace Vardbro.Server.Tests.Fhir;

/// <summary>
/// What the FHIR server's failures become (API.md §4): reads retried, writes sent once, time limits
/// kept, every failure in the error envelope.
/// </summary>
public sealed class FhirFailureTests(FhirEmrFixture fixture) : IClassFixture<FhirEmrFixture>, IAsyncLifetime
{
    private const string Unit = FhirEmrFactory.Unit;
    private const string Tolvan = Unit + "/patients/se_personal_number:191212121212";

    public Task InitializeAsync() => fixture.Peer.ResetAsync();

    public Task DisposeAsync() => fixture.Peer.ClearFaultsAsync();

    [Fact]
    public async Task A_read_answered_500_once_is_retried_and_succeeds()
    {
        using var client = fixture.Factory.Sandbox();
        await client.GetJsonAsync(Tolvan); // care unit and patient once, so the log below is only the retried read
        await fixture.Peer.ClearRequestsAsync();
        await fixture.Peer.FailAsync("GET", 500, 1);

        var patient = await client.GetJsonAsync(Tolvan);
        Assert.Equal(FhirPeer.Tolvan, (string)patient["emr_id"]!);
        var log = await fixture.Peer.RequestsAsync();
        var failed = Assert.Single(log, r => r.Status == 500);
        Assert.Single(log, r => r.Url == failed.Url && r.Status == 200);
    }

    [Fact]
    public async Task Reads_answered_500_every_time_are_retried_then_502()
    {
        using var client = fixture.Factory.Sandbox();
        await fixture.Peer.ClearRequestsAsync();
        await fixture.Peer.FailAsync("GET", 500, 100);

        await client.GetProblemAsync(Tolvan, HttpStatusCode.BadGateway, "EMR_ERROR");
        var log = await fixture.Peer.RequestsAsync();
        Assert.Equal(3, log.Count); // the first read and its two retries (Emrs:webdoc:ReadRetries = 2)
        Assert.All(log, r => Assert.Equal("GET", r.Method));
    }

    [Fact]
    public async Task A_slow_server_gives_504_within_the_configured_time()
    {
        using var client = fixture.Factory.Sandbox();
        await fixture.Peer.DelayAsync(30_000, 20);
        var clock = Stopwatch.StartNew();
        var problem = await client.GetProblemAsync(Tolvan, (HttpStatusCode)504, "EMR_ERROR");
        clock.Stop();

        // Emrs:webdoc:TimeoutSeconds = 2 covers a call with its retries; the peer would answer after 30 s.
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"took {clock.Elapsed}");
        Assert.Equal(504, (int)problem["status"]!);
    }

    [Fact]
    public async Task A_refusal_by_the_server_is_400_with_its_reason_in_emr_error()
    {
        using var client = fixture.Factory.Sandbox();
        await fixture.Peer.FailAsync("POST", 422, 1);
        var body = new { first_name = "Elin", last_name = "Sjöberg", external_id = "se_personal_number:198702072391" };
        var problem = await client.PostProblemAsync($"{Unit}/patients", body, HttpStatusCode.BadRequest, "BAD_INPUT");
        Assert.False(string.IsNullOrEmpty((string?)problem["errors"]![0]!["emr_error"]));
    }

    [Fact]
    public async Task A_booking_whose_slot_update_fails_is_sent_once_and_creates_nothing()
    {
        using var client = fixture.Factory.Sandbox();
        var slot = (await client.GetJsonAsync($"{Unit}/timeslots?resource_id={FhirPeer.Anna}")).AsArray()[0]!;
        var booking = new { start = (string)slot["start"]!, end = (string)slot["end"]!, patient_id = "se_personal_number:191212121212", resource_id = FhirPeer.Anna };
        await fixture.Peer.ClearRequestsAsync();
        await fixture.Peer.FailAsync("PUT", 500, 1);

        await client.PostProblemAsync($"{Unit}/appointments", booking, HttpStatusCode.BadGateway, "EMR_ERROR");
        var log = await fixture.Peer.RequestsAsync();
        Assert.Single(log, r => r.Method == "PUT");
        Assert.DoesNotContain(log, r => r.Method == "POST");

        // Nothing was held: the same booking goes through now.
        await client.PostJsonAsync($"{Unit}/appointments", booking, HttpStatusCode.Created);
    }

    [Fact]
    public async Task A_booking_whose_appointment_create_fails_is_sent_once_and_frees_the_slot()
    {
        using var client = fixture.Factory.Sandbox();
        var slotsUrl = $"{Unit}/timeslots?resource_id={FhirPeer.Anna}";
        var slot = (await client.GetJsonAsync(slotsUrl)).AsArray()[1]!;
        var booking = new { start = (string)slot["start"]!, end = (string)slot["end"]!, patient_id = "se_personal_number:191212121212", resource_id = FhirPeer.Anna };
        await fixture.Peer.ClearRequestsAsync();
        await fixture.Peer.FailAsync("POST", 500, 1);

        await client.PostProblemAsync($"{Unit}/appointments", booking, HttpStatusCode.BadGateway, "EMR_ERROR");
        var log = await fixture.Peer.RequestsAsync();
        Assert.Single(log, r => r.Method == "POST" && r.Url.Contains("/Appointment", StringComparison.Ordinal));
        Assert.Equal(2, log.Count(r => r.Method == "PUT" && r.Url.Contains("/Slot/", StringComparison.Ordinal))); // held, then freed
        Assert.Contains((await client.GetJsonAsync(slotsUrl)).AsArray(), s => (string)s!["start"]! == (string)slot["start"]!);
        Assert.Empty((await client.GetJsonAsync($"{Unit}/appointments?patient_id=se_personal_number:191212121212")).AsArray());
    }
}

/// <summary>A FHIR server that is not there at all.</summary>
public sealed class FhirServerDownTests(FhirEmrFixture fixture) : IClassFixture<FhirEmrFixture>
{
    [Fact]
    public async Task A_stopped_server_gives_503_in_the_envelope_without_hanging()
    {
        using var client = fixture.Factory.Sandbox();
        await client.GetJsonAsync($"{FhirEmrFactory.Unit}/patients/se_personal_number:191212121212");
        await fixture.Peer.StopAsync();

        var clock = Stopwatch.StartNew();
        var problem = await client.GetProblemAsync($"{FhirEmrFactory.Unit}/patients/se_personal_number:191212121212", HttpStatusCode.ServiceUnavailable, "SERVICE_UNAVAILABLE");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"took {clock.Elapsed}");
        Assert.Equal("SERVICE_UNAVAILABLE", (string)problem["code"]!);

        // The instance still serves its other EMRs: readiness stays 200, this back end's check is degraded.
        var ready = await client.GetJsonAsync("/readyz");
        Assert.Equal("Degraded", (string?)ready["status"]);
        var webdoc = ready["checks"]!.AsArray().Single(c => (string?)c!["name"] == "emr:webdoc")!;
        Assert.Equal("Degraded", (string?)webdoc["status"]);
    }
}
