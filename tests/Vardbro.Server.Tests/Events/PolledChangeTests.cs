using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using StandardWebhooks;
using Vardbro.Connectors;
using Vardbro.Server.Emrs;
using Vardbro.Server.Features.Events;
using Vardbro.Server.Storage;
using Vardbro.Server.Tests.Cliniko;
using Vardbro.Server.Tests.Fhir;
using Vardbro.Server.Tests.Infrastructure;
using Vardbro.Server.Tests.Webhooks;
using Vardbro.Tests.Peers;

namespace Vardbro.Server.Tests.Events;

/// <summary>
/// An EMR whose EHR changes outside Vardbro, polled every <see cref="PollSeconds"/> (API.md §8
/// "Change feed and webhooks", point 6), with webhooks to a loopback receiver allowed.
/// </summary>
public abstract class PolledEmrFixture : IAsyncLifetime
{
    public const int PollSeconds = 2;

    /// <summary>How long a test waits for a change to be announced: a few intervals, for a slow poll on a busy machine.</summary>
    public const int AnnounceSeconds = 5 * PollSeconds;

    public VardbroFactory Factory { get; protected set; } = null!;

    public abstract string Unit { get; }

    protected static Dictionary<string, string?> Polling(Dictionary<string, string?>? more = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Emrs:webdoc:ChangePollSeconds"] = PollSeconds.ToString(CultureInfo.InvariantCulture),
            ["Webhooks:AllowInsecureTargets"] = "true",
            ["Webhooks:RetryDelaysSeconds"] = "1,1",
        };
        foreach (var (key, value) in more ?? [])
        {
            settings[key] = value;
        }

        return settings;
    }

    /// <summary>The clinic books an appointment in its own EHR, <paramref name="day"/> weekdays ahead; its id.</summary>
    public abstract Task<string> BookDirectlyAsync(int day);

    /// <summary>The clinic cancels the appointment in its own EHR.</summary>
    public abstract Task CancelDirectlyAsync(string appointmentId);

    /// <summary>The next <paramref name="count"/> requests to the EHR fail with a 500.</summary>
    public abstract Task FailNextAsync(int count);

    /// <summary>How many requests the EHR has answered with a 500 so far.</summary>
    public abstract Task<int> FailedRequestsAsync();

    public abstract Task InitializeAsync();

    public abstract Task DisposeAsync();

    /// <summary>Today's date in Stockholm plus <paramref name="weekdays"/> weekdays (the peers' working days).</summary>
    protected static DateOnly Weekday(int weekdays)
    {
        var day = DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(TimeProvider.System.GetUtcNow(), TimeZoneInfo.FindSystemTimeZoneById("Europe/Stockholm")).DateTime);
        while (weekdays > 0 || day.DayOfWeek is DayOfWeek.Saturday or DayOfWeek.Sunday)
        {
            day = day.AddDays(1);
            if (day.DayOfWeek is not (DayOfWeek.Saturday or DayOfWeek.Sunday))
            {
                weekdays--;
            }
        }

        return day;
    }
}

public abstract class FhirPolledFixture(string profile, Dictionary<string, string?>? settings = null) : PolledEmrFixture
{
    private FhirPeer peer = null!;

    public override string Unit => FhirEmrFactory.Unit;

    public override async Task InitializeAsync()
    {
        peer = await FhirPeer.StartAsync(profile);
        Factory = new FhirEmrFactory(peer, Polling(settings));
    }

    public override async Task DisposeAsync()
    {
        await Factory.DisposeAsync();
        await peer.DisposeAsync();
    }

    public override Task<string> BookDirectlyAsync(int day) =>
        peer.BookDirectlyAsync(FhirPeer.SlotId(FhirPeer.Anna, Weekday(day), "1000"), FhirPeer.Tolvan);

    public override Task CancelDirectlyAsync(string appointmentId) => peer.SetAppointmentStatusDirectlyAsync(appointmentId, "cancelled");

    public override Task FailNextAsync(int count) => peer.FailAsync("GET", 500, count);

    public override async Task<int> FailedRequestsAsync() => (await peer.RequestsAsync()).Count(r => r.Status == 500);
}

/// <summary>The FHIR peer as it is (Medplum: <c>_lastUpdated</c> searched by the server).</summary>
public sealed class MedplumPolledFixture() : FhirPolledFixture("default");

/// <summary>The FHIR peer as Oracle Health Millennium (no <c>_lastUpdated</c> on Appointment search: filtered by Vardbro).</summary>
public sealed class OraclePolledFixture() : FhirPolledFixture("oracle", OracleFhirEmrFixture.Oracle);

/// <summary>The FHIR peer as an Epic-style Argonaut scheduling server (Appointment read, search and $book).</summary>
public sealed class EpicPolledFixture() : FhirPolledFixture("epic");

public sealed class ClinikoPolledFixture : PolledEmrFixture
{
    private ClinikoPeer peer = null!;

    public override string Unit => ClinikoEmrFactory.Unit;

    public override async Task InitializeAsync()
    {
        peer = await ClinikoPeer.StartAsync();
        Factory = new ClinikoEmrFactory(peer, Polling());
    }

    public override async Task DisposeAsync()
    {
        await Factory.DisposeAsync();
        await peer.DisposeAsync();
    }

    public override Task<string> BookDirectlyAsync(int day)
    {
        var at = Weekday(day).ToDateTime(new TimeOnly(9, 0), DateTimeKind.Utc);
        return peer.BookDirectlyAsync(new DateTimeOffset(at), ClinikoPeer.Tolvan, ClinikoPeer.Anna, ClinikoPeer.Nybesok);
    }

    public override Task CancelDirectlyAsync(string appointmentId) =>
        peer.ChangeAppointmentDirectlyAsync(appointmentId, new JsonObject { ["cancel"] = new JsonObject { ["cancellation_reason"] = 40 } });

    public override Task FailNextAsync(int count) => peer.FailAsync(500, count, method: "GET");

    public override async Task<int> FailedRequestsAsync() => (await peer.RequestsAsync()).Count(r => r.Status == 500);
}

/// <summary>
/// Changes made directly in the EHR reach the feed and the webhooks: what point 6 of the change-feed
/// issue must show, against each peer.
/// </summary>
// The receiver is disposed by IAsyncLifetime.DisposeAsync, which xunit calls after each test.
#pragma warning disable CA1001
public abstract class PolledChangeTests<TFixture>(TFixture fixture) : IClassFixture<TFixture>, IAsyncLifetime
    where TFixture : PolledEmrFixture
{
    private readonly WebhookReceiver receiver = new();
#pragma warning restore CA1001

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await receiver.DisposeAsync();

    private async Task<JsonArray> AnnouncedAsync(HttpClient client, string type, string id, int seconds = PolledEmrFixture.AnnounceSeconds) =>
        await EventFeedTests.EventsUntilAsync(client, fixture.Unit, "", es => EventFeedTests.Has(es, type, id), seconds);

    /// <summary>Waits until the server's poller has made the EMR's row: changes from then on are announced.</summary>
    private async Task PollingBegunAsync()
    {
        for (var i = 0; i < 100 && !await fixture.Factory.WithDbAsync(db => db.ChangePolls.AnyAsync(p => p.Emr == "webdoc")); i++)
        {
            await Task.Delay(100);
        }
    }

    private static HeaderDictionary Headers(ReceivedWebhook r) => new()
    {
        ["webhook-id"] = r.Id,
        ["webhook-timestamp"] = r.Timestamp,
        ["webhook-signature"] = r.Signature,
    };

    [Fact]
    public async Task An_appointment_booked_and_cancelled_in_the_EHR_is_announced_in_the_feed_and_by_webhook_once()
    {
        using var client = fixture.Factory.Sandbox();
        Assert.Contains("events", (await client.GetJsonAsync("/api/emrs")).AsArray().Single(e => (string?)e!["code"] == "webdoc")!["capabilities"]!.AsArray().Select(c => (string?)c));
        var hook = await client.PostJsonAsync("/api/webhooks", new { url = receiver.Url("polled"), events = new[] { "*" }, emr = "webdoc", care_units = new[] { "*" } }, HttpStatusCode.Created);
        var verifier = new StandardWebhook((string)hook["secret"]!);
        await PollingBegunAsync();

        var id = await fixture.BookDirectlyAsync(3);
        var created = (await AnnouncedAsync(client, "appointment.created", id)).Single(e => (string?)e!["subject"]!["id"] == id)!;
        Assert.Equal("webdoc", (string?)created["emr"]);
        Assert.Equal(fixture.Unit[(fixture.Unit.LastIndexOf('/') + 1)..], (string?)created["care_unit_id"]);
        Assert.Equal("appointment", (string?)created["subject"]!["type"]);

        await fixture.CancelDirectlyAsync(id);
        await AnnouncedAsync(client, "appointment.cancelled", id);
        var delivered = await receiver.WaitAsync("polled", r => r.Count(x => x.Body.Contains(id, StringComparison.Ordinal)) >= 2, PolledEmrFixture.AnnounceSeconds);
        var mine = delivered.Where(x => x.Body.Contains(id, StringComparison.Ordinal)).ToList();
        Assert.Equal(["appointment.created", "appointment.cancelled"], mine.Select(x => (string?)JsonNode.Parse(x.Body)!["type"]));
        Assert.All(mine, x => verifier.Verify(x.Body, Headers(x)));

        // Every later poll asks from shortly before the last change again (its overlap) and finds both
        // changes again: neither is announced twice.
        await Task.Delay(TimeSpan.FromSeconds(3 * PolledEmrFixture.PollSeconds));
        var events = (await client.GetJsonAsync($"{fixture.Unit}/events")).AsArray().Where(e => (string?)e!["subject"]!["id"] == id);
        Assert.Equal(["appointment.created", "appointment.cancelled"], events.Select(e => (string?)e!["type"]));
        Assert.Equal(2, receiver.At("polled").Count(x => x.Body.Contains(id, StringComparison.Ordinal)));
    }

    [Fact]
    public async Task A_poll_that_fails_loses_nothing_the_next_one_announces_it()
    {
        using var client = fixture.Factory.Sandbox();
        await PollingBegunAsync();

        // More failures than one poll's retries absorb: at least one poll fails, a later one finds the
        // change. The feed is read once the polls have met every failure (reading it asks the EHR too).
        var failedBefore = await fixture.FailedRequestsAsync();
        await fixture.FailNextAsync(4);
        var id = await fixture.BookDirectlyAsync(4);
        for (var i = 0; i < 300 && await fixture.FailedRequestsAsync() < failedBefore + 4; i++)
        {
            await Task.Delay(100);
        }

        Assert.Equal(failedBefore + 4, await fixture.FailedRequestsAsync());
        await AnnouncedAsync(client, "appointment.created", id);
    }

    [Fact]
    public async Task Only_the_instance_holding_the_lease_polls_and_another_takes_over_when_it_lapses()
    {
        using var client = fixture.Factory.Sandbox();
        await PollingBegunAsync();
        var services = fixture.Factory.Services;
        var catalog = services.GetRequiredService<EmrCatalog>();
        var emr = catalog.Find("webdoc")!;
        var own = services.GetRequiredService<ChangePoller>();
        var other = new ChangePoller(services.GetRequiredService<IServiceScopeFactory>(), catalog, TimeProvider.System, NullLogger<ChangePoller>.Instance);
        Task<ChangePollRow> StateAsync() => fixture.Factory.WithDbAsync(db => db.ChangePolls.AsNoTracking().SingleAsync(p => p.Emr == "webdoc"));
        Task LapseAsync() => fixture.Factory.WithDbAsync(db => db.ChangePolls.Where(p => p.Emr == "webdoc")
            .ExecuteUpdateAsync(s => s.SetProperty(p => p.LeaseUntil, TimeProvider.System.GetUtcNow().AddMinutes(-1))));

        // The server's own poller holds the lease: another instance does not poll.
        var holder = (await StateAsync()).Holder;
        Assert.NotNull(holder);
        Assert.Null(await other.PollAsync(emr, default));
        Assert.Equal(holder, (await StateAsync()).Holder);

        await own.StopAsync(default);
        try
        {
            // Its holder stopped: until the lease lapses nobody polls; then the other instance takes it.
            var id = await fixture.BookDirectlyAsync(5);
            Assert.Null(await other.PollAsync(emr, default));
            await LapseAsync();
            Assert.True(await other.PollAsync(emr, default) >= 1);
            Assert.NotEqual(holder, (await StateAsync()).Holder);
            var events = await AnnouncedAsync(client, "appointment.created", id);
            Assert.Single(events, e => (string?)e!["subject"]!["id"] == id);
        }
        finally
        {
            await LapseAsync();
            await own.StartAsync(default);
        }
    }
}

public sealed class MedplumPolledChangeTests(MedplumPolledFixture fixture) : PolledChangeTests<MedplumPolledFixture>(fixture);

public sealed class OraclePolledChangeTests(OraclePolledFixture fixture) : PolledChangeTests<OraclePolledFixture>(fixture);

public sealed class EpicPolledChangeTests(EpicPolledFixture fixture) : PolledChangeTests<EpicPolledFixture>(fixture);

public sealed class ClinikoPolledChangeTests(ClinikoPolledFixture fixture) : PolledChangeTests<ClinikoPolledFixture>(fixture);

/// <summary>Which events a change seen by the poller makes (<see cref="ChangePoller.Announcements"/>).</summary>
public sealed class ChangeAnnouncementTests
{
    private static readonly DateTimeOffset Since = new(2026, 3, 2, 9, 0, 0, TimeSpan.Zero);

    private static Appointment At(DateTimeOffset created, DateTimeOffset updated, string status) =>
        new("a1", "u1", "p1", "r1", null, Since.AddDays(3), Since.AddDays(3).AddMinutes(30), status, null, created, updated);

    private static ChangePollSeenRow Seen(DateTimeOffset updated, string status) =>
        new() { Emr = "e", SubjectType = ChangeSubjects.Appointment, SubjectId = "a1", UpdatedAt = updated, Status = status, Fingerprint = ChangePoller.FingerprintOf(At(updated, updated, status)) };

    [Fact]
    public void A_new_appointment_is_created_and_one_made_before_the_window_is_updated()
    {
        Assert.Equal(["appointment.created"], ChangePoller.Announcements(At(Since.AddSeconds(5), Since.AddSeconds(5), AppointmentStatuses.Booked), null, Since));
        Assert.Equal(["appointment.created"], ChangePoller.Announcements(At(Since, Since, AppointmentStatuses.Booked), null, Since.AddMilliseconds(400)));
        Assert.Equal(["appointment.updated"], ChangePoller.Announcements(At(Since.AddSeconds(-1), Since, AppointmentStatuses.Booked), null, Since.AddMilliseconds(400)));
        Assert.Equal(["appointment.created", "appointment.cancelled"], ChangePoller.Announcements(At(Since.AddSeconds(5), Since.AddSeconds(9), AppointmentStatuses.Cancelled), null, Since));
        Assert.Equal(["appointment.updated"], ChangePoller.Announcements(At(Since.AddDays(-3), Since.AddSeconds(9), AppointmentStatuses.Booked), null, Since));
        Assert.Equal(["appointment.cancelled"], ChangePoller.Announcements(At(Since.AddDays(-3), Since.AddSeconds(9), AppointmentStatuses.Cancelled), null, Since));
    }

    [Fact]
    public void A_change_seen_before_is_none_and_a_later_one_says_what_changed()
    {
        var created = Since.AddSeconds(5);
        Assert.Empty(ChangePoller.Announcements(At(created, created, AppointmentStatuses.Booked), Seen(created, AppointmentStatuses.Booked), Since));
        Assert.Empty(ChangePoller.Announcements(At(created, created, AppointmentStatuses.Booked), Seen(created.AddSeconds(1), AppointmentStatuses.Booked), Since));
        Assert.Equal(["appointment.updated"], ChangePoller.Announcements(At(created, created.AddSeconds(1), AppointmentStatuses.Booked), Seen(created, AppointmentStatuses.Booked), Since));
        Assert.Equal(["appointment.cancelled"], ChangePoller.Announcements(At(created, created.AddSeconds(1), AppointmentStatuses.Cancelled), Seen(created, AppointmentStatuses.Booked), Since));
        Assert.Equal(["appointment.updated"], ChangePoller.Announcements(At(created, created.AddSeconds(2), AppointmentStatuses.Cancelled), Seen(created.AddSeconds(1), AppointmentStatuses.Cancelled), Since));
        Assert.Equal(["appointment.confirmed"], ChangePoller.Announcements(At(created, created.AddSeconds(1), AppointmentStatuses.Booked), Seen(created, AppointmentStatuses.AwaitingConfirmation), Since));
    }

    [Fact]
    public void Two_changes_stamped_with_one_second_are_both_told_by_their_content()
    {
        var second = Since.AddSeconds(5);
        Assert.Equal(["appointment.cancelled"], ChangePoller.Announcements(At(second, second, AppointmentStatuses.Cancelled), Seen(second, AppointmentStatuses.Booked), Since));
        var moved = At(second, second, AppointmentStatuses.Booked) with { Start = Since.AddDays(4), End = Since.AddDays(4).AddMinutes(30) };
        Assert.Equal(["appointment.updated"], ChangePoller.Announcements(moved, Seen(second, AppointmentStatuses.Booked), Since));
        Assert.Empty(ChangePoller.Announcements(At(second, second, AppointmentStatuses.Booked) with { Comment = "only the comment" }, Seen(second, AppointmentStatuses.Booked), Since));
    }
}
