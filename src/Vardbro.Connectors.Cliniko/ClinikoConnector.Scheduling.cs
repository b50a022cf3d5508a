using System.Collections.Concurrent;

namespace Vardbro.Connectors.Cliniko;

/// <summary>
/// Schedules (read only: the practitioners' daily availabilities), timeslots (Cliniko's available
/// times) and individual appointments. Cliniko does not refuse overlapping appointments, so every
/// booking and move re-checks the available times and runs serialized per practitioner through
/// Vardbro's own store: two Vardbro instances on one database never book one time twice.
/// </summary>
public sealed partial class ClinikoConnector
{
    /// <summary>sections/individual_appointments.md "Cancellation Reason Codes": 50 = Other.</summary>
    private const int CancellationReasonOther = 50;

    /// <summary>sections/available_times.md: "the maximum time period you can request is 7 days".</summary>
    private const int MaxAvailabilityDays = 7;

    // ---- schedules -----------------------------------------------------------------------------

    public async Task<IReadOnlyList<ScheduleWindow>> ListScheduleWindowsAsync(string careUnitId, string resourceId, DateTimeOffset rangeStart, DateTimeOffset rangeEnd, CancellationToken cancellationToken)
    {
        if (!ClinikoIds.IsValid(resourceId) || await GetCareUnitAsync(careUnitId, cancellationToken) is not { } unit)
        {
            return [];
        }

        var zone = TimeZones.Find(unit.TimeZone);
        var weekly = (await http.ListAsync($"practitioners/{resourceId}/daily_availabilities", "daily_availabilities", cancellationToken))
            .Where(d => d.LinkedId("business") == careUnitId)
            .ToList();
        var windows = new List<ScheduleWindow>();
        for (var day = TimeZones.LocalDate(rangeStart, zone); day <= TimeZones.LocalDate(rangeEnd, zone); day = day.AddDays(1))
        {
            var isoDay = day.DayOfWeek == DayOfWeek.Sunday ? 7 : (int)day.DayOfWeek;
            foreach (var daily in weekly.Where(d => d.Int("day_of_week") == isoDay))
            {
                if (!daily.TryGetProperty("availabilities", out var ranges) || ranges.ValueKind != JsonValueKind.Array)
                {
                    continue;
                }

                foreach (var range in ranges.EnumerateArray())
                {
                    if (TimeOf(range.Str("starts_at")) is not { } from || TimeOf(range.Str("ends_at")) is not { } to || to <= from)
                    {
                        continue;
                    }

                    var start = TimeZoneInfo.ConvertTime(TimeZones.ToInstant(day, from, zone), zone);
                    var end = TimeZoneInfo.ConvertTime(TimeZones.ToInstant(day, to, zone), zone);
                    if (start < rangeEnd && end > rangeStart)
                    {
                        var id = daily.Id();
                        windows.Add(new ScheduleWindow($"{id}-{day:yyyyMMdd}-{from:HHmm}", id, resourceId, careUnitId, start, end, []));
                    }
                }
            }
        }

        return windows.OrderBy(w => w.Start).ToList();
    }

    private static TimeOnly? TimeOf(string? text) =>
        TimeOnly.TryParseExact(text, ["HH:mm", "HH:mm:ss"], CultureInfo.InvariantCulture, DateTimeStyles.None, out var value) ? value : null;

    public Task<Schedule> CreateScheduleAsync(string careUnitId, string resourceId, NewSchedule schedule, CancellationToken cancellationToken) =>
        throw new VardbroException(ErrorCodes.NotSupported, "Cliniko's working hours are kept in Cliniko (daily availabilities); they cannot be written through Vardbro.", "emr");

    // ---- timeslots -----------------------------------------------------------------------------

    public async Task<IReadOnlyList<Timeslot>> ListTimeslotsAsync(string careUnitId, TimeslotQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        if ((query.ResourceId is { } r && !ClinikoIds.IsValid(r)) || (query.HealthcareServiceId is { } s && !ClinikoIds.IsValid(s))
            || await GetCareUnitAsync(careUnitId, cancellationToken) is not { } unit)
        {
            return [];
        }

        var offers = await OffersAsync(careUnitId, query.ResourceId, cancellationToken);
        var pairs = offers.SelectMany(o => o.Types.Where(t => query.HealthcareServiceId is null || t.Id == query.HealthcareServiceId).Select(t => (o.PractitionerId, Type: t))).ToList();
        return await AvailableAsync(careUnitId, TimeZones.Find(unit.TimeZone), pairs, query.Start, query.End, cancellationToken);
    }

    /// <summary>
    /// Free start times of every (practitioner, appointment type) pair in [from, to): Cliniko answers
    /// at most 7 days a call and nothing before today in the business's zone, so the range is clamped
    /// and split; the calls run a few at a time (each still waits for the EMR's rate gate).
    /// </summary>
    private async Task<List<Timeslot>> AvailableAsync(
        string careUnitId, TimeZoneInfo zone, List<(string PractitionerId, HealthcareService Type)> pairs, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken)
    {
        var now = Now();
        if (from < now)
        {
            from = now;
        }

        if (from >= to || pairs.Count == 0)
        {
            return [];
        }

        var today = TimeZones.LocalDate(now, zone);
        var first = TimeZones.LocalDate(from, zone);
        first = first < today ? today : first;
        var last = TimeZones.LocalDate(to.AddTicks(-1), zone);
        var calls = new List<(string PractitionerId, HealthcareService Type, DateOnly From, DateOnly To)>();
        foreach (var (practitioner, type) in pairs)
        {
            for (var day = first; day <= last; day = day.AddDays(MaxAvailabilityDays))
            {
                var end = day.AddDays(MaxAvailabilityDays - 1);
                calls.Add((practitioner, type, day, end < last ? end : last));
            }
        }

        var found = new ConcurrentBag<Timeslot>();
        await Parallel.ForEachAsync(calls, new ParallelOptions { MaxDegreeOfParallelism = FanOut, CancellationToken = cancellationToken }, async (call, ct) =>
        {
            var path = $"businesses/{careUnitId}/practitioners/{call.PractitionerId}/appointment_types/{call.Type.Id}/available_times?from={ClinikoJson.Day(call.From)}&to={ClinikoJson.Day(call.To)}";
            foreach (var time in await http.ListAsync(path, "available_times", ct))
            {
                if (time.Instant("appointment_start") is { } start && start >= from && start < to && start > now)
                {
                    var local = TimeZoneInfo.ConvertTime(start, zone);
                    found.Add(new Timeslot(local, local.AddMinutes(call.Type.DurationMinutes), call.PractitionerId, call.Type.Id, careUnitId));
                }
            }
        });

        return found.OrderBy(t => t.Start).ThenBy(t => t.ResourceId, StringComparer.Ordinal).ThenBy(t => t.HealthcareServiceId, StringComparer.Ordinal).ToList();
    }

    // ---- appointments --------------------------------------------------------------------------

    public async Task<AppointmentPage> ListAppointmentsAsync(string careUnitId, AppointmentQuery query, int limit, string? cursor, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        if (!ClinikoIds.IsValid(careUnitId) || (query.PatientEmrId is { } p && !ClinikoIds.IsValid(p)) || (query.ResourceId is { } r && !ClinikoIds.IsValid(r)))
        {
            _ = Offset(cursor);
            return new AppointmentPage([], null);
        }

        var filters = new List<string> { ClinikoJson.Q("business_id:=" + careUnitId) };
        if (query.PatientEmrId is not null)
        {
            filters.Add(ClinikoJson.Q("patient_id:=" + query.PatientEmrId));
        }

        if (query.ResourceId is not null)
        {
            filters.Add(ClinikoJson.Q("practitioner_id:=" + query.ResourceId));
        }

        if (query.Start is { } start)
        {
            filters.Add(ClinikoJson.Q("starts_at:>=" + ClinikoJson.Utc(start)));
        }

        if (query.End is { } end)
        {
            filters.Add(ClinikoJson.Q("starts_at:<" + ClinikoJson.Utc(end)));
        }

        // Cliniko has no updated_since parameter; its filters take updated_at on individual appointments
        // (cliniko-api sections/individual_appointments.md "Filtering Individual Appointments", operators
        // as in readme.md "Filtering Results"). Its instants are whole seconds, so the bound is rounded
        // down to the second: a change in the same second is never missed.
        if (query.UpdatedSince is { } since)
        {
            filters.Add(ClinikoJson.Q("updated_at:>=" + ClinikoJson.Utc(since)));
        }

        // The status depends on the clock, so it is filtered here (PagedAsync keeps the place in Cliniko's list).
        var zone = await ZoneAsync(careUnitId, cancellationToken);
        var now = Now();
        var (items, next) = await PagedAsync(
            "individual_appointments?sort=starts_at,id&" + string.Join('&', filters),
            "individual_appointments",
            limit,
            cursor,
            a => ToAppointment(a, zone, now) is var appointment && (query.Status is null || appointment.Status == query.Status) ? appointment : null,
            cancellationToken);
        return new AppointmentPage(items, next);
    }

    public async Task<Appointment?> GetAppointmentAsync(string careUnitId, string appointmentId, CancellationToken cancellationToken) =>
        await ReadAppointmentAsync(careUnitId, appointmentId, cancellationToken) is { } record
            ? ToAppointment(record, await ZoneAsync(careUnitId, cancellationToken), Now())
            : null;

    /// <summary>An individual appointment's business: the care unit it was booked at.</summary>
    public async Task<string?> FindAppointmentCareUnitAsync(string appointmentId, CancellationToken cancellationToken) =>
        ClinikoIds.IsValid(appointmentId) && await http.GetAsync("individual_appointments/" + appointmentId, cancellationToken) is { } record
        && record.Str("deleted_at") is null
            ? record.LinkedId("business")
            : null;

    private async Task<JsonElement?> ReadAppointmentAsync(string careUnitId, string appointmentId, CancellationToken cancellationToken) =>
        ClinikoIds.IsValid(appointmentId) && await http.GetAsync("individual_appointments/" + appointmentId, cancellationToken) is { } record
        && record.LinkedId("business") == careUnitId && record.Str("deleted_at") is null
            ? record
            : null;

    private async Task<TimeZoneInfo> ZoneAsync(string careUnitId, CancellationToken cancellationToken) =>
        TimeZones.Find((await GetCareUnitAsync(careUnitId, cancellationToken))?.TimeZone);

    public async Task<Booking> BookAsync(string careUnitId, NewAppointment appointment, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(appointment);
        var unit = (ClinikoIds.IsValid(careUnitId) ? await GetCareUnitAsync(careUnitId, cancellationToken) : null)
            ?? throw new VardbroException(ErrorCodes.NotFound, "No care unit with that id in this EMR.", "care_unit_id");
        var zone = TimeZones.Find(unit.TimeZone);
        var (practitioner, type) = await ChooseAsync(careUnitId, zone, appointment.Start, appointment.End, appointment.ResourceId, appointment.HealthcareServiceId, cancellationToken);
        var created = await SerializedAsync($"practitioner:{practitioner}", async () =>
        {
            await EnsureFreeAsync(careUnitId, zone, practitioner, type, appointment.Start, appointment.End, null, "start", cancellationToken);
            var body = new JsonObject
            {
                ["starts_at"] = ClinikoJson.Utc(appointment.Start),
                ["ends_at"] = ClinikoJson.Utc(appointment.End),
                ["patient_id"] = appointment.PatientEmrId,
                ["practitioner_id"] = practitioner,
                ["appointment_type_id"] = type.Id,
                ["business_id"] = careUnitId,
            };
            if (appointment.Comment is not null)
            {
                body["notes"] = appointment.Comment;
            }

            return await http.PostAsync("individual_appointments", body, cancellationToken);
        }, cancellationToken);
        return new Booking(ToAppointment(created, zone, Now()), null);
    }

    /// <summary>
    /// The practitioner and appointment type of a booking. Both given: taken as they are (the
    /// serialized check decides). Otherwise the timeslots with exactly that start and end choose:
    /// none → 400/409 as <see cref="RefusalAsync"/> decides, several practitioners → AMBIGUOUS_TIMESLOTS.
    /// </summary>
    private async Task<(string Practitioner, HealthcareService Type)> ChooseAsync(
        string careUnitId, TimeZoneInfo zone, DateTimeOffset start, DateTimeOffset end, string? practitionerId, string? typeId, CancellationToken cancellationToken)
    {
        if ((practitionerId is not null && !ClinikoIds.IsValid(practitionerId)) || (typeId is not null && !ClinikoIds.IsValid(typeId)))
        {
            throw NotOffered("start");
        }

        var offers = await OffersAsync(careUnitId, practitionerId, cancellationToken);
        var pairs = offers.SelectMany(o => o.Types.Where(t => typeId is null || t.Id == typeId).Select(t => (o.PractitionerId, Type: t)))
            .Where(p => TimeSpan.FromMinutes(p.Type.DurationMinutes) == end - start)
            .ToList();
        if (pairs.Count == 0)
        {
            throw NotOffered("start");
        }

        if (practitionerId is not null && typeId is not null)
        {
            return pairs[0];
        }

        var free = (await AvailableAsync(careUnitId, zone, pairs, start, start.AddSeconds(1), cancellationToken)).Where(t => t.Start == start && t.End == end).ToList();
        if (free.Count == 0)
        {
            throw await RefusalAsync(practitionerId is null ? pairs.Select(p => p.PractitionerId).Distinct().ToList() : [practitionerId], start, end, null, "start", cancellationToken);
        }

        if (free.Select(t => t.ResourceId).Distinct(StringComparer.Ordinal).Count() > 1)
        {
            throw new VardbroException(ErrorCodes.AmbiguousTimeslots, "Several resources offer that timeslot; give resource_id.", "resource_id");
        }

        var chosen = free.OrderBy(t => t.HealthcareServiceId, StringComparer.Ordinal).First();
        return pairs.First(p => p.PractitionerId == chosen.ResourceId && p.Type.Id == chosen.HealthcareServiceId);
    }

    /// <summary>Refuses unless Cliniko lists exactly this start as available for the practitioner and type (call it holding the practitioner's key).</summary>
    private async Task EnsureFreeAsync(
        string careUnitId, TimeZoneInfo zone, string practitioner, HealthcareService type, DateTimeOffset start, DateTimeOffset end, string? moving, string path, CancellationToken cancellationToken)
    {
        if (TimeSpan.FromMinutes(type.DurationMinutes) != end - start)
        {
            throw NotOffered(path);
        }

        var free = await AvailableAsync(careUnitId, zone, [(practitioner, type)], start, start.AddSeconds(1), cancellationToken);
        if (!free.Any(t => t.Start == start))
        {
            throw await RefusalAsync([practitioner], start, end, moving, path, cancellationToken);
        }
    }

    /// <summary>
    /// Why a time is not available: an active appointment of the practitioner overlaps it (409, the
    /// slot is taken — also when that appointment is the one being moved, whose own time Cliniko
    /// cannot be asked to ignore) or no working hours offer it (400).
    /// </summary>
    private async Task<VardbroException> RefusalAsync(IReadOnlyList<string> practitioners, DateTimeOffset start, DateTimeOffset end, string? moving, string path, CancellationToken cancellationToken)
    {
        var filters = string.Join('&', ClinikoJson.Q("practitioner_id:=" + string.Join(',', practitioners)), ClinikoJson.Q("starts_at:<" + ClinikoJson.Utc(end)), ClinikoJson.Q("ends_at:>" + ClinikoJson.Utc(start)));
        var overlapping = await http.ListAsync("individual_appointments?" + filters, "individual_appointments", cancellationToken, maxPages: 1);
        var active = overlapping.Where(a => a.Str("cancelled_at") is null && a.Str("deleted_at") is null).ToList();
        if (active.Count == 0)
        {
            return NotOffered(path);
        }

        return active.All(a => a.Id() == moving)
            ? new ConflictException(ErrorCodes.NoTimeslotsAvailable, "The new time overlaps the appointment's current time, which Cliniko does not offer again until it is moved; move it to a time that does not overlap.", path)
            : new ConflictException(ErrorCodes.NoTimeslotsAvailable, "That timeslot is already booked; GET …/timeslots lists the free ones.", path);
    }

    private static VardbroException NotOffered(string path) =>
        new(ErrorCodes.NoTimeslotsAvailable, "No schedule offers a timeslot with exactly that start and end; GET …/timeslots lists them.", path);

    public async Task<IReadOnlyList<Appointment>> UpdateAsync(string careUnitId, IReadOnlyList<string> appointmentIds, AppointmentChange change, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(appointmentIds);
        ArgumentNullException.ThrowIfNull(change);
        var bulk = appointmentIds.Count > 1;
        string PathOf(int i) => bulk ? $"ids[{i}]" : "appointment_id";
        var zone = await ZoneAsync(careUnitId, cancellationToken);
        var now = Now();
        var moving = !change.Cancel && (change.Start is not null || change.ResourceId is not null);

        // Everything is checked before anything is written.
        var current = new List<(JsonElement Record, Appointment Appointment)>();
        for (var i = 0; i < appointmentIds.Count; i++)
        {
            var record = await ReadAppointmentAsync(careUnitId, appointmentIds[i], cancellationToken)
                ?? throw new VardbroException(ErrorCodes.NotFound, "No appointment with that id at this care unit.", PathOf(i));
            var appointment = ToAppointment(record, zone, now);
            if (change.ConfirmationCode is not null)
            {
                throw new ConflictException(ErrorCodes.BadInput, "The appointment is not awaiting confirmation.", "confirmation");
            }

            if (change.Cancel && appointment.Status == AppointmentStatuses.Cancelled)
            {
                throw new ConflictException(ErrorCodes.BadInput, "The appointment is already cancelled.", PathOf(i));
            }

            if (change.Cancel && appointment.Status == AppointmentStatuses.Completed)
            {
                throw new ConflictException(ErrorCodes.BadInput, "The appointment has already taken place.", PathOf(i));
            }

            if (moving && appointment.Status is AppointmentStatuses.Cancelled or AppointmentStatuses.Completed)
            {
                throw new ConflictException(ErrorCodes.BadInput, $"A {appointment.Status} appointment cannot be moved.", PathOf(i));
            }

            current.Add((record, appointment));
        }

        var result = new List<Appointment>();
        for (var i = 0; i < current.Count; i++)
        {
            var (_, appointment) = current[i];
            if (change.Cancel)
            {
                // sections/individual_appointments.md "Cancel Individual Appointment": a reason is mandatory.
                var body = new JsonObject { ["cancellation_reason"] = CancellationReasonOther };
                if (change.Comment is not null)
                {
                    body["cancellation_note"] = change.Comment;
                }

                await http.PatchAsync($"individual_appointments/{appointment.Id}/cancel", body, cancellationToken);
            }
            else if (moving)
            {
                await MoveAsync(careUnitId, zone, appointment, change, bulk ? PathOf(i) : "start", cancellationToken);
            }
            else if (change.Comment is not null)
            {
                await http.PatchAsync($"individual_appointments/{appointment.Id}", new JsonObject { ["notes"] = change.Comment }, cancellationToken);
            }

            var after = await ReadAppointmentAsync(careUnitId, appointment.Id, cancellationToken)
                ?? throw new EmrBadAnswerException("The EMR's appointment could not be read back.");
            result.Add(ToAppointment(after, zone, Now()));
        }

        return result;
    }

    private async Task MoveAsync(string careUnitId, TimeZoneInfo zone, Appointment appointment, AppointmentChange change, string path, CancellationToken cancellationToken)
    {
        var start = change.Start ?? appointment.Start;
        var end = change.End ?? (change.Start is { } s ? s + (appointment.End - appointment.Start) : appointment.End);
        var practitioner = change.ResourceId ?? appointment.ResourceId;
        if (!ClinikoIds.IsValid(practitioner))
        {
            throw NotOffered(path);
        }

        var type = (await OffersAsync(careUnitId, practitioner, cancellationToken)).SelectMany(o => o.Types).FirstOrDefault(t => t.Id == appointment.HealthcareServiceId)
            ?? throw NotOffered(path);
        await SerializedAsync($"practitioner:{practitioner}", async () =>
        {
            await EnsureFreeAsync(careUnitId, zone, practitioner, type, start, end, appointment.Id, path, cancellationToken);
            var body = new JsonObject
            {
                ["starts_at"] = ClinikoJson.Utc(start),
                ["ends_at"] = ClinikoJson.Utc(end),
                ["practitioner_id"] = practitioner,
            };
            if (change.Comment is not null)
            {
                body["notes"] = change.Comment;
            }

            return await http.PatchAsync($"individual_appointments/{appointment.Id}", body, cancellationToken);
        }, cancellationToken);
    }

    /// <summary>
    /// Cancelled (or deleted) and did-not-arrive are Vardbro's cancelled; arrived, or a booking whose
    /// end has passed, is completed; the rest is booked.
    /// </summary>
    private static Appointment ToAppointment(JsonElement record, TimeZoneInfo zone, DateTimeOffset now)
    {
        var start = record.Instant("starts_at") ?? throw new EmrBadAnswerException("The EMR answered an appointment without a start.");
        var end = record.Instant("ends_at") ?? start;
        var status = record.Str("cancelled_at") is not null || record.Bool("did_not_arrive")
            ? AppointmentStatuses.Cancelled
            : record.Bool("patient_arrived") || end <= now ? AppointmentStatuses.Completed : AppointmentStatuses.Booked;
        var created = record.Instant("created_at") ?? start;
        return new Appointment(
            record.Id(),
            record.LinkedId("business") ?? string.Empty,
            record.LinkedId("patient") ?? string.Empty,
            record.LinkedId("practitioner") ?? string.Empty,
            record.LinkedId("appointment_type"),
            TimeZoneInfo.ConvertTime(start, zone),
            TimeZoneInfo.ConvertTime(end, zone),
            status,
            record.Str("notes"),
            TimeZoneInfo.ConvertTime(created, zone),
            TimeZoneInfo.ConvertTime(record.Instant("updated_at") ?? created, zone));
    }
}
