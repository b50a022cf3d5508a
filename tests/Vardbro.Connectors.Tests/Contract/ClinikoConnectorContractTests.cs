using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using Vardbro.Connectors.Cliniko;
using Vardbro.Storage;
using Vardbro.Tests.Peers;

namespace Vardbro.Connectors.Tests.Contract;

/// <summary>One Cliniko peer for the class, and the transport (rate gate included) every connector of the class shares.</summary>
public sealed class ClinikoPeerFixture : IAsyncLifetime
{
    private readonly LockStoreFile locks = new();

    public ClinikoPeer Peer { get; private set; } = null!;

    public ClinikoTransport Transport { get; private set; } = null!;

    public static ClinikoSettings Settings(ClinikoPeer peer, Dictionary<string, string?>? extra = null)
    {
        ArgumentNullException.ThrowIfNull(peer);
        var values = new Dictionary<string, string?>
        {
            ["ApiKey"] = ClinikoPeer.ApiKey,
            ["UserAgent"] = ClinikoPeer.UserAgent,
            ["BaseUrl"] = peer.BaseUrl,
            ["TimeoutSeconds"] = "10",
            ["NoteTemplates:leyr_unstructured"] = ClinikoPeer.StandardTemplate,
            ["NoteTemplates:leyr_acute_visit"] = ClinikoPeer.FollowUpTemplate,
            ["PatientIdFields:se_personal_number"] = "old_reference_id",
        };
        foreach (var (key, value) in extra ?? new Dictionary<string, string?>())
        {
            values[key] = value;
        }

        var (settings, problems) = ClinikoSettings.Read("cliniko", key => values.GetValueOrDefault(key));
        return settings ?? throw new InvalidOperationException(string.Join(" ", problems));
    }

    public async Task InitializeAsync()
    {
        Peer = await ClinikoPeer.StartAsync();

        // The contract is about behaviour, not the rate limit: both sides get a budget no test reaches.
        Transport = ClinikoTransport.Create(Settings(Peer, new Dictionary<string, string?> { ["RequestsPerMinute"] = "100000" }), TimeProvider.System, NullLogger.Instance);
    }

    public async Task DisposeAsync()
    {
        Transport.Dispose();
        await Peer.DisposeAsync();
        locks.Delete();
    }

    /// <summary>A store like the server's on SQLite, with no tables: bookings are serialized through its write gate.</summary>
    public StoreDb NewStore() => locks.NewStore();
}

/// <summary>
/// The Cliniko connector against the Cliniko peer: the same contract as every EHR. The contract's
/// master data is the peer's seed (business, Anna Lindqvist, Nybesök 30 min, Återbesök 15 min), its
/// ids Cliniko's; reset archives the seed's other patients, keeps the contract's national ids in
/// old_reference_id, and removes the seeded appointments and note. Cliniko has no HSA ids and no
/// master-data writes.
/// </summary>
public sealed class ClinikoConnectorContractTests(ClinikoPeerFixture fixture) : ConnectorContractTests, IClassFixture<ClinikoPeerFixture>
{
    private static readonly string[] Archived =
        ["1400000000000000002", "1400000000000000003", "1400000000000000004", "1400000000000000005", "1400000000000000006", "1400000000000000010"];

    protected override string Unit => ClinikoPeer.Business;

    protected override string Anna => ClinikoPeer.Anna;

    protected override string General => ClinikoPeer.Nybesok;

    protected override string FollowUp => ClinikoPeer.Aterbesok;

    protected override bool ResourcesHaveHsaIds => false;

    protected override bool HasMasterDataAdmin => false;

    protected override async Task ResetAsync()
    {
        var peer = fixture.Peer;
        await peer.ResetAsync();
        await peer.SetRateLimitAsync(100_000);
        await peer.SettingsAsync(new JsonObject { ["processingMs"] = 100 });
        foreach (var id in ClinikoPeer.SeededAppointments)
        {
            await peer.ChangeAppointmentDirectlyAsync(id, new JsonObject { ["deleted"] = true });
        }

        await peer.ApiAsync(HttpMethod.Delete, "treatment_notes/" + ClinikoPeer.SeededNote);
        foreach (var id in Archived)
        {
            await peer.ApiAsync(HttpMethod.Post, $"patients/{id}/archive");
        }

        // Lars Ström, Karin Åkesson and Ängla Nyström (the contract's "Nyström") with their national ids.
        foreach (var (id, number) in new[] { ("1400000000000000008", "197110021834"), ("1400000000000000007", "194010126672"), ("1400000000000000009", "195003042222") })
        {
            await peer.ChangePatientDirectlyAsync(id, new JsonObject { ["old_reference_id"] = number });
        }
    }

    protected override Task<ConnectorUnderTest> OpenAsync()
    {
        var store = fixture.NewStore();
        return Task.FromResult(new ConnectorUnderTest(new ClinikoConnector(fixture.Transport, store, TimeProvider.System, NullLogger.Instance), store));
    }

    [Fact]
    public async Task Schedules_are_read_from_daily_availabilities_and_cannot_be_written()
    {
        var monday = NextMonday();
        var windows = await Sut.Scheduling.ListScheduleWindowsAsync(Unit, Anna, monday, monday.AddDays(1), default);
        Assert.Equal([(8, 12), (13, 17)], windows.Select(w => (w.Start.Hour, w.End.Hour)));
        var refused = await Assert.ThrowsAsync<VardbroException>(() => Sut.Scheduling.CreateScheduleAsync(Unit, Anna, new NewSchedule(monday.AddHours(18), monday.AddHours(19), null, []), default));
        Assert.Equal(ErrorCodes.NotSupported, refused.Errors[0].ErrorCode);
    }

    [Fact]
    public async Task A_note_with_an_unmapped_template_is_not_supported_and_one_by_another_author_is_refused()
    {
        var patient = await TolvanAsync();
        var unmapped = await Assert.ThrowsAsync<VardbroException>(() => Sut.Notes.CreateNoteAsync(Unit, new NewMedicalNote(patient, NoteTemplates.CareStatusId, "Status", new Dictionary<string, string> { ["status"] = "Stabil" }, Anna), default));
        Assert.Equal(ErrorCodes.NotSupported, unmapped.Errors[0].ErrorCode);

        var other = await Assert.ThrowsAsync<VardbroException>(() => Sut.Notes.CreateNoteAsync(Unit, new NewMedicalNote(patient, NoteTemplates.UnstructuredId, "Anteckning", new Dictionary<string, string> { ["unstructured"] = "Text" }, ClinikoPeer.Erik), default));
        Assert.Equal(ErrorCodes.InvalidCreatedById, other.Errors[0].ErrorCode);
        Assert.Empty((await Sut.Notes.ListNotesAsync(Unit, patient, 10, null, default)).Items);
    }

    [Fact]
    public async Task Timeslots_over_more_than_seven_days_and_every_practitioner_come_from_split_available_times_calls()
    {
        await fixture.Peer.ClearRequestsAsync();
        var now = TimeProvider.System.GetUtcNow();
        var slots = await Sut.Scheduling.ListTimeslotsAsync(Unit, new TimeslotQuery(now.AddDays(-2), now.AddDays(20), null, null), default);
        Assert.Equal([ClinikoPeer.Anna, ClinikoPeer.Erik, ClinikoPeer.Maria], slots.Select(s => s.ResourceId).Distinct().Order(StringComparer.Ordinal));
        Assert.Contains(slots, s => s.HealthcareServiceId == ClinikoPeer.Aterbesok && s.End - s.Start == TimeSpan.FromMinutes(15));
        Assert.All(slots, s => Assert.True(s.Start > now && s.Start < now.AddDays(20)));
        Assert.Equal(slots.OrderBy(s => s.Start).ThenBy(s => s.ResourceId, StringComparer.Ordinal), slots, EqualityComparer<Timeslot>.Default);

        // Every call stayed within the documented limits: at most 7 days, none before today.
        var calls = (await fixture.Peer.RequestsAsync()).Where(r => r.Path.EndsWith("/available_times", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(calls);
        Assert.All(calls, c => Assert.Equal(200, c.Status));
    }

    private static DateTimeOffset NextMonday()
    {
        var zone = TimeZones.Find("Europe/Stockholm");
        var day = TimeZones.LocalDate(TimeProvider.System.GetUtcNow(), zone).AddDays(1);
        while (day.DayOfWeek != DayOfWeek.Monday)
        {
            day = day.AddDays(1);
        }

        return TimeZones.ToInstant(day, TimeOnly.MinValue, zone);
    }
}
