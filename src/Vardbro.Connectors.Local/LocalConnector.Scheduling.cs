using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.EntityFrameworkCore;

// string.Compare(a, b) below sits in expression trees that EF Core translates to SQL comparisons.
#pragma warning disable CA1309

namespace Vardbro.Connectors.Local;

/// <summary>Schedules, timeslots and appointments of the built-in EHR.</summary>
public sealed partial class LocalConnector
{
    private const int MaxConfirmationAttempts = 5;
    private static readonly TimeSpan ConfirmationWindow = TimeSpan.FromMinutes(15);

    private IQueryable<ScheduleRow> Schedules => db.Set<ScheduleRow>().AsNoTracking().Where(x => x.Emr == emr);

    private IQueryable<AppointmentRow> Appointments => db.Set<AppointmentRow>().Where(x => x.Emr == emr);

    // ---- schedules ---------------------------------------------------------------------------

    public async Task<IReadOnlyList<ScheduleWindow>> ListScheduleWindowsAsync(string careUnitId, string resourceId, DateTimeOffset rangeStart, DateTimeOffset rangeEnd, CancellationToken cancellationToken)
    {
        var zone = await ZoneAsync(careUnitId, cancellationToken);
        var rows = await Schedules.Where(x => x.CareUnitId == careUnitId && x.ResourceId == resourceId).ToListAsync(cancellationToken);
        return rows.SelectMany(r => Expand(r, zone, rangeStart.ToUniversalTime(), rangeEnd.ToUniversalTime()))
            .OrderBy(w => w.Start).ThenBy(w => w.Id, StringComparer.Ordinal).ToList();
    }

    public async Task<Schedule> CreateScheduleAsync(string careUnitId, string resourceId, NewSchedule schedule, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(schedule);
        var zone = await ZoneAsync(careUnitId, cancellationToken);
        var serviceIds = (await ListHealthcareServicesAsync(careUnitId, cancellationToken)).Select(x => x.Id).ToList();
        for (var i = 0; i < schedule.HealthcareServiceIds.Count; i++)
        {
            if (!serviceIds.Contains(schedule.HealthcareServiceIds[i]))
            {
                throw new VardbroException(ErrorCodes.InvalidHealthcareServiceId, "No healthcare service with that id at this care unit.", $"healthcare_service_ids[{i}]");
            }
        }

        var row = new ScheduleRow
        {
            Emr = emr,
            Id = "sch_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8)),
            CareUnitId = careUnitId,
            ResourceId = resourceId,
            ServiceIds = string.Join(' ', schedule.HealthcareServiceIds.Distinct(StringComparer.Ordinal)),
        };
        if (schedule.Recurrence is { } rule)
        {
            row.Weekdays = rule.Weekdays.Aggregate(0, (mask, day) => mask | (1 << (int)day));
            row.StartMinute = (rule.StartTime.Hour * 60) + rule.StartTime.Minute;
            row.EndMinute = (rule.EndTime.Hour * 60) + rule.EndTime.Minute;
            row.FromDate = rule.From;
            row.UntilDate = rule.Until;
        }
        else
        {
            row.StartUtc = schedule.Start!.Value.ToUniversalTime();
            row.EndUtc = schedule.End!.Value.ToUniversalTime();
        }

        return await SerializedWrites.RunAsync(db, ResourceLock(resourceId), async () =>
        {
            var existing = await Schedules.Where(x => x.ResourceId == resourceId).ToListAsync(cancellationToken);
            if (existing.Any(other => Overlaps(row, other, zone)))
            {
                throw new VardbroException(ErrorCodes.BadInput, "The schedule overlaps an existing working window of this resource.", "start", 409);
            }

            db.Add(row);
            await db.SaveChangesAsync(cancellationToken);
            db.ChangeTracker.Clear();
            return ToRecord(row);
        }, cancellationToken);
    }

    private static bool Overlaps(ScheduleRow a, ScheduleRow b, TimeZoneInfo zone)
    {
        if (a.Weekdays != 0 && b.Weekdays != 0)
        {
            var datesMeet = (a.UntilDate is null || b.FromDate <= a.UntilDate) && (b.UntilDate is null || a.FromDate <= b.UntilDate);
            return (a.Weekdays & b.Weekdays) != 0 && datesMeet && a.StartMinute < b.EndMinute && b.StartMinute < a.EndMinute;
        }

        if (a.Weekdays != 0)
        {
            return Overlaps(b, a, zone);
        }

        // a is one window; compare it with b's windows around it.
        var from = a.StartUtc!.Value.AddDays(-2);
        var to = a.EndUtc!.Value.AddDays(2);
        return Expand(b, zone, from, to).Any(w => w.Start < a.EndUtc && a.StartUtc < w.End);
    }

    /// <summary>The windows of a schedule that overlap [from, to).</summary>
    private static IEnumerable<ScheduleWindow> Expand(ScheduleRow row, TimeZoneInfo zone, DateTimeOffset from, DateTimeOffset to)
    {
        var services = ServiceList(row.ServiceIds);
        if (row.Weekdays == 0)
        {
            if (row.StartUtc < to && from < row.EndUtc)
            {
                yield return new ScheduleWindow(row.Id, row.Id, row.ResourceId, row.CareUnitId, row.StartUtc!.Value, row.EndUtc!.Value, services);
            }

            yield break;
        }

        var first = TimeZones.LocalDate(from, zone).AddDays(-1);
        var last = TimeZones.LocalDate(to, zone);
        if (row.FromDate > first)
        {
            first = row.FromDate.Value;
        }

        if (row.UntilDate is { } until && until < last)
        {
            last = until;
        }

        var startTime = TimeOnly.FromTimeSpan(TimeSpan.FromMinutes(row.StartMinute));
        var endTime = TimeOnly.FromTimeSpan(TimeSpan.FromMinutes(row.EndMinute == 24 * 60 ? (24 * 60) - 1 : row.EndMinute));
        for (var day = first; day <= last; day = day.AddDays(1))
        {
            if ((row.Weekdays & (1 << (int)day.DayOfWeek)) == 0)
            {
                continue;
            }

            var start = TimeZones.ToInstant(day, startTime, zone);
            var end = row.EndMinute == 24 * 60
                ? TimeZones.ToInstant(day.AddDays(1), TimeOnly.MinValue, zone)
                : TimeZones.ToInstant(day, endTime, zone);
            if (start < to && from < end)
            {
                yield return new ScheduleWindow($"{row.Id}-{day:yyyyMMdd}", row.Id, row.ResourceId, row.CareUnitId, start, end, services);
            }
        }
    }

    // ---- timeslots --------------------------------------------------------------------------

    public async Task<IReadOnlyList<Timeslot>> ListTimeslotsAsync(string careUnitId, TimeslotQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        var slots = await SlotsAsync(careUnitId, query.Start.ToUniversalTime(), query.End.ToUniversalTime(), query.ResourceId, query.HealthcareServiceId, freeOnly: true, ignoring: null, cancellationToken);
        return slots;
    }

    /// <summary>
    /// Service-length pieces of the working windows, aligned to each window's start, starting in
    /// [from, to) and after now; with <paramref name="freeOnly"/> only those no active appointment
    /// (but <paramref name="ignoring"/>) overlaps.
    /// </summary>
    private async Task<List<Timeslot>> SlotsAsync(
        string careUnitId, DateTimeOffset from, DateTimeOffset to, string? resourceId, string? serviceId, bool freeOnly, string? ignoring, CancellationToken cancellationToken)
    {
        var zone = await ZoneAsync(careUnitId, cancellationToken);
        var now = Now();
        var services = (await ListHealthcareServicesAsync(careUnitId, cancellationToken)).ToDictionary(x => x.Id, x => x.DurationMinutes, StringComparer.Ordinal);
        if (services.Count == 0)
        {
            return [];
        }

        var longest = TimeSpan.FromMinutes(services.Values.Max());
        List<ScheduleRow> scheduleRows;
        if (resourceId is not null)
        {
            scheduleRows = SqliteStatements.Apply(db)
                ? await SchedulesOfResourcePreparedAsync(careUnitId, resourceId, cancellationToken)
                : await ToListAsync(SchedulesOfResource(db, emr, careUnitId, resourceId), cancellationToken);
        }
        else
        {
            scheduleRows = await Schedules.Where(x => x.CareUnitId == careUnitId).ToListAsync(cancellationToken);
        }

        var busy = new Dictionary<string, List<(DateTimeOffset Start, DateTimeOffset End)>>(StringComparer.Ordinal);
        if (freeOnly)
        {
            var until = to + longest;
            List<BusyTime> taken;
            if (resourceId is not null && ignoring is null)
            {
                taken = SqliteStatements.Apply(db)
                    ? await ActiveOfResourcePreparedAsync(careUnitId, resourceId, now, from, until, from - LongestAppointment, cancellationToken)
                    : await ToListAsync(ActiveOfResource(db, emr, careUnitId, resourceId, now, from, until, from - LongestAppointment), cancellationToken);
            }
            else
            {
                var startsAfter = from - LongestAppointment;
                var appointments = ActiveAt(Appointments.AsNoTracking(), now).Where(a => a.CareUnitId == careUnitId && a.StartUtc < until && a.EndUtc > from && a.StartUtc > startsAfter);
                if (resourceId is not null)
                {
                    appointments = appointments.Where(a => a.ResourceId == resourceId);
                }

                if (ignoring is not null)
                {
                    appointments = appointments.Where(a => a.Id != ignoring);
                }

                taken = await appointments.Select(a => new BusyTime(a.ResourceId, a.StartUtc, a.EndUtc)).ToListAsync(cancellationToken);
            }

            foreach (var a in taken)
            {
                if (!busy.TryGetValue(a.ResourceId, out var list))
                {
                    busy[a.ResourceId] = list = [];
                }

                list.Add((a.StartUtc, a.EndUtc));
            }
        }

        var slots = new List<Timeslot>();
        foreach (var window in scheduleRows.SelectMany(r => Expand(r, zone, from - longest, to)))
        {
            var allowed = window.HealthcareServiceIds.Count == 0 ? services.Keys.ToList() : window.HealthcareServiceIds.Where(services.ContainsKey).ToList();
            busy.TryGetValue(window.ResourceId, out var taken);
            foreach (var service in allowed)
            {
                if (serviceId is not null && service != serviceId)
                {
                    continue;
                }

                var length = TimeSpan.FromMinutes(services[service]);
                for (var start = window.Start; start + length <= window.End; start += length)
                {
                    if (start < from || start >= to || start <= now)
                    {
                        continue;
                    }

                    var end = start + length;
                    if (taken is not null && taken.Exists(t => t.Start < end && start < t.End))
                    {
                        continue;
                    }

                    slots.Add(new Timeslot(start, end, window.ResourceId, service, careUnitId));
                }
            }
        }

        slots.Sort((a, b) =>
        {
            var byStart = a.Start.CompareTo(b.Start);
            if (byStart != 0)
            {
                return byStart;
            }

            var byResource = string.CompareOrdinal(a.ResourceId, b.ResourceId);
            return byResource != 0 ? byResource : string.CompareOrdinal(a.HealthcareServiceId, b.HealthcareServiceId);
        });
        return slots;
    }

    // The reads of one resource's timeslots, the commonest query shape (GET …/timeslots?resource_id=,
    // every booking): compiled once instead of translated from LINQ on every request.
    private static readonly Func<DbContext, string, string, string, IAsyncEnumerable<ScheduleRow>> SchedulesOfResource =
        EF.CompileAsyncQuery((DbContext db, string emr, string careUnitId, string resourceId) =>
            db.Set<ScheduleRow>().AsNoTracking().Where(x => x.Emr == emr && x.CareUnitId == careUnitId && x.ResourceId == resourceId));

    /// <summary>
    /// No appointment is longer than the longest service, so one that ends after a moment started less
    /// than this before it. The overlap queries say so, which bounds their index range on the start
    /// time from below; without it they read every earlier appointment of the resource.
    /// </summary>
    private static readonly TimeSpan LongestAppointment = TimeSpan.FromMinutes(HealthcareService.MaxDurationMinutes);

    private static readonly Func<DbContext, string, string, string, DateTimeOffset, DateTimeOffset, DateTimeOffset, DateTimeOffset, IAsyncEnumerable<BusyTime>> ActiveOfResource =
        EF.CompileAsyncQuery((DbContext db, string emr, string careUnitId, string resourceId, DateTimeOffset now, DateTimeOffset from, DateTimeOffset until, DateTimeOffset startsAfter) =>
            db.Set<AppointmentRow>().AsNoTracking()
                .Where(a => a.Emr == emr && a.CareUnitId == careUnitId && a.ResourceId == resourceId && a.StartUtc < until && a.EndUtc > from && a.StartUtc > startsAfter)
                .Where(a => a.Status == AppointmentStatuses.Booked
                    || (a.Status == AppointmentStatuses.AwaitingConfirmation && a.ConfirmationExpiresAt > now))
                .Select(a => new BusyTime(a.ResourceId, a.StartUtc, a.EndUtc)));

    private static readonly Func<DbContext, string, string, DateTimeOffset, DateTimeOffset, DateTimeOffset, DateTimeOffset, CancellationToken, Task<bool>> AnyActiveOverlap =
        EF.CompileAsyncQuery((DbContext db, string emr, string resourceId, DateTimeOffset now, DateTimeOffset start, DateTimeOffset end, DateTimeOffset startsAfter, CancellationToken _) =>
            db.Set<AppointmentRow>().AsNoTracking()
                .Where(a => a.Emr == emr && a.ResourceId == resourceId && a.StartUtc < end && a.EndUtc > start && a.StartUtc > startsAfter)
                .Any(a => a.Status == AppointmentStatuses.Booked
                    || (a.Status == AppointmentStatuses.AwaitingConfirmation && a.ConfirmationExpiresAt > now)));

    // The same two reads as prepared statements on SQLite (see SqliteStatements): run as compiled EF
    // Core queries they cost more than the slots computed from them, as the compiled query builds
    // its row reader's delegates anew on every run.
    private async Task<List<ScheduleRow>> SchedulesOfResourcePreparedAsync(string careUnitId, string resourceId, CancellationToken cancellationToken)
    {
        var command = SqliteStatements.For(db, """
            SELECT "Key", "Id", "StartUtc", "EndUtc", "Weekdays", "StartMinute", "EndMinute", "FromDate", "UntilDate", "ServiceIds"
            FROM "local_schedules" WHERE "Emr" = @p0 AND "CareUnitId" = @p1 AND "ResourceId" = @p2
            """, emr, careUnitId, resourceId)!;
        var rows = new List<ScheduleRow>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(new ScheduleRow
            {
                Key = reader.GetInt64(0),
                Emr = emr,
                Id = reader.IsDBNull(1) ? null! : reader.GetString(1),
                CareUnitId = careUnitId,
                ResourceId = resourceId,
                StartUtc = reader.IsDBNull(2) ? null : SqliteStatements.Read<DateTimeOffset>(db, typeof(ScheduleRow), nameof(ScheduleRow.StartUtc), reader.GetValue(2)),
                EndUtc = reader.IsDBNull(3) ? null : SqliteStatements.Read<DateTimeOffset>(db, typeof(ScheduleRow), nameof(ScheduleRow.EndUtc), reader.GetValue(3)),
                Weekdays = reader.GetInt32(4),
                StartMinute = reader.GetInt32(5),
                EndMinute = reader.GetInt32(6),
                FromDate = reader.IsDBNull(7) ? null : reader.GetFieldValue<DateOnly>(7),
                UntilDate = reader.IsDBNull(8) ? null : reader.GetFieldValue<DateOnly>(8),
                ServiceIds = reader.GetString(9),
            });
        }

        return rows;
    }

    private async Task<List<BusyTime>> ActiveOfResourcePreparedAsync(
        string careUnitId, string resourceId, DateTimeOffset now, DateTimeOffset from, DateTimeOffset until, DateTimeOffset startsAfter, CancellationToken cancellationToken)
    {
        object? At(DateTimeOffset value) => SqliteStatements.Store(db, typeof(AppointmentRow), nameof(AppointmentRow.StartUtc), value);
        var command = SqliteStatements.For(db, """
            SELECT "StartUtc", "EndUtc" FROM "local_appointments"
            WHERE "Emr" = @p0 AND "CareUnitId" = @p1 AND "ResourceId" = @p2 AND "StartUtc" < @p3 AND "EndUtc" > @p4 AND "StartUtc" > @p5
              AND ("Status" = @p6 OR ("Status" = @p7 AND "ConfirmationExpiresAt" > @p8))
            """, emr, careUnitId, resourceId, At(until), At(from), At(startsAfter),
            AppointmentStatuses.Booked, AppointmentStatuses.AwaitingConfirmation,
            SqliteStatements.Store(db, typeof(AppointmentRow), nameof(AppointmentRow.ConfirmationExpiresAt), now))!;
        var rows = new List<BusyTime>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(new BusyTime(
                resourceId,
                SqliteStatements.Read<DateTimeOffset>(db, typeof(AppointmentRow), nameof(AppointmentRow.StartUtc), reader.GetValue(0)),
                SqliteStatements.Read<DateTimeOffset>(db, typeof(AppointmentRow), nameof(AppointmentRow.EndUtc), reader.GetValue(1))));
        }

        return rows;
    }

    private static async Task<List<T>> ToListAsync<T>(IAsyncEnumerable<T> rows, CancellationToken cancellationToken)
    {
        var list = new List<T>();
        await foreach (var row in rows.WithCancellation(cancellationToken))
        {
            list.Add(row);
        }

        return list;
    }

    private sealed record BusyTime(string ResourceId, DateTimeOffset StartUtc, DateTimeOffset EndUtc);

    // ---- appointments -------------------------------------------------------------------------

    public async Task<AppointmentPage> ListAppointmentsAsync(string careUnitId, AppointmentQuery query, int limit, string? cursor, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        var now = Now();
        var rows = Appointments.AsNoTracking().Where(a => a.CareUnitId == careUnitId);
        if (query.PatientEmrId is { } patient)
        {
            rows = rows.Where(a => a.PatientEmrId == patient);
        }

        if (query.ResourceId is { } resource)
        {
            rows = rows.Where(a => a.ResourceId == resource);
        }

        if (query.Start is { } start)
        {
            var s = start.ToUniversalTime();
            rows = rows.Where(a => a.StartUtc >= s);
        }

        if (query.End is { } end)
        {
            var e = end.ToUniversalTime();
            rows = rows.Where(a => a.StartUtc < e);
        }

        rows = query.Status switch
        {
            AppointmentStatuses.Booked => rows.Where(a => a.Status == AppointmentStatuses.Booked && a.EndUtc > now),
            AppointmentStatuses.Completed => rows.Where(a => a.Status == AppointmentStatuses.Booked && a.EndUtc <= now),
            AppointmentStatuses.AwaitingConfirmation => rows.Where(a => a.Status == AppointmentStatuses.AwaitingConfirmation && a.ConfirmationExpiresAt > now),
            AppointmentStatuses.Cancelled => rows.Where(a => a.Status == AppointmentStatuses.Cancelled || (a.Status == AppointmentStatuses.AwaitingConfirmation && a.ConfirmationExpiresAt <= now)),
            _ => rows,
        };

        if (cursor is not null)
        {
            var (afterStart, afterId) = DecodeAppointmentCursor(cursor);
            rows = rows.Where(a => a.StartUtc > afterStart || (a.StartUtc == afterStart && string.Compare(a.Id, afterId) > 0));
        }

        var page = await rows.OrderBy(a => a.StartUtc).ThenBy(a => a.Id).Take(limit + 1).ToListAsync(cancellationToken);
        string? next = null;
        if (page.Count > limit)
        {
            page.RemoveAt(page.Count - 1);
            var last = page[^1];
            next = Base64Url(Encoding.UTF8.GetBytes($"{last.StartUtc.UtcTicks.ToString(CultureInfo.InvariantCulture)}|{last.Id}"));
        }

        return new AppointmentPage(page.ConvertAll(a => ToRecord(a, now)), next);
    }

    public async Task<Appointment?> GetAppointmentAsync(string careUnitId, string appointmentId, CancellationToken cancellationToken)
    {
        var row = await Appointments.AsNoTracking().FirstOrDefaultAsync(a => a.CareUnitId == careUnitId && a.Id == appointmentId, cancellationToken);
        return row is null ? null : ToRecord(row, Now());
    }

    public async Task<Booking> BookAsync(string careUnitId, NewAppointment appointment, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(appointment);
        var unit = await GetCareUnitAsync(careUnitId, cancellationToken)
            ?? throw new VardbroException(ErrorCodes.NotFound, "No care unit with that id in this EMR.", "care_unit_id", 404);
        var start = appointment.Start.ToUniversalTime();
        var end = appointment.End.ToUniversalTime();

        // The schedule must offer exactly this slot; whether it is free is decided under the lock.
        var offered = (await SlotsAsync(careUnitId, start, start.AddTicks(1), appointment.ResourceId, appointment.HealthcareServiceId, freeOnly: false, ignoring: null, cancellationToken))
            .Where(s => s.Start == start && s.End == end)
            .ToList();
        if (offered.Count == 0)
        {
            throw new VardbroException(ErrorCodes.NoTimeslotsAvailable, "No schedule offers a timeslot with exactly that start and end; GET …/timeslots lists them.", "start");
        }

        var resources = offered.Select(s => s.ResourceId).Distinct(StringComparer.Ordinal).ToList();
        var resourceId = resources[0];
        if (resources.Count > 1)
        {
            var free = (await SlotsAsync(careUnitId, start, start.AddTicks(1), null, appointment.HealthcareServiceId, freeOnly: true, ignoring: null, cancellationToken))
                .Where(s => s.Start == start && s.End == end)
                .Select(s => s.ResourceId).Distinct(StringComparer.Ordinal).ToList();
            if (free.Count > 1)
            {
                throw new VardbroException(ErrorCodes.AmbiguousTimeslots, "Several resources offer that timeslot; give resource_id.", "resource_id");
            }

            if (free.Count == 0)
            {
                throw SlotTaken();
            }

            resourceId = free[0];
        }

        var services = offered.Where(s => s.ResourceId == resourceId).Select(s => s.HealthcareServiceId).Distinct().ToList();
        var serviceId = appointment.HealthcareServiceId ?? (services.Count == 1 ? services[0] : null);
        var now = Now();
        string? code = null;
        var row = new AppointmentRow
        {
            Emr = emr,
            Id = "apt_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8)),
            CareUnitId = careUnitId,
            ResourceId = resourceId,
            PatientEmrId = appointment.PatientEmrId,
            ServiceId = serviceId,
            StartUtc = start,
            EndUtc = end,
            Status = AppointmentStatuses.Booked,
            Comment = appointment.Comment,
            CreatedAt = now,
            UpdatedAt = now,
        };
        if (unit.RequiresConfirmation)
        {
            code = RandomNumberGenerator.GetInt32(0, 1_000_000).ToString("D6", CultureInfo.InvariantCulture);
            row.Status = AppointmentStatuses.AwaitingConfirmation;
            row.ConfirmationCodeHash = CodeHash(row.Id, code);
            row.ConfirmationExpiresAt = now + ConfirmationWindow;
        }

        // Under contention most losers arrive after the winner committed: they are answered without
        // queueing for the write lock. The check under the lock below is the one that decides.
        if (await OverlapsActiveAsync(resourceId, start, end, ignoring: null, cancellationToken))
        {
            throw SlotTaken();
        }

        await SerializedWrites.RunAsync(db, ResourceLock(resourceId), async () =>
        {
            if (await OverlapsActiveAsync(resourceId, start, end, ignoring: null, cancellationToken))
            {
                throw SlotTaken();
            }

            db.Add(row);
            await db.SaveChangesAsync(cancellationToken);
            db.ChangeTracker.Clear();
            return true;
        }, cancellationToken);
        return new Booking(ToRecord(row, now), code);
    }

    public async Task<IReadOnlyList<Appointment>> UpdateAsync(string careUnitId, IReadOnlyList<string> appointmentIds, AppointmentChange change, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(appointmentIds);
        ArgumentNullException.ThrowIfNull(change);
        var bulk = appointmentIds.Count > 1;
        string PathOf(int i) => bulk ? $"ids[{i}]" : "appointment_id";

        var current = await Appointments.AsNoTracking().Where(a => a.CareUnitId == careUnitId && appointmentIds.Contains(a.Id))
            .Select(a => new { a.Id, a.ResourceId }).ToListAsync(cancellationToken);
        for (var i = 0; i < appointmentIds.Count; i++)
        {
            if (!current.Exists(a => a.Id == appointmentIds[i]))
            {
                throw new VardbroException(ErrorCodes.NotFound, "No appointment with that id at this care unit.", PathOf(i), 404);
            }
        }

        var locks = current.Select(a => ResourceLock(a.ResourceId)).ToList();
        if (change.ResourceId is { } target)
        {
            locks.Add(ResourceLock(target));
        }

        VardbroException? afterCommit = null;
        var updated = await SerializedWrites.RunAsync(db, locks, async () =>
        {
            var now = Now();
            var result = new List<Appointment>();
            for (var i = 0; i < appointmentIds.Count; i++)
            {
                var row = await Appointments.FirstAsync(a => a.CareUnitId == careUnitId && a.Id == appointmentIds[i], cancellationToken);
                var status = ToRecord(row, now).Status;
                if (change.ConfirmationCode is { } code)
                {
                    afterCommit = Confirm(row, status, code, now);
                }
                else if (change.Cancel)
                {
                    if (status == AppointmentStatuses.Cancelled)
                    {
                        throw new VardbroException(ErrorCodes.BadInput, "The appointment is already cancelled.", PathOf(i), 409);
                    }

                    if (status == AppointmentStatuses.Completed)
                    {
                        throw new VardbroException(ErrorCodes.BadInput, "The appointment has already taken place.", PathOf(i), 409);
                    }

                    row.Status = AppointmentStatuses.Cancelled;
                }
                else if (change.Start is not null || change.ResourceId is not null)
                {
                    if (status is AppointmentStatuses.Cancelled or AppointmentStatuses.Completed)
                    {
                        throw new VardbroException(ErrorCodes.BadInput, $"A {status} appointment cannot be moved.", PathOf(i), 409);
                    }

                    await MoveAsync(row, change, PathOf(i), cancellationToken);
                }

                if (change.Comment is not null)
                {
                    row.Comment = change.Comment;
                }

                row.UpdatedAt = now;

                // Saved one by one, so that the next one's overlap check sees this one's new place.
                await db.SaveChangesAsync(cancellationToken);
                result.Add(ToRecord(row, now));
            }

            db.ChangeTracker.Clear();
            return result;
        }, cancellationToken);

        return afterCommit is null ? updated : throw afterCommit;
    }

    private async Task MoveAsync(AppointmentRow row, AppointmentChange change, string path, CancellationToken cancellationToken)
    {
        var start = change.Start?.ToUniversalTime() ?? row.StartUtc;
        var end = change.End?.ToUniversalTime() ?? row.EndUtc;
        var resourceId = change.ResourceId ?? row.ResourceId;
        var offered = (await SlotsAsync(row.CareUnitId, start, start.AddTicks(1), resourceId, row.ServiceId, freeOnly: false, ignoring: null, cancellationToken))
            .Exists(s => s.Start == start && s.End == end);
        if (!offered)
        {
            throw new VardbroException(ErrorCodes.NoTimeslotsAvailable, "No schedule offers a timeslot with exactly that start and end for this resource and service.", path == "appointment_id" ? "start" : path);
        }

        if (await OverlapsActiveAsync(resourceId, start, end, ignoring: row.Id, cancellationToken))
        {
            throw SlotTaken(path == "appointment_id" ? "start" : path);
        }

        row.StartUtc = start;
        row.EndUtc = end;
        row.ResourceId = resourceId;
    }

    private static VardbroException? Confirm(AppointmentRow row, string status, string code, DateTimeOffset now)
    {
        if (row.Status != AppointmentStatuses.AwaitingConfirmation)
        {
            throw new VardbroException(ErrorCodes.BadInput, "The appointment is not awaiting confirmation.", "confirmation", 409);
        }

        if (status == AppointmentStatuses.Cancelled)
        {
            row.Status = AppointmentStatuses.Cancelled;
            return new VardbroException(ErrorCodes.InvalidConfirmationCode, "The confirmation code has expired; the appointment was cancelled and its timeslot freed.", "confirmation.code");
        }

        var given = Encoding.UTF8.GetBytes(CodeHash(row.Id, code));
        if (CryptographicOperations.FixedTimeEquals(given, Encoding.UTF8.GetBytes(row.ConfirmationCodeHash ?? "")))
        {
            row.Status = AppointmentStatuses.Booked;
            row.ConfirmationCodeHash = null;
            row.ConfirmationExpiresAt = null;
            return null;
        }

        row.ConfirmationAttempts++;
        if (row.ConfirmationAttempts >= MaxConfirmationAttempts)
        {
            row.Status = AppointmentStatuses.Cancelled;
            return new VardbroException(ErrorCodes.InvalidConfirmationCode, "Wrong confirmation code for the fifth time; the appointment was cancelled and its timeslot freed.", "confirmation.code");
        }

        return new VardbroException(ErrorCodes.InvalidConfirmationCode, $"Wrong confirmation code; {MaxConfirmationAttempts - row.ConfirmationAttempts} attempts left.", "confirmation.code");
    }

    private async Task<bool> OverlapsActiveAsync(string resourceId, DateTimeOffset start, DateTimeOffset end, string? ignoring, CancellationToken cancellationToken)
    {
        var now = Now();
        if (ignoring is null)
        {
            // Runs under the write lock of every booking: compiled, so the lock is held for less.
            return await AnyActiveOverlap(db, emr, resourceId, now, start, end, start - LongestAppointment, cancellationToken);
        }

        var startsAfter = start - LongestAppointment;
        return await ActiveAt(Appointments.AsNoTracking(), now)
            .Where(a => a.ResourceId == resourceId && a.StartUtc < end && a.EndUtc > start && a.StartUtc > startsAfter && a.Id != ignoring)
            .AnyAsync(cancellationToken);
    }

    /// <summary>Appointments that hold their slot: booked, or awaiting a confirmation that has not expired.</summary>
    private static IQueryable<AppointmentRow> ActiveAt(IQueryable<AppointmentRow> rows, DateTimeOffset now) =>
        rows.Where(a => a.Status == AppointmentStatuses.Booked
            || (a.Status == AppointmentStatuses.AwaitingConfirmation && a.ConfirmationExpiresAt > now));

    private string ResourceLock(string resourceId) => $"resource/{emr}/{resourceId}";

    private static VardbroException SlotTaken(string path = "start") =>
        new(ErrorCodes.NoTimeslotsAvailable, "That timeslot is already booked; GET …/timeslots lists the free ones.", path, 409);

    private static string CodeHash(string appointmentId, string code) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{appointmentId}/{code}")));

    private static (DateTimeOffset Start, string Id) DecodeAppointmentCursor(string cursor)
    {
        try
        {
            var text = Encoding.UTF8.GetString(FromBase64Url(cursor));
            var bar = text.IndexOf('|', StringComparison.Ordinal);
            if (bar > 0 && !text.Any(char.IsControl) && long.TryParse(text.AsSpan(0, bar), NumberStyles.None, CultureInfo.InvariantCulture, out var ticks)
                && ticks is >= 0 and <= 3155378975999999999)
            {
                return (new DateTimeOffset(ticks, TimeSpan.Zero), text[(bar + 1)..]);
            }
        }
        catch (FormatException)
        {
        }

        throw new VardbroException(ErrorCodes.InvalidField, "The cursor is not one this server issued; pass the one from the Link header unchanged.", "cursor");
    }

    private async Task<TimeZoneInfo> ZoneAsync(string careUnitId, CancellationToken cancellationToken)
    {
        var unit = await GetCareUnitAsync(careUnitId, cancellationToken)
            ?? throw new VardbroException(ErrorCodes.NotFound, "No care unit with that id in this EMR.", "care_unit_id", 404);
        return TimeZones.Find(unit.TimeZone);
    }

    private static string[] ServiceList(string ids) =>
        ids.Length == 0 ? [] : ids.Split(' ');

    private static Schedule ToRecord(ScheduleRow x) => new(
        x.Id, x.ResourceId, x.CareUnitId, x.StartUtc, x.EndUtc,
        x.Weekdays == 0
            ? null
            : new WeeklyRecurrence(
                Enum.GetValues<DayOfWeek>().Where(d => (x.Weekdays & (1 << (int)d)) != 0).ToList(),
                TimeOnly.FromTimeSpan(TimeSpan.FromMinutes(x.StartMinute % (24 * 60))),
                TimeOnly.FromTimeSpan(TimeSpan.FromMinutes(x.EndMinute % (24 * 60))),
                x.FromDate!.Value,
                x.UntilDate),
        ServiceList(x.ServiceIds));

    private static Appointment ToRecord(AppointmentRow x, DateTimeOffset now)
    {
        var status = x.Status switch
        {
            AppointmentStatuses.Booked when x.EndUtc <= now => AppointmentStatuses.Completed,
            AppointmentStatuses.AwaitingConfirmation when x.ConfirmationExpiresAt <= now => AppointmentStatuses.Cancelled,
            _ => x.Status,
        };
        return new Appointment(x.Id, x.CareUnitId, x.PatientEmrId, x.ResourceId, x.ServiceId, x.StartUtc, x.EndUtc, status, x.Comment, x.CreatedAt, x.UpdatedAt);
    }
}
