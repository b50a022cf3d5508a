using Vardbro.Connectors.Fhir;
using Vardbro.Connectors.Fhir.Auth;
using Vardbro.Tests.Peers;

namespace Vardbro.Connectors.Tests.Fhir;

public sealed class OraclePeerFixture : IAsyncLifetime
{
    public FhirPeer Peer { get; private set; } = null!;

    public async Task InitializeAsync() => Peer = await FhirPeer.StartAsync("oracle");

    public Task DisposeAsync() => Peer.DisposeAsync().AsTask();
}

public sealed class EpicPeerFixture : IAsyncLifetime
{
    public FhirPeer Peer { get; private set; } = null!;

    public async Task InitializeAsync() => Peer = await FhirPeer.StartAsync("epic");

    public Task DisposeAsync() => Peer.DisposeAsync().AsTask();
}

/// <summary>
/// The API's booking promises on servers that take bookings their own way: a listed timeslot can be
/// booked once and is then gone, a race has one winner, a cancel brings the slot back, a move takes
/// the new slot and frees the old. The profile is chosen from each server's CapabilityStatement.
/// </summary>
public abstract class FhirBookingProfileTests(FhirPeer peer, FhirBooking expected) : IAsyncLifetime
{
    private const string Unit = FhirPeer.CareUnit;

    protected FhirConnector Connector()
    {
        // Millennium lists Locations only by type or physical type (location.md "Search").
        var settings = FhirSettings.Read("vendor", key => key switch
        {
            "BaseUrl" => peer.BaseUrl,
            "CareUnitQuery" => expected == FhirBooking.AppointmentWithSlot ? "Location?-physicalType=bu" : null,
            _ => null,
        }).Settings!;
        return new FhirConnector(FhirTransport.Create(settings, new FhirAuthSettings(), TimeProvider.System), settings, TimeProvider.System);
    }

    public Task InitializeAsync() => peer.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    private static async Task<List<Timeslot>> AnnasSlotsAsync(FhirConnector connector)
    {
        var now = TimeProvider.System.GetUtcNow();
        return [.. await connector.ListTimeslotsAsync(Unit, new TimeslotQuery(now, now.AddDays(7), FhirPeer.Anna, null), default)];
    }

    [Fact]
    public async Task The_profile_is_chosen_from_the_servers_capability_statement()
    {
        var settings = FhirSettings.Read("vendor", key => key == "BaseUrl" ? peer.BaseUrl : null).Settings!;
        Assert.Equal(FhirBooking.Auto, settings.Booking);
        var connector = Connector();
        var slot = (await AnnasSlotsAsync(connector))[1];
        var booked = (await connector.BookAsync(Unit, new NewAppointment(slot.Start, slot.End, FhirPeer.Tolvan, FhirPeer.Anna, null, null), default)).Appointment;
        var posts = (await peer.RequestsAsync()).Where(r => r.Method == "POST").Select(r => r.Url).ToList();
        Assert.Contains(posts, url => expected == FhirBooking.FindBook ? url.Contains("$book", StringComparison.Ordinal) : url.EndsWith("/Appointment", StringComparison.Ordinal));
        Assert.DoesNotContain(await peer.RequestsAsync(), r => r.Method == "PUT" && r.Url.Contains("/Slot/", StringComparison.Ordinal));
        Assert.Equal(AppointmentStatuses.Booked, booked.Status);
    }

    [Fact]
    public async Task A_listed_timeslot_is_booked_once_then_gone_and_a_cancel_brings_it_back()
    {
        var connector = Connector();
        var slots = await AnnasSlotsAsync(connector);
        Assert.NotEmpty(slots);
        var slot = slots[0];
        var booked = (await connector.BookAsync(Unit, new NewAppointment(slot.Start, slot.End, FhirPeer.Tolvan, FhirPeer.Anna, null, "first visit"), default)).Appointment;
        Assert.Equal((slot.Start, slot.End, FhirPeer.Anna, Unit, FhirPeer.Tolvan), (booked.Start, booked.End, booked.ResourceId, booked.CareUnitId, booked.PatientEmrId));
        Assert.DoesNotContain(await AnnasSlotsAsync(connector), s => s.Start == slot.Start);

        var again = await Assert.ThrowsAsync<ConflictException>(() => connector.BookAsync(Unit, new NewAppointment(slot.Start, slot.End, "lars-strom", FhirPeer.Anna, null, null), default));
        Assert.Equal(ErrorCodes.NoTimeslotsAvailable, again.Errors[0].ErrorCode);

        // Listed by patient, by resource, and for the care unit.
        Assert.Contains(Unit, (await connector.ListCareUnitsAsync(default)).Select(u => u.Id));
        foreach (var query in new[] { new AppointmentQuery(FhirPeer.Tolvan, null, null, null, null), new AppointmentQuery(null, FhirPeer.Anna, slot.Start.AddHours(-1), slot.End.AddHours(1), null), new AppointmentQuery(null, null, null, null, AppointmentStatuses.Booked) })
        {
            Assert.Contains(booked.Id, (await connector.ListAppointmentsAsync(Unit, query, 50, null, default)).Items.Select(a => a.Id));
        }

        var cancelled = Assert.Single(await connector.UpdateAsync(Unit, [booked.Id], new AppointmentChange(null, null, null, null, Cancel: true, null), default));
        Assert.Equal(AppointmentStatuses.Cancelled, cancelled.Status);
        Assert.Contains(await AnnasSlotsAsync(connector), s => s.Start == slot.Start);
        Assert.Equal(AppointmentStatuses.Cancelled, (await connector.GetAppointmentAsync(Unit, booked.Id, default))?.Status);
    }

    [Fact]
    public async Task A_move_takes_the_new_slot_and_frees_the_old_one()
    {
        var connector = Connector();
        var slots = await AnnasSlotsAsync(connector);
        var (from, to) = (slots[2], slots[3]);
        var booked = (await connector.BookAsync(Unit, new NewAppointment(from.Start, from.End, FhirPeer.Tolvan, FhirPeer.Anna, null, null), default)).Appointment;
        var moved = Assert.Single(await connector.UpdateAsync(Unit, [booked.Id], new AppointmentChange(to.Start, to.End, null, null, Cancel: false, null), default));
        Assert.Equal((to.Start, to.End, AppointmentStatuses.Booked), (moved.Start, moved.End, moved.Status));
        var now = await AnnasSlotsAsync(connector);
        Assert.Contains(now, s => s.Start == from.Start);
        Assert.DoesNotContain(now, s => s.Start == to.Start);
    }

    [Fact]
    public async Task Of_many_concurrent_bookings_of_one_timeslot_exactly_one_wins()
    {
        var slot = (await AnnasSlotsAsync(Connector()))[4];
        string[] patients = ["tolvan-tolvansson", "lars-strom", "karin-akesson", "sven-nystrom", "tolvgren-anders", "tolvgren-beata"];
        var outcomes = await Task.WhenAll(patients.Select(async p =>
        {
            try
            {
                await Connector().BookAsync(Unit, new NewAppointment(slot.Start, slot.End, p, FhirPeer.Anna, null, null), default);
                return 201;
            }
            catch (ConflictException)
            {
                return 409;
            }
        }));
        Assert.Equal(1, outcomes.Count(o => o == 201));
        Assert.Equal(patients.Length - 1, outcomes.Count(o => o == 409));
    }

    [Fact]
    public async Task A_time_no_schedule_offers_is_400_not_409()
    {
        var slot = (await AnnasSlotsAsync(Connector()))[0];
        var error = await Assert.ThrowsAsync<VardbroException>(() => Connector().BookAsync(Unit, new NewAppointment(slot.Start.AddMinutes(7), slot.End.AddMinutes(7), FhirPeer.Tolvan, FhirPeer.Anna, null, null), default));
        Assert.Equal(ErrorCodes.NoTimeslotsAvailable, error.Errors[0].ErrorCode);
    }
}

/// <summary>Oracle Health Millennium: Slots read-only, the booked Appointment consumes its Slot.</summary>
public sealed class OracleBookingTests(OraclePeerFixture fixture) : FhirBookingProfileTests(fixture.Peer, FhirBooking.AppointmentWithSlot), IClassFixture<OraclePeerFixture>;

/// <summary>An Argonaut scheduling server (Epic): <c>$find</c> proposes, <c>$book</c> books.</summary>
public sealed class EpicBookingTests(EpicPeerFixture fixture) : FhirBookingProfileTests(fixture.Peer, FhirBooking.FindBook), IClassFixture<EpicPeerFixture>;
