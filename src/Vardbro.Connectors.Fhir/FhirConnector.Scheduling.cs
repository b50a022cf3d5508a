using System.Globalization;
using System.Text;
using F = Hl7.Fhir.Model;

namespace Vardbro.Connectors.Fhir;

/// <summary>
/// Schedules, timeslots and appointments. A FHIR server's free <c>Slot</c>s are the timeslots; a
/// booking first marks its Slot busy with a versioned update (If-Match), then creates the
/// Appointment — so of two concurrent bookings of one Slot, through any number of Vardbro
/// instances, the server lets exactly one through.
/// </summary>
public sealed partial class FhirConnector
{
    /// <summary>A Schedule reduced to what booking needs: whose it is and which services it offers (none: all).</summary>
    private sealed record ScheduleInfo(string Id, string ResourceId, IReadOnlyList<string> ServiceIds)
    {
        public bool Offers(string? serviceId) => serviceId is null || ServiceIds.Count == 0 || ServiceIds.Contains(serviceId);
    }

    private static readonly string[] ResourceTypes = ["Practitioner", "Device", "Location"];

    /// <summary>
    /// The Slots of the care unit's resources in [from, to) (free ones only with <paramref name="freeOnly"/>)
    /// and the schedules they belong to, found the way the server's CapabilityStatement allows:
    /// schedule-led (Schedules by actor, then Slots by <c>schedule</c>), or actor-led where Schedules
    /// cannot be searched (Slots by <c>schedule.actor</c> and <c>service-type</c>, as Oracle Health's
    /// Millennium documents).
    /// </summary>
    private async Task<(List<F.Slot> Slots, List<ScheduleInfo> Schedules)> SlotsAtAsync(
        string careUnitId, string? resourceId, string? serviceId, DateTimeOffset from, DateTimeOffset to, bool freeOnly, CancellationToken cancellationToken)
    {
        var capabilities = await CapabilitiesAsync(cancellationToken);
        if (capabilities.Searches("Schedule", "actor") && capabilities.Searches("Slot", "schedule"))
        {
            var schedules = await SchedulesAsync(careUnitId, resourceId, serviceId, cancellationToken);
            return (await SlotsAsync(schedules, from, to, freeOnly, capabilities, cancellationToken), schedules);
        }

        if (capabilities.Searches("Slot", "schedule.actor"))
        {
            return await SlotsByActorAsync(careUnitId, resourceId, serviceId, from, to, freeOnly, capabilities, cancellationToken);
        }

        throw new VardbroException(ErrorCodes.NotSupported, "The EMR's FHIR server declares no Slot search by schedule or by the schedule's actor.", "emr");
    }

    private async Task<List<ScheduleInfo>> SchedulesAsync(string careUnitId, string? resourceId, string? serviceId, CancellationToken cancellationToken)
    {
        if (!FhirIds.IsValid(careUnitId) || (resourceId is not null && !FhirIds.IsValid(resourceId)))
        {
            return [];
        }

        // A practitioner's schedule may name them, one of their roles, or only the care unit's Location.
        var roles = await RolesAtAsync(careUnitId, resourceId, cancellationToken);
        var roleOwners = roles.Where(r => r.Id is not null)
            .Select(r => (Role: r.Id!, Practitioner: FhirIds.OfReference(r.Practitioner?.Reference, "Practitioner")))
            .Where(r => r.Practitioner is not null)
            .ToDictionary(r => r.Role, r => r.Practitioner!, StringComparer.Ordinal);
        var query = resourceId is null
            ? $"Schedule?actor=Location/{careUnitId}&_count=100"
            : $"Schedule?actor={Q(string.Join(',', roleOwners.Keys.Select(r => "PractitionerRole/" + r).Prepend("Practitioner/" + resourceId)))}&_count=100";
        var schedules = await http.SearchAllAsync<F.Schedule>(query, cancellationToken);
        var practitionersHere = roleOwners.Values.ToHashSet(StringComparer.Ordinal);
        var result = new List<ScheduleInfo>();
        foreach (var schedule in schedules.Where(s => s.Id is not null && s.Active != false))
        {
            var actors = schedule.Actor.Select(a => a.Reference).ToList();
            var location = actors.Select(a => FhirIds.OfReference(a, "Location")).FirstOrDefault(id => id is not null);
            var owner = actors.Select(a => FhirIds.OfReference(a, "PractitionerRole") is { } role ? roleOwners.GetValueOrDefault(role) : null).FirstOrDefault(id => id is not null)
                ?? actors.Select(a => ResourceTypes.Select(t => (Type: t, Id: FhirIds.OfReference(a, t))).FirstOrDefault(x => x.Id is not null && !(x.Type == "Location" && x.Id == careUnitId)).Id).FirstOrDefault(id => id is not null);
            if (owner is null || (resourceId is not null && owner != resourceId))
            {
                continue;
            }

            // Without a Location actor a schedule counts here when its practitioner has a role here.
            if (location is not null ? location != careUnitId : !practitionersHere.Contains(owner))
            {
                continue;
            }

            var info = new ScheduleInfo(schedule.Id!, owner, actors.Select(a => FhirIds.OfReference(a, "HealthcareService")).OfType<string>().ToList());
            if (info.Offers(serviceId))
            {
                result.Add(info);
            }
        }

        return result;
    }

    private async Task<List<F.Slot>> SlotsAsync(IReadOnlyList<ScheduleInfo> schedules, DateTimeOffset from, DateTimeOffset to, bool freeOnly, FhirCapabilities capabilities, CancellationToken cancellationToken)
    {
        if (schedules.Count == 0 || from >= to)
        {
            return [];
        }

        var query = new StringBuilder("Slot?schedule=")
            .Append(Q(string.Join(',', schedules.Select(s => "Schedule/" + s.Id))))
            .Append("&start=").Append(Q("ge" + Instant(from)))
            .Append("&start=").Append(Q("lt" + Instant(to)))
            .Append("&_count=500");
        if (freeOnly && capabilities.Searches("Slot", "status"))
        {
            query.Append("&status=free");
        }

        var slots = await http.SearchAllAsync<F.Slot>(query.ToString(), cancellationToken);

        // The server's search is the first filter, not the last word: check what it returned.
        return slots.Where(s => s.Id is not null && s.Start is { } start && s.End is not null && start >= from && start < to && (!freeOnly || s.Status == F.Slot.SlotStatus.Free)).ToList();
    }

    /// <summary>
    /// Slots by the practitioner their schedule is for and the service types the care unit offers
    /// (HealthcareService.type), one practitioner at a time; the schedules are made from what the
    /// Slots say, since the server cannot search Schedules.
    /// </summary>
    private async Task<(List<F.Slot> Slots, List<ScheduleInfo> Schedules)> SlotsByActorAsync(
        string careUnitId, string? resourceId, string? serviceId, DateTimeOffset from, DateTimeOffset to, bool freeOnly, FhirCapabilities capabilities, CancellationToken cancellationToken)
    {
        if (from >= to || !FhirIds.IsValid(careUnitId) || (resourceId is not null && !FhirIds.IsValid(resourceId)))
        {
            return ([], []);
        }

        var services = (await ServicesAtAsync(careUnitId, cancellationToken)).Where(s => serviceId is null || s.Id == serviceId).ToList();
        var types = services.SelectMany(s => s.Type.SelectMany(t => t.Coding)).Where(c => c.Code is not null).ToList();
        if (capabilities.Searches("Slot", "service-type") && types.Count == 0)
        {
            return ([], []);
        }

        var practitioners = resourceId is not null ? [resourceId] : (await ListResourcesAsync(careUnitId, cancellationToken)).Select(r => r.Id).ToList();
        var slots = new List<F.Slot>();
        var schedules = new Dictionary<string, ScheduleInfo>(StringComparer.Ordinal);
        foreach (var practitioner in practitioners)
        {
            var query = new StringBuilder("Slot?schedule.actor=").Append(Q("Practitioner/" + practitioner));
            if (capabilities.Searches("Slot", "service-type"))
            {
                query.Append("&service-type=").Append(Q(string.Join(',', types.Select(c => c.System is null ? c.Code : c.System + "|" + c.Code).Distinct(StringComparer.Ordinal))));
            }

            query.Append("&start=").Append(Q("ge" + Instant(from))).Append("&start=").Append(Q("lt" + Instant(to))).Append("&_count=200");
            foreach (var slot in await http.SearchAllAsync<F.Slot>(query.ToString(), cancellationToken))
            {
                if (slot.Id is null || slot.Start is not { } start || slot.End is null || start < from || start >= to || (freeOnly && slot.Status != F.Slot.SlotStatus.Free)
                    || FhirIds.OfReference(slot.Schedule?.Reference, "Schedule") is not { } scheduleId)
                {
                    continue;
                }

                var offered = services.Where(s => s.Id is not null && s.Type.SelectMany(t => t.Coding).Any(c => slot.ServiceType.SelectMany(t => t.Coding).Any(o => o.Code == c.Code && o.System == c.System)))
                    .Select(s => s.Id!).ToList();
                if (serviceId is not null && offered.Count == 0)
                {
                    continue;
                }

                schedules.TryAdd(scheduleId, new ScheduleInfo(scheduleId, practitioner, offered));
                slots.Add(slot);
            }
        }

        return (slots, [.. schedules.Values]);
    }

    private static ScheduleInfo? ScheduleOf(F.Slot slot, IReadOnlyList<ScheduleInfo> schedules)
    {
        var id = FhirIds.OfReference(slot.Schedule?.Reference, "Schedule");
        return schedules.FirstOrDefault(s => s.Id == id);
    }

    // ---- schedules -----------------------------------------------------------------------------

    public async Task<IReadOnlyList<ScheduleWindow>> ListScheduleWindowsAsync(string careUnitId, string resourceId, DateTimeOffset rangeStart, DateTimeOffset rangeEnd, CancellationToken cancellationToken)
    {
        var (slots, schedules) = await SlotsAtAsync(careUnitId, resourceId, null, rangeStart, rangeEnd, freeOnly: false, cancellationToken);

        // Back-to-back Slots of one Schedule make one working window.
        var windows = new List<ScheduleWindow>();
        foreach (var group in slots.GroupBy(s => ScheduleOf(s, schedules)).Where(g => g.Key is not null))
        {
            var schedule = group.Key!;
            ScheduleWindow? open = null;
            foreach (var slot in group.OrderBy(s => s.Start))
            {
                if (open is not null && open.End == slot.Start)
                {
                    open = open with { End = slot.End!.Value };
                    continue;
                }

                if (open is not null)
                {
                    windows.Add(open);
                }

                open = new ScheduleWindow(slot.Id!, schedule.Id, schedule.ResourceId, careUnitId, slot.Start!.Value, slot.End!.Value, schedule.ServiceIds);
            }

            if (open is not null)
            {
                windows.Add(open);
            }
        }

        return windows.OrderBy(w => w.Start).ToList();
    }

    public async Task<Schedule> CreateScheduleAsync(string careUnitId, string resourceId, NewSchedule schedule, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(schedule);
        var unit = await GetCareUnitAsync(careUnitId, cancellationToken)
            ?? throw new VardbroException(ErrorCodes.NotFound, "No care unit with that id in this EMR.", "care_unit_id");
        var services = await ListHealthcareServicesAsync(careUnitId, cancellationToken);
        for (var i = 0; i < schedule.HealthcareServiceIds.Count; i++)
        {
            if (!services.Any(s => s.Id == schedule.HealthcareServiceIds[i]))
            {
                throw new VardbroException(ErrorCodes.InvalidHealthcareServiceId, "No healthcare service with that id at this care unit.", $"healthcare_service_ids[{i}]");
            }
        }

        var offered = schedule.HealthcareServiceIds.Count == 0 ? services : services.Where(s => schedule.HealthcareServiceIds.Contains(s.Id)).ToList();
        var length = TimeSpan.FromMinutes(offered.Count == 0 ? settings.DefaultServiceMinutes : offered.Min(s => s.DurationMinutes));
        var windows = Windows(schedule, TimeZones.Find(unit.TimeZone));
        if (windows.Count == 0)
        {
            throw new VardbroException(ErrorCodes.InvalidField, "The schedule has no working time in the next " + settings.ScheduleHorizonDays.ToString(CultureInfo.InvariantCulture) + " days.", "recurrence");
        }

        // Refuse overlaps with the resource's existing Slots, at any care unit.
        var existing = await http.SearchAllAsync<F.Schedule>($"Schedule?actor=Practitioner/{resourceId}&_count=100", cancellationToken);
        var all = existing.Where(s => s.Id is not null).Select(s => new ScheduleInfo(s.Id!, resourceId, [])).ToList();
        var taken = await SlotsAsync(all, windows[0].Start - TimeSpan.FromDays(1), windows[^1].End, freeOnly: false, await CapabilitiesAsync(cancellationToken), cancellationToken);
        if (taken.Any(t => windows.Any(w => t.Start < w.End && w.Start < t.End)))
        {
            throw new ConflictException(ErrorCodes.BadInput, "The schedule overlaps an existing working window of this resource.", "start");
        }

        var fhirSchedule = new F.Schedule
        {
            Active = true,
            Actor = [new F.ResourceReference("Practitioner/" + resourceId), new F.ResourceReference("Location/" + careUnitId)],
            PlanningHorizon = new F.Period(new F.FhirDateTime(windows[0].Start), new F.FhirDateTime(windows[^1].End)),
        };
        fhirSchedule.Actor.AddRange(schedule.HealthcareServiceIds.Select(s => new F.ResourceReference("HealthcareService/" + s)));
        var (created, _) = await http.CreateAsync(fhirSchedule, null, cancellationToken);

        var slots = new List<F.Slot>();
        foreach (var (start, end) in windows)
        {
            for (var s = start; s + length <= end; s += length)
            {
                slots.Add(new F.Slot { Schedule = new F.ResourceReference("Schedule/" + created.Id), Status = F.Slot.SlotStatus.Free, Start = s, End = s + length });
            }
        }

        foreach (var chunk in slots.Chunk(200))
        {
            await http.BatchCreateAsync(chunk, cancellationToken);
        }

        return new Schedule(created.Id ?? string.Empty, resourceId, careUnitId, schedule.Start, schedule.End, schedule.Recurrence, schedule.HealthcareServiceIds);
    }

    /// <summary>The schedule's working windows, a weekly rule expanded up to its end or the horizon.</summary>
    private List<(DateTimeOffset Start, DateTimeOffset End)> Windows(NewSchedule schedule, TimeZoneInfo zone)
    {
        if (schedule.Recurrence is not { } rule)
        {
            return schedule.Start is { } start && schedule.End is { } end ? [(start, end)] : [];
        }

        var today = TimeZones.LocalDate(Now(), zone);
        var last = today.AddDays(settings.ScheduleHorizonDays);
        if (rule.Until is { } until && until < last)
        {
            last = until;
        }

        var windows = new List<(DateTimeOffset, DateTimeOffset)>();
        for (var day = rule.From > today ? rule.From : today; day <= last; day = day.AddDays(1))
        {
            if (rule.Weekdays.Contains(day.DayOfWeek))
            {
                windows.Add((TimeZones.ToInstant(day, rule.StartTime, zone), TimeZones.ToInstant(day, rule.EndTime, zone)));
            }
        }

        return windows;
    }

    // ---- timeslots -----------------------------------------------------------------------------

    public async Task<IReadOnlyList<Timeslot>> ListTimeslotsAsync(string careUnitId, TimeslotQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        var now = Now();
        if (await BookingAsync(cancellationToken) == FhirBooking.FindBook)
        {
            return await FindTimeslotsAsync(careUnitId, query, now, cancellationToken);
        }

        var (slots, schedules) = await SlotsAtAsync(careUnitId, query.ResourceId, query.HealthcareServiceId, query.Start > now ? query.Start : now, query.End, freeOnly: true, cancellationToken);
        return slots
            .Where(s => s.Start > now)
            .Select(s => (Slot: s, Schedule: ScheduleOf(s, schedules)))
            .Where(x => x.Schedule is not null)
            .Select(x => new Timeslot(x.Slot.Start!.Value, x.Slot.End!.Value, x.Schedule!.ResourceId, query.HealthcareServiceId ?? SingleService(x.Schedule), careUnitId))
            .OrderBy(t => t.Start).ThenBy(t => t.ResourceId, StringComparer.Ordinal)
            .ToList();
    }

    private static string? SingleService(ScheduleInfo schedule) => schedule.ServiceIds.Count == 1 ? schedule.ServiceIds[0] : null;

    // ---- appointments --------------------------------------------------------------------------

    public async Task<AppointmentPage> ListAppointmentsAsync(string careUnitId, AppointmentQuery query, int limit, string? cursor, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        if (!FhirIds.IsValid(careUnitId)
            || (query.PatientEmrId is { } p && !FhirIds.IsValid(p))
            || (query.ResourceId is { } r && !FhirIds.IsValid(r)))
        {
            return new AppointmentPage([], null);
        }

        var capabilities = await CapabilitiesAsync(cancellationToken);
        var sorted = settings.SortAlways || capabilities.Sorts("Appointment");
        var byActor = capabilities.Searches("Appointment", "actor");
        var parameters = new StringBuilder("Appointment?");
        if (byActor)
        {
            Add(parameters, "actor", "Location/" + careUnitId);
            Add(parameters, "patient", query.PatientEmrId is null ? null : "Patient/" + query.PatientEmrId);
            Add(parameters, "practitioner", query.ResourceId is null ? null : "Practitioner/" + query.ResourceId);
        }
        else
        {
            // A server without `actor` (Millennium) takes exactly one of patient, practitioner or
            // location, and a date range; the other criteria are applied here.
            Add(parameters, query.PatientEmrId is not null ? "patient" : query.ResourceId is not null ? "practitioner" : "location",
                query.PatientEmrId is { } patient ? "Patient/" + patient : query.ResourceId is { } practitioner ? "Practitioner/" + practitioner : "Location/" + careUnitId);
        }

        Add(parameters, "_sort", sorted ? "date,_id" : null);
        var from = query.Start ?? (byActor ? null : AllTimeStart);
        var to = query.End ?? (byActor ? null : AllTimeEnd);
        Add(parameters, "date", from is { } f ? "ge" + Instant(f) : null);
        Add(parameters, "date", to is { } t ? "lt" + Instant(t) : null);
        // _lastUpdated is a search parameter of every resource (FHIR R4 Search, "Parameters for
        // all resources", https://hl7.org/fhir/R4/search.html#all), but not every server declares or
        // takes it (Millennium's Appointment search has none): the filter is also applied below. Both use
        // the instant rounded down to the second, as servers keep lastUpdated to the second or finer: a
        // change in the same second is never missed.
        Add(parameters, "_lastUpdated", query.UpdatedSince is { } since && capabilities.Searches("Appointment", "_lastUpdated") ? "ge" + Instant(since) : null);
        Add(parameters, "status", !capabilities.Searches("Appointment", "status") ? null : query.Status switch
        {
            AppointmentStatuses.Booked => "booked",
            AppointmentStatuses.Completed => "booked,fulfilled,arrived,checked-in",
            AppointmentStatuses.Cancelled => "cancelled,noshow,entered-in-error",
            AppointmentStatuses.AwaitingConfirmation => "proposed,pending,waitlist",
            _ => null,
        });
        var (items, next) = await PageAsync<F.Appointment>(parameters, limit, cursor, cancellationToken);
        var now = Now();

        // "booked" and "completed" differ by the clock, which the server's search cannot see.
        var records = items.ConvertAll(a => FhirMapping.ToAppointment(a, now))
            .Where(a => (query.Status is null || a.Status == query.Status) && a.CareUnitId == careUnitId
                && (query.UpdatedSince is not { } changedSince || a.UpdatedAt >= ToSecond(changedSince))
                && (query.PatientEmrId is null || a.PatientEmrId == query.PatientEmrId) && (query.ResourceId is null || a.ResourceId == query.ResourceId))
            .ToList();
        if (!sorted && cursor is null && next is null)
        {
            // Every match is on this page: ordered by Vardbro, as the server does not sort.
            records = [.. records.OrderBy(a => a.Start).ThenBy(a => a.Id, StringComparer.Ordinal)];
        }

        return new AppointmentPage(records, next);
    }

    private static DateTimeOffset ToSecond(DateTimeOffset value) => new(value.UtcTicks - (value.UtcTicks % TimeSpan.TicksPerSecond), TimeSpan.Zero);

    // The widest range a list without dates asks a server that requires one for (Millennium).
    private static readonly DateTimeOffset AllTimeStart = new(1900, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset AllTimeEnd = new(2100, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public async Task<Appointment?> GetAppointmentAsync(string careUnitId, string appointmentId, CancellationToken cancellationToken)
    {
        var fhir = await ReadAppointmentAsync(careUnitId, appointmentId, cancellationToken);
        return fhir is null ? null : FhirMapping.ToAppointment(fhir, Now());
    }

    /// <summary>The appointment's Location participant: the care unit it was booked at.</summary>
    public async Task<string?> FindAppointmentCareUnitAsync(string appointmentId, CancellationToken cancellationToken) =>
        FhirIds.IsValid(appointmentId) && await http.ReadAsync<F.Appointment>("Appointment/" + appointmentId, cancellationToken) is { } fhir
            ? fhir.Participant.Select(p => FhirIds.OfReference(p.Actor?.Reference, "Location")).FirstOrDefault(l => l is not null)
            : null;

    private async Task<F.Appointment?> ReadAppointmentAsync(string careUnitId, string appointmentId, CancellationToken cancellationToken)
    {
        if (!FhirIds.IsValid(appointmentId))
        {
            return null;
        }

        var fhir = await http.ReadAsync<F.Appointment>("Appointment/" + appointmentId, cancellationToken);
        return fhir is not null && fhir.Participant.Any(p => FhirIds.OfReference(p.Actor?.Reference, "Location") == careUnitId) ? fhir : null;
    }

    public async Task<Booking> BookAsync(string careUnitId, NewAppointment appointment, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(appointment);
        switch (await BookingAsync(cancellationToken))
        {
            case FhirBooking.AppointmentWithSlot:
                return new Booking(await BookWithSlotAsync(careUnitId, appointment, cancellationToken), null);
            case FhirBooking.FindBook:
                return new Booking(await FindAndBookAsync(careUnitId, appointment, null, "start", cancellationToken), null);
        }

        var (slot, schedule) = await HoldSlotAsync(careUnitId, appointment.Start, appointment.End, appointment.ResourceId, appointment.HealthcareServiceId, "start", cancellationToken);
        var serviceId = appointment.HealthcareServiceId ?? SingleService(schedule);
        var bookingKey = Guid.NewGuid().ToString("N");
        var fhir = FhirMapping.ToFhir(careUnitId, appointment, schedule.ResourceId, serviceId, slot.Id!, bookingKey, Now());
        try
        {
            var (created, _) = await http.CreateAsync(fhir, null, cancellationToken);
            return new Booking(FhirMapping.ToAppointment(created, Now()), null);
        }
        catch (Exception ex) when (ex is EmrUnavailableException or EmrBadAnswerException or VardbroException)
        {
            // The create may have happened even though its answer was lost: look before undoing.
            var made = await FindBookingAsync(bookingKey);
            if (made is not null)
            {
                return new Booking(FhirMapping.ToAppointment(made, Now()), null);
            }

            await ReleaseAsync(slot);
            throw;
        }
    }

    /// <summary>
    /// Finds the free Slot with exactly this start and end and marks it busy with a versioned
    /// update. Not offered at all → 400; offered but taken, or taken by someone else meanwhile → 409.
    /// </summary>
    private async Task<(F.Slot Slot, ScheduleInfo Schedule)> HoldSlotAsync(
        string careUnitId, DateTimeOffset start, DateTimeOffset end, string? resourceId, string? serviceId, string path, CancellationToken cancellationToken)
    {
        var (candidates, schedules) = await SlotsAtAsync(careUnitId, resourceId, serviceId, start, start.AddSeconds(1), freeOnly: false, cancellationToken);
        var offered = candidates.Where(s => s.Start == start && s.End == end && ScheduleOf(s, schedules) is not null).ToList();
        if (offered.Count == 0 || start <= Now())
        {
            throw new VardbroException(ErrorCodes.NoTimeslotsAvailable, "No schedule offers a timeslot with exactly that start and end; GET …/timeslots lists them.", path);
        }

        var free = offered.Where(s => s.Status == F.Slot.SlotStatus.Free).ToList();
        if (free.Select(s => ScheduleOf(s, schedules)!.ResourceId).Distinct(StringComparer.Ordinal).Count() > 1)
        {
            throw new VardbroException(ErrorCodes.AmbiguousTimeslots, "Several resources offer that timeslot; give resource_id.", "resource_id");
        }

        foreach (var slot in free)
        {
            var version = slot.Meta?.VersionId
                ?? (await http.ReadAsync<F.Slot>("Slot/" + slot.Id, cancellationToken))?.Meta?.VersionId
                ?? throw new EmrBadAnswerException("The EMR does not version its Slots, so a booking cannot be made safely.");
            slot.Status = F.Slot.SlotStatus.Busy;

            // Marked as this hold's, so a hold whose answer is lost can be told apart from someone else's.
            slot.Comment = "Held by Vardbro " + Guid.NewGuid().ToString("N");
            try
            {
                var held = await http.UpdateAsync(slot, version, cancellationToken);
                return (held, ScheduleOf(held, schedules) ?? ScheduleOf(slot, schedules)!);
            }
            catch (FhirVersionConflictException)
            {
                // Someone else took or changed it first; the next one of the same resource may still be free.
            }
            catch (EmrUnavailableException)
            {
                await ReleaseAsync(slot);
                throw;
            }
        }

        throw SlotTaken(path);
    }

    /// <summary>
    /// Sets a busy Slot free again — when <paramref name="slot"/> carries a hold's mark, only if the
    /// server's Slot still carries it. Best effort: a failure leaves it busy, never double-booked.
    /// </summary>
    private async Task ReleaseAsync(F.Slot slot)
    {
        try
        {
            using var timeout = new CancellationTokenSource(settings.Timeout);
            var current = await http.ReadAsync<F.Slot>("Slot/" + slot.Id, timeout.Token);
            if (current is { Status: F.Slot.SlotStatus.Busy } && current.Meta?.VersionId is { } version && (slot.Comment is null || current.Comment == slot.Comment))
            {
                current.Status = F.Slot.SlotStatus.Free;
                current.Comment = null;
                await http.UpdateAsync(current, version, timeout.Token);
            }
        }
        catch (Exception ex) when (ex is EmrUnavailableException or EmrBadAnswerException or VardbroException or FhirVersionConflictException or OperationCanceledException)
        {
            // Left busy: the timeslot is lost to booking until someone frees it in the EHR.
        }
    }

    private async Task<F.Appointment?> FindBookingAsync(string bookingKey)
    {
        try
        {
            using var timeout = new CancellationTokenSource(settings.Timeout);
            var matches = await http.SearchFirstPageAsync<F.Appointment>($"Appointment?identifier={Q(FhirSystems.Booking + "|" + bookingKey)}", timeout.Token);
            return matches.FirstOrDefault();
        }
        catch (Exception ex) when (ex is EmrUnavailableException or EmrBadAnswerException or VardbroException or OperationCanceledException)
        {
            return null;
        }
    }

    public async Task<IReadOnlyList<Appointment>> UpdateAsync(string careUnitId, IReadOnlyList<string> appointmentIds, AppointmentChange change, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(appointmentIds);
        ArgumentNullException.ThrowIfNull(change);
        var bulk = appointmentIds.Count > 1;
        string PathOf(int i) => bulk ? $"ids[{i}]" : "appointment_id";
        var now = Now();

        // Everything is checked before anything is written.
        var current = new List<F.Appointment>();
        for (var i = 0; i < appointmentIds.Count; i++)
        {
            var fhir = await ReadAppointmentAsync(careUnitId, appointmentIds[i], cancellationToken)
                ?? throw new VardbroException(ErrorCodes.NotFound, "No appointment with that id at this care unit.", PathOf(i));
            var status = FhirMapping.ToAppointment(fhir, now).Status;
            if (change.ConfirmationCode is not null)
            {
                throw status == AppointmentStatuses.AwaitingConfirmation
                    ? new VardbroException(ErrorCodes.NotSupported, "This EMR confirms appointments itself; Vardbro cannot confirm them with a code.", "confirmation")
                    : new ConflictException(ErrorCodes.BadInput, "The appointment is not awaiting confirmation.", "confirmation");
            }

            if (change.Cancel && status == AppointmentStatuses.Cancelled)
            {
                throw new ConflictException(ErrorCodes.BadInput, "The appointment is already cancelled.", PathOf(i));
            }

            if (change.Cancel && status == AppointmentStatuses.Completed)
            {
                throw new ConflictException(ErrorCodes.BadInput, "The appointment has already taken place.", PathOf(i));
            }

            if (!change.Cancel && (change.Start is not null || change.ResourceId is not null) && status is AppointmentStatuses.Cancelled or AppointmentStatuses.Completed)
            {
                throw new ConflictException(ErrorCodes.BadInput, $"A {status} appointment cannot be moved.", PathOf(i));
            }

            current.Add(fhir);
        }

        var booking = await BookingAsync(cancellationToken);
        if (booking != FhirBooking.SlotUpdate)
        {
            // Applied one by one through the server's own Appointment changes. A cancel cannot be
            // taken back there, so a bulk change that fails part-way stays applied up to the failure.
            var patched = new List<Appointment>();
            for (var i = 0; i < current.Count; i++)
            {
                try
                {
                    patched.Add(await PatchAsync(careUnitId, current[i], change, booking, PathOf(i), cancellationToken));
                }
                catch (FhirVersionConflictException)
                {
                    throw new ConflictException(ErrorCodes.BadInput, "The appointment was changed by someone else meanwhile; read it again and retry.", PathOf(i));
                }
            }

            return patched;
        }

        // Applied one by one; if one fails, the ones before it are put back (best effort: FHIR
        // servers offer no transaction we can rely on across Slots and Appointments).
        // Slots given up are freed only once every change has been made, so an undo never has to
        // take a Slot back from someone who booked it meanwhile.
        var undo = new List<Func<Task>>();
        var released = new List<string>();
        var result = new List<Appointment>();
        try
        {
            for (var i = 0; i < current.Count; i++)
            {
                result.Add(await ApplyAsync(careUnitId, current[i], change, PathOf(i), undo, released, cancellationToken));
            }
        }
        catch (Exception ex) when (ex is VardbroException or EmrUnavailableException or EmrBadAnswerException or FhirVersionConflictException)
        {
            for (var i = undo.Count - 1; i >= 0; i--)
            {
                await undo[i]();
            }

            if (ex is FhirVersionConflictException)
            {
                throw new ConflictException(ErrorCodes.BadInput, "The appointment was changed by someone else meanwhile; read it again and retry.", "appointment_id");
            }

            throw;
        }

        foreach (var slotId in released)
        {
            await ReleaseAsync(new F.Slot { Id = slotId });
        }

        return result;
    }

    private async Task<Appointment> ApplyAsync(string careUnitId, F.Appointment fhir, AppointmentChange change, string path, List<Func<Task>> undo, List<string> released, CancellationToken cancellationToken)
    {
        var before = System.Text.Json.JsonSerializer.Deserialize<F.Appointment>(System.Text.Json.JsonSerializer.Serialize(fhir, FhirHttp.Json), FhirHttp.Json)!;
        var oldSlots = fhir.Slot.Select(s => FhirIds.OfReference(s.Reference, "Slot")).OfType<string>().ToList();
        F.Slot? newSlot = null;
        if (change.Cancel)
        {
            fhir.Status = F.Appointment.AppointmentStatus.Cancelled;
        }
        else if (change.Start is not null || change.ResourceId is not null)
        {
            var record = FhirMapping.ToAppointment(fhir, Now());
            var start = change.Start ?? record.Start;
            var end = change.End ?? record.End;
            var resourceId = change.ResourceId ?? record.ResourceId;
            (newSlot, _) = await HoldSlotAsync(careUnitId, start, end, resourceId, record.HealthcareServiceId, path == "appointment_id" ? "start" : path, cancellationToken);
            var held = newSlot;
            undo.Add(() => ReleaseAsync(held));
            fhir.Start = start;
            fhir.End = end;
            fhir.Slot = [new F.ResourceReference("Slot/" + newSlot.Id)];
            foreach (var participant in fhir.Participant.Where(p => ResourceTypes.Any(t => t != "Location" && FhirIds.OfReference(p.Actor?.Reference, t) is not null)))
            {
                participant.Actor = new F.ResourceReference("Practitioner/" + resourceId);
            }
        }

        if (change.Comment is not null)
        {
            fhir.Comment = change.Comment;
        }

        var updated = await http.UpdateAsync(fhir, fhir.Meta?.VersionId, cancellationToken);
        undo.Add(async () =>
        {
            try
            {
                before.Meta = updated.Meta;
                await http.UpdateAsync(before, updated.Meta?.VersionId, CancellationToken.None);
            }
            catch (Exception ex) when (ex is EmrUnavailableException or EmrBadAnswerException or VardbroException or FhirVersionConflictException)
            {
                // Best effort, as documented.
            }
        });

        if (change.Cancel || newSlot is not null)
        {
            released.AddRange(oldSlots);
        }

        return FhirMapping.ToAppointment(updated, Now());
    }
}
