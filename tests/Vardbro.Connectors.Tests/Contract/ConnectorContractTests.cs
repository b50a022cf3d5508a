using System.Security.Cryptography;
using System.Text;

namespace Vardbro.Connectors.Tests.Contract;

/// <summary>One connector as the tests use it: every capability, and whatever must be disposed after.</summary>
public sealed record ConnectorUnderTest(object Connector, IAsyncDisposable? Owner = null) : IAsyncDisposable
{
    public ICareUnitDirectory Directory => (ICareUnitDirectory)Connector;

    public IPatientDirectory Patients => (IPatientDirectory)Connector;

    public IScheduling Scheduling => (IScheduling)Connector;

    public IAppointmentBooking Booking => (IAppointmentBooking)Connector;

    public IMedicalNotes Notes => (IMedicalNotes)Connector;

    public IDocuments Documents => (IDocuments)Connector;

    public IMasterDataAdmin Admin => (IMasterDataAdmin)Connector;

    public IPatientUpdates PatientUpdates => (IPatientUpdates)Connector;

    public IAppointmentLocator Locator => (IAppointmentLocator)Connector;

    public ValueTask DisposeAsync() => Owner?.DisposeAsync() ?? ValueTask.CompletedTask;
}

/// <summary>
/// What every EHR behind Vardbro must do the same way, whatever it is. Each connector's test class
/// inherits this and provides the same master data (DESIGN.md "Tests"): care unit <c>tolvan</c>
/// (Europe/Stockholm) with practitioners <c>anna-lindqvist</c> (HSA id SE2321000131-E000000000101)
/// and <c>erik-sandberg</c> working Monday–Friday 08–16, services <c>tolvan-general</c> (30 min)
/// and <c>tolvan-follow-up</c> (15 min), and patients Tolvan Tolvansson (191212121212), Lars Ström
/// (197110021834), Karin Åkesson (194010126672) and Sven Nyström (195003042222).
/// </summary>
public abstract class ConnectorContractTests : IAsyncLifetime
{
    protected const string AnnaHsaId = "SE2321000131-E000000000101";

    // The master data's ids. An EHR whose ids Vardbro does not choose (a vendor's seed) names its own.
    protected virtual string Unit => "tolvan";

    protected virtual string Anna => "anna-lindqvist";

    protected virtual string General => "tolvan-general";

    protected virtual string FollowUp => "tolvan-follow-up";

    /// <summary>False for an EHR without HSA ids: resources carry none and a lookup by one is NOT_SUPPORTED.</summary>
    protected virtual bool ResourcesHaveHsaIds => true;

    /// <summary>
    /// False for an EHR whose master data Vardbro does not own: the connector offers no
    /// <see cref="IMasterDataAdmin"/>, or one that refuses every write as NOT_SUPPORTED before writing anything.
    /// </summary>
    protected virtual bool HasMasterDataAdmin => true;

    /// <summary>
    /// False for an EHR that cannot sort a search (no <c>_sort</c>): a page holding every match is
    /// still sorted, but a search read page by page comes in the EHR's order (README "Connecting a FHIR R4 server").
    /// </summary>
    protected virtual bool SortsAcrossPages => true;

    /// <summary>Whether the EHR lets a patient's names and contacts be changed (a FHIR server must declare Patient update).</summary>
    protected virtual bool HasPatientUpdates => true;

    private static readonly TypedId TolvanId = new(IdType.SePersonalNumber, "191212121212");

    private ConnectorUnderTest? main;

    protected ConnectorUnderTest Sut => main ?? throw new InvalidOperationException("Not initialised.");

    /// <summary>Brings the EHR to the master data above, with no appointments, notes or documents.</summary>
    protected abstract Task ResetAsync();

    /// <summary>A connector for one unit of work (the built-in EHR: its own database context).</summary>
    protected abstract Task<ConnectorUnderTest> OpenAsync();

    public async Task InitializeAsync()
    {
        await ResetAsync();
        main = await OpenAsync();
    }

    public virtual async Task DisposeAsync()
    {
        if (main is not null)
        {
            await main.DisposeAsync();
        }
    }

    // ---- master data ---------------------------------------------------------------------------

    [Fact]
    public async Task The_care_unit_is_listed_and_read_and_an_unknown_one_is_absent()
    {
        var units = await Sut.Directory.ListCareUnitsAsync(default);
        Assert.Contains(units, u => u.Id == Unit);
        var unit = await Sut.Directory.GetCareUnitAsync(Unit, default);
        Assert.NotNull(unit);
        Assert.Equal("Vårdcentralen Tolvan", unit.Name);
        Assert.Equal("Europe/Stockholm", unit.TimeZone);
        Assert.Null(await Sut.Directory.GetCareUnitAsync("no-such-unit", default));
        Assert.Null(await Sut.Directory.GetCareUnitAsync("bad/../id", default));
    }

    [Fact]
    public async Task Resources_are_found_by_emr_id_and_hsa_id_and_services_are_listed()
    {
        var resources = await Sut.Directory.ListResourcesAsync(Unit, default);
        var anna = Assert.Single(resources, r => r.Id == Anna);
        Assert.Equal("Anna Lindqvist", anna.Name);
        Assert.Equal(ResourceKinds.Practitioner, anna.Kind);

        Assert.Equal(Anna, (await Sut.Directory.FindResourceAsync(Unit, new TypedId(IdType.EmrId, Anna), default))?.Id);
        Assert.Null(await Sut.Directory.FindResourceAsync(Unit, new TypedId(IdType.EmrId, "nobody"), default));
        if (ResourcesHaveHsaIds)
        {
            Assert.Equal(AnnaHsaId, anna.HsaId);
            Assert.Equal(Anna, (await Sut.Directory.FindResourceAsync(Unit, new TypedId(IdType.HsaId, AnnaHsaId), default))?.Id);
            Assert.Null(await Sut.Directory.FindResourceAsync(Unit, new TypedId(IdType.HsaId, "SE2321000131-E000000000999"), default));
        }
        else
        {
            Assert.Null(anna.HsaId);
            var refused = await Assert.ThrowsAsync<VardbroException>(() => Sut.Directory.FindResourceAsync(Unit, new TypedId(IdType.HsaId, AnnaHsaId), default));
            Assert.Equal(ErrorCodes.NotSupported, refused.Errors[0].ErrorCode);
        }

        var services = await Sut.Directory.ListHealthcareServicesAsync(Unit, default);
        Assert.Equal(30, Assert.Single(services, s => s.Id == General).DurationMinutes);
        Assert.Equal(15, Assert.Single(services, s => s.Id == FollowUp).DurationMinutes);
    }

    [Fact]
    public async Task Master_data_written_through_admin_is_read_back_updated_and_deleted()
    {
        if (!HasMasterDataAdmin)
        {
            if (Sut.Connector is IMasterDataAdmin admin)
            {
                Func<Task>[] writes =
                [
                    () => admin.CreateCareUnitAsync(new NewCareUnit("north", "Vårdcentralen Norr", "Europe/Oslo", null, false), default),
                    () => admin.UpdateCareUnitAsync(new NewCareUnit(Unit, "Omdöpt", "Europe/Stockholm", null, false), default),
                    () => admin.CreateResourceAsync(Unit, new NewResource("olle-nord", "Olle Nord", "Läkare", ResourceKinds.Practitioner, null, null), default),
                    () => admin.UpdateResourceAsync(Unit, new NewResource(Anna, "Anna Omdöpt", null, ResourceKinds.Practitioner, null, null), default),
                    () => admin.CreateHealthcareServiceAsync(Unit, new NewHealthcareService("north-video", "Video Visit", null, 20), default),
                    () => admin.DeleteHealthcareServiceAsync(Unit, General, default),
                    () => admin.DeleteResourceAsync(Unit, Anna, default),
                ];
                foreach (var write in writes)
                {
                    var refused = await Assert.ThrowsAsync<VardbroException>(write);
                    Assert.Equal(ErrorCodes.NotSupported, refused.Errors[0].ErrorCode);
                }
            }

            // Nothing was written.
            Assert.Null(await Sut.Directory.GetCareUnitAsync("north", default));
            Assert.Equal("Vårdcentralen Tolvan", (await Sut.Directory.GetCareUnitAsync(Unit, default))?.Name);
            Assert.Equal("Anna Lindqvist", Assert.Single(await Sut.Directory.ListResourcesAsync(Unit, default), r => r.Id == Anna).Name);
            Assert.Contains(await Sut.Directory.ListHealthcareServicesAsync(Unit, default), s => s.Id == General);
            return;
        }

        var unit = await Sut.Admin.CreateCareUnitAsync(new NewCareUnit("north", "Vårdcentralen Norr", "Europe/Oslo", "Nordgatan 2, 222 22 Norrby", false), default);
        Assert.Equal(("north", "Europe/Oslo"), (unit.Id, unit.TimeZone));
        var duplicate = await Assert.ThrowsAsync<ConflictException>(() => Sut.Admin.CreateCareUnitAsync(new NewCareUnit("north", "Again", "Europe/Oslo", null, false), default));

        await Sut.Admin.CreateHealthcareServiceAsync("north", new NewHealthcareService("north-video", "Video Visit", "By video.", 20), default);
        var doctor = await Sut.Admin.CreateResourceAsync("north", new NewResource("olle-nord", "Olle Nord", "Läkare", ResourceKinds.Practitioner, "SE2321000131-E000000000301", null), default);
        Assert.Equal(("Olle Nord", "Läkare"), (doctor.Name, doctor.Title));
        var sameHsa = await Assert.ThrowsAsync<ConflictException>(() => Sut.Admin.CreateResourceAsync("north", new NewResource("other", "Other", null, ResourceKinds.Practitioner, "SE2321000131-E000000000301", null), default));

        Assert.Equal("Olle Nord", Assert.Single(await Sut.Directory.ListResourcesAsync("north", default)).Name);
        Assert.Equal(20, Assert.Single(await Sut.Directory.ListHealthcareServicesAsync("north", default)).DurationMinutes);
        Assert.Equal("olle-nord", (await Sut.Directory.FindResourceAsync("north", new TypedId(IdType.HsaId, "SE2321000131-E000000000301"), default))?.Id);

        Assert.Equal("Vårdcentralen Norr Jour", (await Sut.Admin.UpdateCareUnitAsync(new NewCareUnit("north", "Vårdcentralen Norr Jour", "Europe/Oslo", null, false), default))?.Name);
        Assert.Equal("Överläkare", (await Sut.Admin.UpdateResourceAsync("north", new NewResource("olle-nord", "Olle Nord", "Överläkare", ResourceKinds.Practitioner, "SE2321000131-E000000000301", null), default))?.Title);
        Assert.Equal(40, (await Sut.Admin.UpdateHealthcareServiceAsync("north", new NewHealthcareService("north-video", "Video Visit", null, 40), default))?.DurationMinutes);
        Assert.Null(await Sut.Admin.UpdateCareUnitAsync(new NewCareUnit("south", "Söder", "Europe/Oslo", null, false), default));
        Assert.Equal("Vårdcentralen Norr Jour", (await Sut.Directory.GetCareUnitAsync("north", default))?.Name);

        var referenced = await Assert.ThrowsAsync<ConflictException>(() => Sut.Admin.DeleteCareUnitAsync("north", default));
        Assert.True(await Sut.Admin.DeleteResourceAsync("north", "olle-nord", default));
        Assert.True(await Sut.Admin.DeleteHealthcareServiceAsync("north", "north-video", default));
        Assert.False(await Sut.Admin.DeleteHealthcareServiceAsync("north", "north-video", default));
        Assert.Empty(await Sut.Directory.ListResourcesAsync("north", default));
        Assert.True(await Sut.Admin.DeleteCareUnitAsync("north", default));
        Assert.Null(await Sut.Directory.GetCareUnitAsync("north", default));
        Assert.False(await Sut.Admin.DeleteCareUnitAsync("north", default));
    }

    // ---- patients ------------------------------------------------------------------------------

    [Fact]
    public async Task A_patient_is_found_by_national_id_and_by_emr_id_and_an_unknown_one_is_absent()
    {
        var tolvan = await Sut.Patients.FindPatientAsync(TolvanId, default);
        Assert.NotNull(tolvan);
        Assert.Equal(("Tolvan", "Tolvansson"), (tolvan.FirstName, tolvan.LastName));
        Assert.Equal("191212121212", tolvan.SePersonalNumber);
        Assert.Equal(new DateOnly(1912, 12, 12), tolvan.BirthDate);

        var again = await Sut.Patients.FindPatientAsync(new TypedId(IdType.EmrId, tolvan.EmrId), default);
        Assert.Equal(tolvan.EmrId, again?.EmrId);

        Assert.Null(await Sut.Patients.FindPatientAsync(new TypedId(IdType.EmrId, "no-such-patient"), default));
        Assert.Null(await Sut.Patients.FindPatientAsync(new TypedId(IdType.SePersonalNumber, "198702072391"), default));
    }

    [Fact]
    public async Task Search_by_last_name_prefix_ignores_case_and_accents_and_pages()
    {
        var tolv = await Sut.Patients.SearchPatientsAsync(new PatientQuery(null, "TOLVA", null, null, null), 10, null, default);
        Assert.Equal("Tolvansson", Assert.Single(tolv.Items).LastName);

        var akes = await Sut.Patients.SearchPatientsAsync(new PatientQuery(null, "akes", null, null, null), 10, null, default);
        Assert.Equal("Åkesson", Assert.Single(akes.Items).LastName);

        // Three patients of this test's own (an EHR's seed may hold more patients than the contract's
        // four): sorted by folded last name, so Pålsson comes between Pagel and Pamp.
        foreach (var lastName in new[] { "Pamp", "Pålsson", "Pagel" })
        {
            Assert.True((await Sut.Patients.CreateOrReturnPatientAsync(Unit, new NewPatient("Test", lastName, null, null, null, [], [], null), default)).Created);
        }

        var all = await Sut.Patients.SearchPatientsAsync(new PatientQuery(null, "PA", null, null, null), 10, null, default);
        Assert.Equal(["Pagel", "Pålsson", "Pamp"], all.Items.Select(p => p.LastName));
        Assert.Null(all.NextCursor);

        // Two a page: the cursor leads to the rest, each patient exactly once.
        var first = await Sut.Patients.SearchPatientsAsync(new PatientQuery(null, "pa", null, null, null), 2, null, default);
        Assert.Equal(2, first.Items.Count);
        Assert.NotNull(first.NextCursor);
        var second = await Sut.Patients.SearchPatientsAsync(new PatientQuery(null, "pa", null, null, null), 2, first.NextCursor, default);
        Assert.Null(second.NextCursor);
        var paged = first.Items.Concat(second.Items).Select(p => p.LastName).ToList();
        if (SortsAcrossPages)
        {
            Assert.Equal(["Pagel", "Pålsson", "Pamp"], paged);
        }
        else
        {
            Assert.Equal(["Pagel", "Pamp", "Pålsson"], paged.Order(StringComparer.Ordinal));
        }

        var error = await Assert.ThrowsAsync<VardbroException>(() => Sut.Patients.SearchPatientsAsync(new PatientQuery(null, "a", null, null, null), 2, "not-a-cursor", default));
        Assert.Equal(ErrorCodes.InvalidField, error.Errors[0].ErrorCode);
    }

    [Fact]
    public async Task Create_or_return_creates_a_patient_once()
    {
        var elin = new NewPatient("Elin", "Sjöberg", new TypedId(IdType.SePersonalNumber, "198702072391"), null, null, ["+46701234567"], ["elin@example.com"], new PostalAddress("Storgatan 1", "111 22", "Stockholm", "SE"));
        var made = await Sut.Patients.CreateOrReturnPatientAsync(Unit, elin, default);
        Assert.True(made.Created);
        Assert.Equal(new DateOnly(1987, 2, 7), made.Patient.BirthDate);
        Assert.Equal("male", made.Patient.Gender);
        Assert.Equal(["+46701234567"], made.Patient.Phones);
        Assert.Equal("Stockholm", made.Patient.Address?.City);

        var again = await Sut.Patients.CreateOrReturnPatientAsync(Unit, elin, default);
        Assert.False(again.Created);
        Assert.Equal(made.Patient.EmrId, again.Patient.EmrId);
        Assert.Equal(made.Patient.EmrId, (await Sut.Patients.FindPatientAsync(new TypedId(IdType.SePersonalNumber, "198702072391"), default))?.EmrId);
    }

    [Fact]
    public async Task Concurrent_identical_creates_make_one_patient()
    {
        var nils = new NewPatient("Nils", "Öhman", new TypedId(IdType.SePersonalNumber, "195008121856"), null, null, [], [], null);
        var results = await InParallelAsync(10, c => c.Patients.CreateOrReturnPatientAsync(Unit, nils, default));
        Assert.Single(results, r => r.Created);
        Assert.Single(results.Select(r => r.Patient.EmrId).Distinct());
    }

    [Fact]
    public async Task A_patient_update_replaces_the_given_fields_and_keeps_the_rest()
    {
        var made = (await Sut.Patients.CreateOrReturnPatientAsync(Unit, new NewPatient(
            "Maja", "Berg", new TypedId(IdType.SePersonalNumber, "194912062306"), null, null, ["+46701111111"], ["maja@example.com"],
            new PostalAddress("Storgatan 1", "111 22", "Stockholm", "SE")), default)).Patient;

        if (!HasPatientUpdates)
        {
            var refused = await Assert.ThrowsAsync<VardbroException>(() => Sut.PatientUpdates.UpdatePatientAsync(made.EmrId, new PatientChange(null, null, ["+46702222222"], null, null), default));
            Assert.Equal(ErrorCodes.NotSupported, refused.Errors[0].ErrorCode);
            Assert.Equal(["+46701111111"], (await Sut.Patients.FindPatientAsync(new TypedId(IdType.EmrId, made.EmrId), default))!.Phones);
            return;
        }

        // New phone and e-mail, names kept.
        var contacts = await Sut.PatientUpdates.UpdatePatientAsync(made.EmrId, new PatientChange(null, null, ["+46702222222"], ["maja.berg@example.com"], null), default);
        Assert.NotNull(contacts);
        Assert.Equal(["+46702222222"], contacts.Phones);
        Assert.Equal(["maja.berg@example.com"], contacts.Emails);
        Assert.Equal(("Maja", "Berg"), (contacts.FirstName, contacts.LastName));
        Assert.Equal("Stockholm", contacts.Address?.City);

        // New names and address; the contacts just set stay, and the national id never moves.
        var renamed = await Sut.PatientUpdates.UpdatePatientAsync(made.EmrId, new PatientChange("Maria", "Bergström", null, null, new PostalAddress("Ågatan 2", "222 33", "Lund", "SE")), default);
        Assert.NotNull(renamed);
        Assert.Equal(("Maria", "Bergström"), (renamed.FirstName, renamed.LastName));
        Assert.Equal(["+46702222222"], renamed.Phones);
        Assert.Equal(("Ågatan 2", "Lund"), (renamed.Address?.Street, renamed.Address?.City));

        // What is read back afterwards is the update, by national id and by a search under the new name.
        var read = await Sut.Patients.FindPatientAsync(new TypedId(IdType.SePersonalNumber, "194912062306"), default);
        Assert.Equal((made.EmrId, "Maria", "Bergström", "194912062306"), (read?.EmrId, read?.FirstName, read?.LastName, read?.SePersonalNumber));
        Assert.Equal(["+46702222222"], read?.Phones);
        var found = await Sut.Patients.SearchPatientsAsync(new PatientQuery(null, "bergstr", null, null, null), 10, null, default);
        Assert.Equal(made.EmrId, Assert.Single(found.Items).EmrId);

        // Empty lists remove every phone and e-mail.
        var cleared = await Sut.PatientUpdates.UpdatePatientAsync(made.EmrId, new PatientChange(null, null, [], [], null), default);
        Assert.Equal((0, 0), (cleared?.Phones.Count, cleared?.Emails.Count));

        Assert.Null(await Sut.PatientUpdates.UpdatePatientAsync("no-such-patient", new PatientChange("X", null, null, null, null), default));
    }

    // ---- availability and booking --------------------------------------------------------------

    [Fact]
    public async Task An_appointment_is_located_at_its_care_unit_and_an_unknown_one_nowhere()
    {
        var patient = await TolvanAsync();
        var slots = await FreeSlotsAsync();
        var booked = (await Sut.Booking.BookAsync(Unit, new NewAppointment(slots[1].Start, slots[1].End, patient, Anna, General, null), default)).Appointment;
        Assert.Equal(Unit, await Sut.Locator.FindAppointmentCareUnitAsync(booked.Id, default));
        Assert.Null(await Sut.Locator.FindAppointmentCareUnitAsync("no-such-appointment", default));
    }

    [Fact]
    public async Task A_listed_timeslot_can_be_booked_once_then_it_is_gone()
    {
        var patient = await TolvanAsync();
        var slot = (await FreeSlotsAsync())[0];
        var booking = await Sut.Booking.BookAsync(Unit, new NewAppointment(slot.Start, slot.End, patient, Anna, General, "Ont i halsen"), default);
        var appointment = booking.Appointment;
        Assert.Equal(AppointmentStatuses.Booked, appointment.Status);
        Assert.Equal((slot.Start, slot.End, Anna, patient, Unit), (appointment.Start, appointment.End, appointment.ResourceId, appointment.PatientEmrId, appointment.CareUnitId));
        Assert.Equal("Ont i halsen", appointment.Comment);

        Assert.DoesNotContain(await FreeSlotsAsync(), s => s.Start == slot.Start);
        var taken = await Assert.ThrowsAsync<ConflictException>(() => Sut.Booking.BookAsync(Unit, new NewAppointment(slot.Start, slot.End, patient, Anna, General, null), default));
        Assert.Equal(ErrorCodes.NoTimeslotsAvailable, taken.Errors[0].ErrorCode);
    }

    [Fact]
    public async Task A_cancelled_appointment_gives_its_timeslot_back()
    {
        var patient = await TolvanAsync();
        var slot = (await FreeSlotsAsync())[1];
        var booked = (await Sut.Booking.BookAsync(Unit, new NewAppointment(slot.Start, slot.End, patient, Anna, General, null), default)).Appointment;

        var cancelled = Assert.Single(await Sut.Booking.UpdateAsync(Unit, [booked.Id], new AppointmentChange(null, null, null, null, Cancel: true, null), default));
        Assert.Equal(AppointmentStatuses.Cancelled, cancelled.Status);
        Assert.Contains(await FreeSlotsAsync(), s => s.Start == slot.Start);
        Assert.Equal(AppointmentStatuses.Cancelled, (await Sut.Booking.GetAppointmentAsync(Unit, booked.Id, default))?.Status);

        var twice = await Assert.ThrowsAsync<ConflictException>(() => Sut.Booking.UpdateAsync(Unit, [booked.Id], new AppointmentChange(null, null, null, null, Cancel: true, null), default));
    }

    [Fact]
    public async Task A_time_no_schedule_offers_cannot_be_booked()
    {
        var patient = await TolvanAsync();
        var slot = (await FreeSlotsAsync())[0];
        var night = slot.Start.Date.AddHours(2);
        var start = new DateTimeOffset(night, slot.Start.Offset);
        var error = await Assert.ThrowsAsync<VardbroException>(() => Sut.Booking.BookAsync(Unit, new NewAppointment(start, start.AddMinutes(30), patient, Anna, General, null), default));
        Assert.Equal(ErrorCodes.NoTimeslotsAvailable, error.Errors[0].ErrorCode);
    }

    [Fact]
    public async Task Rescheduling_takes_the_new_timeslot_and_frees_the_old_one()
    {
        var patient = await TolvanAsync();
        var slots = await FreeSlotsAsync();
        var (from, to) = (slots[2], slots[5]);
        var booked = (await Sut.Booking.BookAsync(Unit, new NewAppointment(from.Start, from.End, patient, Anna, General, null), default)).Appointment;

        var moved = Assert.Single(await Sut.Booking.UpdateAsync(Unit, [booked.Id], new AppointmentChange(to.Start, to.End, null, null, Cancel: false, null), default));
        Assert.Equal((to.Start, to.End, AppointmentStatuses.Booked), (moved.Start, moved.End, moved.Status));
        var free = await FreeSlotsAsync();
        Assert.Contains(free, s => s.Start == from.Start);
        Assert.DoesNotContain(free, s => s.Start == to.Start);
    }

    [Fact]
    public async Task Appointments_are_listed_by_patient_and_read_and_an_unknown_one_is_absent()
    {
        var patient = await TolvanAsync();
        var slots = await FreeSlotsAsync();
        var a = (await Sut.Booking.BookAsync(Unit, new NewAppointment(slots[0].Start, slots[0].End, patient, Anna, General, null), default)).Appointment;
        var b = (await Sut.Booking.BookAsync(Unit, new NewAppointment(slots[3].Start, slots[3].End, patient, Anna, General, null), default)).Appointment;

        var page = await Sut.Booking.ListAppointmentsAsync(Unit, new AppointmentQuery(patient, null, null, null, null), 10, null, default);
        Assert.Equal([a.Id, b.Id], page.Items.Select(x => x.Id));
        var first = await Sut.Booking.ListAppointmentsAsync(Unit, new AppointmentQuery(patient, null, null, null, null), 1, null, default);
        Assert.Equal(a.Id, Assert.Single(first.Items).Id);
        var rest = await Sut.Booking.ListAppointmentsAsync(Unit, new AppointmentQuery(patient, null, null, null, null), 1, first.NextCursor, default);
        Assert.Equal(b.Id, Assert.Single(rest.Items).Id);

        Assert.Equal(b.Start, (await Sut.Booking.GetAppointmentAsync(Unit, b.Id, default))?.Start);
        Assert.Null(await Sut.Booking.GetAppointmentAsync(Unit, "no-such-appointment", default));
        var missing = await Assert.ThrowsAsync<VardbroException>(() => Sut.Booking.UpdateAsync(Unit, [a.Id, "no-such-appointment"], new AppointmentChange(null, null, null, null, Cancel: true, null), default));
        Assert.Equal(ErrorCodes.NotFound, missing.Errors[0].ErrorCode);
        Assert.Equal(AppointmentStatuses.Booked, (await Sut.Booking.GetAppointmentAsync(Unit, a.Id, default))?.Status);
    }

    [Fact]
    public async Task Updated_since_lists_the_appointments_changed_at_or_after_that_instant()
    {
        var patient = await TolvanAsync();
        var slots = await FreeSlotsAsync();
        var a = (await Sut.Booking.BookAsync(Unit, new NewAppointment(slots[0].Start, slots[0].End, patient, Anna, General, null), default)).Appointment;
        var b = (await Sut.Booking.BookAsync(Unit, new NewAppointment(slots[3].Start, slots[3].End, patient, Anna, General, null), default)).Appointment;
        AppointmentQuery Since(DateTimeOffset instant) => new(null, null, null, null, null, instant);

        Assert.Equal([a.Id, b.Id], (await Sut.Booking.ListAppointmentsAsync(Unit, Since(a.UpdatedAt), 10, null, default)).Items.Select(x => x.Id));

        // Some EHRs keep the time of a change to the second: the cancellation comes in a later one.
        await Task.Delay(TimeSpan.FromMilliseconds(1100));
        var cancelled = Assert.Single(await Sut.Booking.UpdateAsync(Unit, [a.Id], new AppointmentChange(null, null, null, null, Cancel: true, null), default));
        Assert.True(cancelled.UpdatedAt > b.UpdatedAt, $"{cancelled.UpdatedAt:O} after {b.UpdatedAt:O}");
        var changed = await Sut.Booking.ListAppointmentsAsync(Unit, Since(cancelled.UpdatedAt), 10, null, default);
        Assert.Equal([(a.Id, AppointmentStatuses.Cancelled)], changed.Items.Select(x => (x.Id, x.Status)));
        Assert.Empty((await Sut.Booking.ListAppointmentsAsync(Unit, Since(cancelled.UpdatedAt.AddSeconds(2)), 10, null, default)).Items);

        // Paged like any list, and combined with the other filters.
        var first = await Sut.Booking.ListAppointmentsAsync(Unit, Since(a.UpdatedAt), 1, null, default);
        Assert.Equal(a.Id, Assert.Single(first.Items).Id);
        var rest = await Sut.Booking.ListAppointmentsAsync(Unit, Since(a.UpdatedAt), 1, first.NextCursor, default);
        Assert.Equal(b.Id, Assert.Single(rest.Items).Id);
        Assert.Equal([b.Id], (await Sut.Booking.ListAppointmentsAsync(Unit, Since(a.UpdatedAt) with { Status = AppointmentStatuses.Booked }, 10, null, default)).Items.Select(x => x.Id));
    }

    [Fact]
    public async Task Concurrent_bookings_of_one_timeslot_make_one_appointment()
    {
        var patient = await TolvanAsync();
        var slot = (await FreeSlotsAsync())[7];
        var outcomes = await InParallelAsync(10, async c =>
        {
            try
            {
                await c.Booking.BookAsync(Unit, new NewAppointment(slot.Start, slot.End, patient, Anna, General, null), default);
                return 201;
            }
            catch (VardbroException ex) when (ex.Errors[0].ErrorCode == ErrorCodes.NoTimeslotsAvailable)
            {
                return ex is ConflictException ? 409 : 400;
            }
        });
        Assert.Equal(1, outcomes.Count(o => o == 201));
        Assert.Equal(9, outcomes.Count(o => o == 409));
        var booked = await Sut.Booking.ListAppointmentsAsync(Unit, new AppointmentQuery(null, Anna, slot.Start, slot.End, AppointmentStatuses.Booked), 10, null, default);
        Assert.Single(booked.Items);
    }

    // ---- notes and documents -------------------------------------------------------------------

    [Fact]
    public async Task A_note_is_written_unsigned_and_read_back_newest_first()
    {
        var patient = await TolvanAsync();

        // What the EHR wrote itself before (a vendor's seed may have some) stays listed, older than these.
        var before = (await Sut.Notes.ListNotesAsync(Unit, patient, 10, null, default)).Items.Select(n => n.Id).ToList();
        var first = await Sut.Notes.CreateNoteAsync(Unit, new NewMedicalNote(patient, NoteTemplates.UnstructuredId, "Första besöket", new Dictionary<string, string> { ["unstructured"] = "Patienten mår bra.\nÅterbesök vid behov." }, Anna), default);
        Assert.False(first.IsSigned);
        Assert.Null(first.SignedAt);
        var acute = new Dictionary<string, string>
        {
            ["reason_for_visit"] = "Feber",
            ["assessment"] = "Viral infektion",
        };
        var second = await Sut.Notes.CreateNoteAsync(Unit, new NewMedicalNote(patient, NoteTemplates.AcuteVisitId, "Akut besök", acute, Anna), default);

        var read = await Sut.Notes.GetNoteAsync(Unit, patient, first.Id, default);
        Assert.NotNull(read);
        Assert.Equal(("Första besöket", NoteTemplates.UnstructuredId, Anna), (read.Title, read.TemplateId, read.CreatedById));
        Assert.Equal("Patienten mår bra.\nÅterbesök vid behov.", read.Content["unstructured"]);
        Assert.Equal(acute, (await Sut.Notes.GetNoteAsync(Unit, patient, second.Id, default))?.Content);

        var list = await Sut.Notes.ListNotesAsync(Unit, patient, 10, null, default);
        Assert.Equal([second.Id, first.Id, .. before], list.Items.Select(n => n.Id));
        Assert.Null(await Sut.Notes.GetNoteAsync(Unit, patient, "no-such-note", default));
    }

    [Fact]
    public async Task A_document_keeps_its_bytes()
    {
        var patient = await TolvanAsync();
        var notesBefore = (await Sut.Notes.ListNotesAsync(Unit, patient, 10, null, default)).Items.Select(n => n.Id).ToList();
        var documentsBefore = (await Sut.Documents.ListDocumentsAsync(Unit, patient, 10, null, default)).Items.Select(d => d.Id).ToList();
        var bytes = Encoding.ASCII.GetBytes("%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n").Concat(RandomNumberGenerator.GetBytes(3000)).ToArray();
        var sha = Convert.ToHexStringLower(SHA256.HashData(bytes));
        var stored = await Sut.Documents.StoreDocumentAsync(Unit, new NewDocument(patient, "Remiss", "referral", DocumentFormats.Pdf, Anna, bytes, sha), default);
        Assert.Equal((bytes.LongLength, sha, DocumentFormats.Pdf, "referral"), (stored.SizeBytes, stored.Sha256, stored.Format, stored.Type));

        var info = await Sut.Documents.GetDocumentAsync(Unit, patient, stored.Id, default);
        Assert.Equal(("Remiss", sha), (info?.Title, info?.Sha256));
        await using (var content = await Sut.Documents.OpenContentAsync(Unit, patient, stored.Id, default))
        {
            Assert.NotNull(content);
            using var copy = new MemoryStream();
            await content.CopyToAsync(copy);
            Assert.Equal(bytes, copy.ToArray());
        }

        Assert.Equal([stored.Id, .. documentsBefore], (await Sut.Documents.ListDocumentsAsync(Unit, patient, 10, null, default)).Items.Select(d => d.Id));
        Assert.Null(await Sut.Documents.OpenContentAsync(Unit, patient, "no-such-document", default));

        // A document is not a note.
        Assert.Equal(notesBefore, (await Sut.Notes.ListNotesAsync(Unit, patient, 10, null, default)).Items.Select(n => n.Id));
    }

    // ---- helpers -------------------------------------------------------------------------------

    protected async Task<string> TolvanAsync() =>
        (await Sut.Patients.FindPatientAsync(TolvanId, default))?.EmrId ?? throw new InvalidOperationException("Tolvan is missing from the test data.");

    /// <summary>Anna's free general-consultation timeslots in the coming 14 days.</summary>
    protected async Task<IReadOnlyList<Timeslot>> FreeSlotsAsync()
    {
        var now = TimeProvider.System.GetUtcNow();
        var slots = await Sut.Scheduling.ListTimeslotsAsync(Unit, new TimeslotQuery(now, now.AddDays(14), Anna, General), default);
        Assert.True(slots.Count >= 10, $"Expected at least 10 free timeslots, found {slots.Count}.");
        Assert.Equal(slots.OrderBy(s => s.Start), slots);
        Assert.All(slots, s => Assert.True(s.Start > now && s.End - s.Start == TimeSpan.FromMinutes(30) && s.ResourceId == Anna));
        return slots;
    }

    private async Task<T[]> InParallelAsync<T>(int count, Func<ConnectorUnderTest, Task<T>> work)
    {
        var connectors = new List<ConnectorUnderTest>();
        for (var i = 0; i < count; i++)
        {
            connectors.Add(await OpenAsync());
        }

        try
        {
            using var gate = new ManualResetEventSlim(false);
            var tasks = connectors.Select(c => Task.Run(async () =>
            {
                gate.Wait();
                return await work(c);
            })).ToList();
            gate.Set();
            return await Task.WhenAll(tasks);
        }
        finally
        {
            foreach (var c in connectors)
            {
                await c.DisposeAsync();
            }
        }
    }
}
