using System.Globalization;
using F = Hl7.Fhir.Model;

namespace Vardbro.Connectors.Fhir;

/// <summary>
/// The booking profiles other than writing the Slot (README "Connecting a FHIR R4 server"):
/// <see cref="FhirBooking.AppointmentWithSlot"/>, where the server consumes the Slot a booked
/// Appointment names and refuses a taken one, and <see cref="FhirBooking.FindBook"/>, where
/// <c>Appointment/$find</c> proposes and <c>$book</c> books. Changes go through JSON Patch on the
/// Appointment with If-Match in both.
/// </summary>
public sealed partial class FhirConnector
{
    /// <summary>The profile in force: the setting, or (auto) what the CapabilityStatement declares.</summary>
    private async Task<FhirBooking> BookingAsync(CancellationToken cancellationToken)
    {
        if (settings.Booking != FhirBooking.Auto)
        {
            return settings.Booking;
        }

        var capabilities = await CapabilitiesAsync(cancellationToken);
        if (!capabilities.Known || capabilities.Declares("Slot", "update"))
        {
            return FhirBooking.SlotUpdate;
        }

        if (capabilities.Operation("Appointment", "book") || capabilities.Operation("Appointment", "$book"))
        {
            return FhirBooking.FindBook;
        }

        return capabilities.Declares("Appointment", "create")
            ? FhirBooking.AppointmentWithSlot
            : throw new VardbroException(ErrorCodes.NotSupported, "The EMR's FHIR server declares no way to book: no Slot update, no Appointment $book, no Appointment create.", "emr");
    }

    // ---- appointment-with-slot ------------------------------------------------------------------

    /// <summary>
    /// Creates the Appointment booked with the one free Slot of that start and end, the patient its
    /// one participant; the server fills in the rest from the Slot and takes it. A refusal while the
    /// Slot is no longer free is the race lost: 409.
    /// </summary>
    private async Task<Appointment> BookWithSlotAsync(string careUnitId, NewAppointment appointment, CancellationToken cancellationToken)
    {
        foreach (var slot in await FreeSlotsAsync(careUnitId, appointment.Start, appointment.End, appointment.ResourceId, appointment.HealthcareServiceId, "start", cancellationToken))
        {
            var fhir = new F.Appointment
            {
                Status = F.Appointment.AppointmentStatus.Booked,
                Slot = [new F.ResourceReference("Slot/" + slot.Id)],
                Comment = appointment.Comment,
                Participant = [new F.Appointment.ParticipantComponent { Actor = new F.ResourceReference("Patient/" + appointment.PatientEmrId), Status = F.ParticipationStatus.Accepted }],
            };
            try
            {
                var (created, _) = await http.CreateAsync(fhir, null, cancellationToken);
                return FhirMapping.ToAppointment(created, Now());
            }
            catch (VardbroException)
            {
                if (await IsFreeAsync(slot.Id!, cancellationToken))
                {
                    throw;
                }

                // Taken meanwhile; another free Slot of the same time may remain.
            }
            catch (EmrUnavailableException)
            {
                // The create may have happened with only its answer lost.
                if (await BookedWithAsync(appointment, slot.Id!) is not { } made)
                {
                    throw;
                }

                return FhirMapping.ToAppointment(made, Now());
            }
        }

        throw SlotTaken("start");
    }

    /// <summary>
    /// The free Slots with exactly this start and end (of one resource); refusals as the API promises
    /// them: not offered 400, offered by several resources 400 AMBIGUOUS, all taken 409.
    /// </summary>
    private async Task<List<F.Slot>> FreeSlotsAsync(string careUnitId, DateTimeOffset start, DateTimeOffset end, string? resourceId, string? serviceId, string path, CancellationToken cancellationToken)
    {
        var (candidates, schedules) = await SlotsAtAsync(careUnitId, resourceId, serviceId, start, start.AddSeconds(1), freeOnly: false, cancellationToken);
        var offered = candidates.Where(s => s.Start == start && s.End == end && ScheduleOf(s, schedules) is not null).ToList();
        if (offered.Count == 0 && start > Now() && await HeldAsync(careUnitId, resourceId, start, end, cancellationToken))
        {
            // A server that lists only free Slots (Millennium) hides a taken one: the Appointment holding that time shows it.
            throw SlotTaken(path);
        }

        if (offered.Count == 0 || start <= Now())
        {
            throw new VardbroException(ErrorCodes.NoTimeslotsAvailable, "No schedule offers a timeslot with exactly that start and end; GET …/timeslots lists them.", path);
        }

        var free = offered.Where(s => s.Status == F.Slot.SlotStatus.Free).ToList();
        if (free.Select(s => ScheduleOf(s, schedules)!.ResourceId).Distinct(StringComparer.Ordinal).Count() > 1)
        {
            throw new VardbroException(ErrorCodes.AmbiguousTimeslots, "Several resources offer that timeslot; give resource_id.", "resource_id");
        }

        return free.Count > 0 ? free : throw SlotTaken(path);
    }

    /// <summary>Whether a booked Appointment of the resource (any of the care unit's) holds exactly [start, end).</summary>
    private async Task<bool> HeldAsync(string careUnitId, string? resourceId, DateTimeOffset start, DateTimeOffset end, CancellationToken cancellationToken)
    {
        var practitioners = resourceId is { } one ? [one] : (await ListResourcesAsync(careUnitId, cancellationToken)).Select(r => r.Id).ToList();
        foreach (var practitioner in practitioners.Where(FhirIds.IsValid))
        {
            var query = $"Appointment?practitioner=Practitioner/{practitioner}&date={Q("ge" + Instant(start))}&date={Q("lt" + Instant(end))}";
            if ((await http.SearchAllAsync<F.Appointment>(query, cancellationToken)).Exists(a =>
                a.Start == start && a.End == end && a.Status is F.Appointment.AppointmentStatus.Booked or F.Appointment.AppointmentStatus.Arrived or F.Appointment.AppointmentStatus.CheckedIn or F.Appointment.AppointmentStatus.Pending
                && a.Participant.Any(p => FhirIds.OfReference(p.Actor?.Reference, "Location") == careUnitId)))
            {
                return true;
            }
        }

        return false;
    }

    private async Task<bool> IsFreeAsync(string slotId, CancellationToken cancellationToken) =>
        (await http.ReadAsync<F.Slot>("Slot/" + slotId, cancellationToken))?.Status == F.Slot.SlotStatus.Free;

    /// <summary>The patient's Appointment holding that Slot, if the server has one (a create whose answer was lost).</summary>
    private async Task<F.Appointment?> BookedWithAsync(NewAppointment appointment, string slotId)
    {
        try
        {
            using var timeout = new CancellationTokenSource(settings.Timeout);
            var query = $"Appointment?patient=Patient/{appointment.PatientEmrId}&date={Q("ge" + Instant(appointment.Start))}&date={Q("lt" + Instant(appointment.End.AddSeconds(1)))}";
            return (await http.SearchAllAsync<F.Appointment>(query, timeout.Token))
                .FirstOrDefault(a => a.Status == F.Appointment.AppointmentStatus.Booked && a.Slot.Any(s => FhirIds.OfReference(s.Reference, "Slot") == slotId));
        }
        catch (Exception ex) when (ex is EmrUnavailableException or EmrBadAnswerException or VardbroException or OperationCanceledException)
        {
            return null;
        }
    }

    // ---- find-book ------------------------------------------------------------------------------

    /// <summary>
    /// Timeslots as the server proposes them (<c>Appointment/$find</c>), asked one practitioner and one
    /// day at a time so that no answer reaches the server's cap on proposals unnoticed.
    /// </summary>
    private async Task<IReadOnlyList<Timeslot>> FindTimeslotsAsync(string careUnitId, TimeslotQuery query, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var services = await ServicesAtAsync(careUnitId, cancellationToken);
        var practitioners = query.ResourceId is { } one ? [one] : (await ListResourcesAsync(careUnitId, cancellationToken)).Select(r => r.Id).ToList();
        var from = query.Start > now ? query.Start : now;
        var slots = new List<Timeslot>();
        foreach (var practitioner in practitioners)
        {
            for (var day = from; day < query.End; day = day.AddDays(1))
            {
                var until = day.AddDays(1) < query.End ? day.AddDays(1) : query.End;
                foreach (var proposal in await FindAsync(careUnitId, practitioner, query.HealthcareServiceId, services, day, until, null, cancellationToken))
                {
                    if (proposal.Start is { } start && proposal.End is { } end && start > now && start >= from && start < query.End)
                    {
                        slots.Add(new Timeslot(start, end, practitioner, query.HealthcareServiceId ?? ServiceOf(proposal, services), careUnitId));
                    }
                }
            }
        }

        return slots.OrderBy(t => t.Start).ThenBy(t => t.ResourceId, StringComparer.Ordinal).ToList();
    }

    private const int FindCap = 50;

    /// <summary>The proposed Appointments of one practitioner in [from, to).</summary>
    private async Task<List<F.Appointment>> FindAsync(
        string careUnitId, string practitioner, string? serviceId, List<F.HealthcareService> services, DateTimeOffset from, DateTimeOffset to, string? patientEmrId, CancellationToken cancellationToken)
    {
        var parameters = new F.Parameters();
        parameters.Add("start", new F.Instant(from));
        parameters.Add("end", new F.Instant(to));
        parameters.Add("practitioner", new F.ResourceReference("Practitioner/" + practitioner));
        parameters.Add("location-reference", new F.ResourceReference("Location/" + careUnitId));
        foreach (var coding in services.Where(s => serviceId is null || s.Id == serviceId).SelectMany(s => s.Type.SelectMany(t => t.Coding)))
        {
            parameters.Add("visit-type", coding);
        }

        if (patientEmrId is not null)
        {
            parameters.Add("patient-reference", new F.ResourceReference("Patient/" + patientEmrId));
        }

        var bundle = await http.OperationAsync($"Appointment/$find?_count={FindCap.ToString(CultureInfo.InvariantCulture)}", parameters, cancellationToken);
        var proposals = FhirHttp.Matches<F.Appointment>(bundle);
        return proposals.Count < FindCap
            ? proposals
            : throw new EmrBadAnswerException($"The EMR proposed {FindCap} or more appointments for one practitioner and day, more than it answers at once.");
    }

    private static string? ServiceOf(F.Appointment proposal, List<F.HealthcareService> services)
    {
        var matching = services.Where(s => s.Type.SelectMany(t => t.Coding).Any(c => proposal.ServiceType.SelectMany(t => t.Coding).Any(o => o.Code == c.Code && o.System == c.System))).ToList();
        return matching.Count == 1 ? matching[0].Id : null;
    }

    /// <summary>
    /// Books the proposal with exactly this start and end through <c>$book</c> (with
    /// <paramref name="replacing"/> cancelled in the same operation: a reschedule). No proposal: the
    /// timeslot is not offered (400) or taken (409), told apart by its Slot where the server has one.
    /// A <c>$book</c> answered with the Appointment cancelled or a conflict is the race lost: 409.
    /// </summary>
    private async Task<Appointment> FindAndBookAsync(string careUnitId, NewAppointment appointment, string? replacing, string path, CancellationToken cancellationToken)
    {
        if (appointment.Start <= Now())
        {
            throw new VardbroException(ErrorCodes.NoTimeslotsAvailable, "No schedule offers a timeslot with exactly that start and end; GET …/timeslots lists them.", path);
        }

        var services = await ServicesAtAsync(careUnitId, cancellationToken);
        var practitioners = appointment.ResourceId is { } one ? [one] : (await ListResourcesAsync(careUnitId, cancellationToken)).Select(r => r.Id).ToList();
        var proposals = new List<F.Appointment>();
        foreach (var practitioner in practitioners)
        {
            proposals.AddRange((await FindAsync(careUnitId, practitioner, appointment.HealthcareServiceId, services, appointment.Start, appointment.End, appointment.PatientEmrId, cancellationToken))
                .Where(p => p.Start == appointment.Start && p.End == appointment.End));
        }

        var owners = proposals.Select(p => p.Participant.Select(x => FhirIds.OfReference(x.Actor?.Reference, "Practitioner")).FirstOrDefault(id => id is not null)).Distinct(StringComparer.Ordinal).ToList();
        if (owners.Count > 1)
        {
            throw new VardbroException(ErrorCodes.AmbiguousTimeslots, "Several resources offer that timeslot; give resource_id.", "resource_id");
        }

        if (proposals.Count == 0)
        {
            // Not proposed: not offered, or taken. Where Slots can be read, they tell which.
            var (slots, schedules) = await SlotsAtAsync(careUnitId, appointment.ResourceId, appointment.HealthcareServiceId, appointment.Start, appointment.Start.AddSeconds(1), freeOnly: false, cancellationToken);
            throw slots.Exists(s => s.Start == appointment.Start && s.End == appointment.End && ScheduleOf(s, schedules) is not null)
                ? SlotTaken(path)
                : new VardbroException(ErrorCodes.NoTimeslotsAvailable, "No schedule offers a timeslot with exactly that start and end; GET …/timeslots lists them.", path);
        }

        var proposal = proposals[0];
        proposal.Comment = appointment.Comment;
        if (!proposal.Participant.Any(p => FhirIds.OfReference(p.Actor?.Reference, "Patient") == appointment.PatientEmrId))
        {
            proposal.Participant.Add(new F.Appointment.ParticipantComponent { Actor = new F.ResourceReference("Patient/" + appointment.PatientEmrId), Status = F.ParticipationStatus.NeedsAction });
        }

        var parameters = new F.Parameters();
        parameters.Add("appt-resource", proposal);
        if (appointment.Comment is not null)
        {
            // Argonaut Scheduling $book "comment" ("Comments or special instructions"): the operation's
            // own place for it; a server may ignore Appointment.comment in appt-resource.
            parameters.Add("comment", new F.FhirString(appointment.Comment));
        }

        if (replacing is not null)
        {
            parameters.Add("cancelled-appt-id", new F.FhirUri("Appointment/" + replacing));
        }

        var answer = await http.OperationAsync("Appointment/$book", parameters, cancellationToken);
        var booked = FhirHttp.Matches<F.Appointment>(answer).FirstOrDefault() ?? answer.Entry.Select(e => e.Resource).OfType<F.Appointment>().FirstOrDefault();
        var refused = answer.Entry.Select(e => e.Resource).OfType<F.OperationOutcome>()
            .Any(o => o.Issue.Any(i => i.Severity is F.OperationOutcome.IssueSeverity.Error or F.OperationOutcome.IssueSeverity.Fatal));
        if (booked is null || refused || booked.Status is F.Appointment.AppointmentStatus.Cancelled)
        {
            throw SlotTaken(path);
        }

        return FhirMapping.ToAppointment(booked, Now());
    }

    // ---- changes by JSON Patch ------------------------------------------------------------------

    /// <summary>
    /// Cancels, moves or comments one Appointment by JSON Patch with If-Match, as both profiles'
    /// servers document it: a cancel frees the Slot at the server, a move names the new Slot (or, on
    /// a <c>$book</c> server, books the new time cancelling this one).
    /// </summary>
    private async Task<Appointment> PatchAsync(string careUnitId, F.Appointment fhir, AppointmentChange change, FhirBooking booking, string path, CancellationToken cancellationToken)
    {
        var operations = new List<object>();
        if (change.Cancel)
        {
            operations.Add(new Dictionary<string, object> { ["op"] = "replace", ["path"] = "/status", ["value"] = "cancelled" });
        }
        else if (change.Start is not null || change.ResourceId is not null)
        {
            var record = FhirMapping.ToAppointment(fhir, Now());
            var start = change.Start ?? record.Start;
            var end = change.End ?? record.End;
            var resourceId = change.ResourceId ?? record.ResourceId;
            var field = path == "appointment_id" ? "start" : path;
            if (booking == FhirBooking.FindBook)
            {
                return await FindAndBookAsync(careUnitId, new NewAppointment(start, end, record.PatientEmrId, resourceId, record.HealthcareServiceId, change.Comment ?? record.Comment), fhir.Id, field, cancellationToken);
            }

            var slot = (await FreeSlotsAsync(careUnitId, start, end, resourceId, record.HealthcareServiceId, field, cancellationToken))[0];
            operations.Add(new Dictionary<string, object> { ["op"] = "replace", ["path"] = "/slot", ["value"] = new[] { new Dictionary<string, string> { ["reference"] = "Slot/" + slot.Id } } });
        }

        if (change.Comment is not null)
        {
            operations.Add(new Dictionary<string, object> { ["op"] = fhir.Comment is null ? "add" : "replace", ["path"] = "/comment", ["value"] = change.Comment });
        }

        if (operations.Count == 0)
        {
            return FhirMapping.ToAppointment(fhir, Now());
        }

        try
        {
            return FhirMapping.ToAppointment(await http.PatchAsync<F.Appointment>("Appointment/" + fhir.Id, operations, fhir.Meta?.VersionId, cancellationToken), Now());
        }
        catch (VardbroException) when (!change.Cancel && change.Start is not null)
        {
            // The new Slot was refused: taken meanwhile (the server says no more than that).
            throw SlotTaken(path == "appointment_id" ? "start" : path);
        }
    }

    private static ConflictException SlotTaken(string path) =>
        new(ErrorCodes.NoTimeslotsAvailable, "That timeslot is already booked; GET …/timeslots lists the free ones.", path);
}
