using Vardbro.Connectors.Fhir;
using Vardbro.Connectors.Tests.Contract;

namespace Vardbro.Connectors.Tests.Fhir;

/// <summary>What only the FHIR connector does: turn schedules into Slots, read its settings, keep personal numbers out of emr_error.</summary>
public sealed class FhirConnectorTests(FhirPeerFixture fixture) : IClassFixture<FhirPeerFixture>, IAsyncLifetime
{
    private const string Unit = "tolvan";
    private const string Erik = "erik-sandberg";

    public Task InitializeAsync() => fixture.Peer.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    private FhirConnector Connector() => new(fixture.Client, fixture.Settings, TimeProvider.System);

    [Fact]
    public async Task A_schedule_becomes_service_length_slots_and_an_overlapping_one_is_refused()
    {
        var connector = Connector();
        var zone = TimeZones.Find("Europe/Stockholm");
        var today = TimeZones.LocalDate(TimeProvider.System.GetUtcNow(), zone);
        var saturday = today.AddDays(2);
        while (saturday.DayOfWeek != DayOfWeek.Saturday)
        {
            saturday = saturday.AddDays(1);
        }

        var start = TimeZones.ToInstant(saturday, new TimeOnly(10, 0), zone);
        var window = new NewSchedule(start, start.AddHours(1), null, ["tolvan-follow-up"]);
        var schedule = await connector.CreateScheduleAsync(Unit, Erik, window, default);
        Assert.Equal(Erik, schedule.ResourceId);

        var slots = await connector.ListTimeslotsAsync(Unit, new TimeslotQuery(start.AddHours(-2), start.AddHours(3), Erik, "tolvan-follow-up"), default);
        Assert.Equal([start, start.AddMinutes(15), start.AddMinutes(30), start.AddMinutes(45)], slots.Select(s => s.Start));
        Assert.All(slots, s => Assert.Equal(("tolvan-follow-up", TimeSpan.FromMinutes(15)), (s.HealthcareServiceId, s.End - s.Start)));

        // The schedule offers only the follow-up service; the general consultation finds nothing there.
        Assert.Empty(await connector.ListTimeslotsAsync(Unit, new TimeslotQuery(start.AddHours(-2), start.AddHours(3), Erik, "tolvan-general"), default));
        var windows = await connector.ListScheduleWindowsAsync(Unit, Erik, start.AddHours(-2), start.AddHours(3), default);
        Assert.Equal((start, start.AddHours(1)), (Assert.Single(windows).Start, windows[0].End));

        var overlap = await Assert.ThrowsAsync<ConflictException>(() => connector.CreateScheduleAsync(Unit, Erik, new NewSchedule(start.AddMinutes(30), start.AddHours(2), null, []), default));
        var unknown = await Assert.ThrowsAsync<VardbroException>(() => connector.CreateScheduleAsync(Unit, Erik, new NewSchedule(start.AddHours(5), start.AddHours(6), null, ["no-such-service"]), default));
        Assert.Equal(ErrorCodes.InvalidHealthcareServiceId, unknown.Errors[0].ErrorCode);
    }

    [Theory]
    [InlineData("Patient 191212121212 exists", "Patient [redacted] exists")]
    [InlineData("id 19121212-1212 and 121212+1212", "id [redacted] and [redacted]")]
    [InlineData("fødselsnummer 26258605879.", "fødselsnummer [redacted].")]
    [InlineData("NHS 943 476 5919 and 9434765919", "NHS [redacted] and [redacted]")]
    [InlineData("Slot version 3 of 2026-11-25 is stale", "Slot version 3 of 2026-11-25 is stale")]
    public void Personal_numbers_are_removed_from_the_servers_messages(string message, string expected) =>
        Assert.Equal(expected, FhirHttp.Redact(message));

    [Fact]
    public void Settings_are_read_with_defaults_and_every_problem_is_named()
    {
        var (settings, problems) = FhirSettings.Read("epic", key => key == "BaseUrl" ? "https://ehr.example/fhir/R4" : null);
        Assert.Empty(problems);
        Assert.Equal(new Uri("https://ehr.example/fhir/R4/"), settings!.BaseUrl);
        Assert.Equal((TimeSpan.FromSeconds(10), 2, true), (settings.Timeout, settings.ReadRetries, settings.ConditionalCreate));

        var bad = new Dictionary<string, string> { ["BaseUrl"] = "ftp://x", ["TimeoutSeconds"] = "0", ["ConditionalCreate"] = "maybe", ["TimeZone"] = "Mars/Olympus" };
        var (none, all) = FhirSettings.Read("epic", key => bad.GetValueOrDefault(key));
        Assert.Null(none);
        Assert.Equal(4, all.Count);
        Assert.Contains(all, p => p.StartsWith("Emrs:epic:BaseUrl", StringComparison.Ordinal));
        Assert.Contains(all, p => p.StartsWith("Emrs:epic:TimeoutSeconds", StringComparison.Ordinal));
        Assert.Contains(FhirSettings.Read("epic", _ => null).Problems, p => p.Contains("BaseUrl is required", StringComparison.Ordinal));
    }
}
