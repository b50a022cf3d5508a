using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Vardbro.Storage;

// string.Compare(a, b) below sits in expression trees that EF Core translates to SQL comparisons.
#pragma warning disable CA1309

namespace Vardbro.Connectors.Local;

/// <summary>Appointments of the built-in EHR: list, read, book (with or without confirmation), change.</summary>
public sealed partial class LocalConnector
{
    private IQueryable<AppointmentRow> Appointments => db.Set<AppointmentRow>().Where(x => x.Emr == emr);

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

        if (query.UpdatedSince is { } since)
        {
            var u = since.ToUniversalTime();
            rows = rows.Where(a => a.UpdatedAt >= u);
        }

        rows = AppointmentRules.WithStatus(rows, query.Status, now);
        if (cursor is not null)
        {
            var parts = Cursors.Decode(cursor, 2);
            if (!long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var ticks) || ticks > DateTimeOffset.MaxValue.UtcTicks)
            {
                throw Cursors.Invalid();
            }

            var (afterStart, afterId) = (new DateTimeOffset(ticks, TimeSpan.Zero), parts[1]);
            rows = rows.Where(a => a.StartUtc > afterStart || (a.StartUtc == afterStart && string.Compare(a.Id, afterId) > 0));
        }

        var page = await rows.OrderBy(a => a.StartUtc).ThenBy(a => a.Id).Take(limit + 1).ToListAsync(cancellationToken);
        string? next = null;
        if (page.Count > limit)
        {
            page.RemoveAt(page.Count - 1);
            next = Cursors.Encode(page[^1].StartUtc.UtcTicks.ToString(CultureInfo.InvariantCulture), page[^1].Id);
        }

        return new AppointmentPage(page.ConvertAll(a => ToRecord(a, now)), next);
    }

    public async Task<Appointment?> GetAppointmentAsync(string careUnitId, string appointmentId, CancellationToken cancellationToken)
    {
        var row = await Appointments.AsNoTracking().FirstOrDefaultAsync(a => a.CareUnitId == careUnitId && a.Id == appointmentId, cancellationToken);
        return row is null ? null : ToRecord(row, Now());
    }

    public async Task<string?> FindAppointmentCareUnitAsync(string appointmentId, CancellationToken cancellationToken) =>
        await Appointments.AsNoTracking().Where(a => a.Id == appointmentId).Select(a => a.CareUnitId).FirstOrDefaultAsync(cancellationToken);

    public async Task<Booking> BookAsync(string careUnitId, NewAppointment appointment, CancellationToken cancellationToken)
    {
        var (row, code) = await BookCoreAsync(careUnitId, appointment, phone: null, cancellationToken);
        return new Booking(ToRecord(row, row.CreatedAt), code);
    }

    public async Task<Appointment> BookAwaitingConfirmationAsync(string careUnitId, NewAppointment appointment, string phone, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(phone);
        return ToRecord((await BookCoreAsync(careUnitId, appointment, phone, cancellationToken)).Row, Now());
    }

    /// <summary>
    /// Books the one slot that matches; at a care unit that requires confirmation the booking awaits
    /// a code, which goes to <paramref name="phone"/> through the outbox in the booking's transaction
    /// (or, without a phone, back to the caller).
    /// </summary>
    private async Task<(AppointmentRow Row, string? Code)> BookCoreAsync(string careUnitId, NewAppointment appointment, string? phone, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(appointment);
        var unit = await RequireCareUnitAsync(careUnitId, cancellationToken);
        var start = appointment.Start.ToUniversalTime();
        var end = appointment.End.ToUniversalTime();

        // The schedule must offer exactly this slot; whether it is free is decided under the lock.
        var offered = (await SlotsAsync(careUnitId, start, start.AddTicks(1), appointment.ResourceId, appointment.HealthcareServiceId, freeOnly: false, cancellationToken))
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
            var free = (await SlotsAsync(careUnitId, start, start.AddTicks(1), null, appointment.HealthcareServiceId, freeOnly: true, cancellationToken))
                .Where(s => s.Start == start && s.End == end)
                .Select(s => s.ResourceId).Distinct(StringComparer.Ordinal).ToList();
            resourceId = free.Count switch
            {
                0 => throw SlotTaken(),
                1 => free[0],
                _ => throw new VardbroException(ErrorCodes.AmbiguousTimeslots, "Several resources offer that timeslot; give resource_id.", "resource_id"),
            };
        }

        var services = offered.Where(s => s.ResourceId == resourceId).Select(s => s.HealthcareServiceId).Distinct().ToList();
        var now = Now();
        var row = new AppointmentRow
        {
            Emr = emr,
            Id = NewId("apt_"),
            CareUnitId = careUnitId,
            ResourceId = resourceId,
            PatientEmrId = appointment.PatientEmrId,
            ServiceId = appointment.HealthcareServiceId ?? (services.Count == 1 ? services[0] : null),
            StartUtc = start,
            EndUtc = end,
            Status = AppointmentStatuses.Booked,
            Comment = appointment.Comment,
            CreatedAt = now,
            UpdatedAt = now,
        };
        string? code = null;
        if (unit.RequiresConfirmation)
        {
            code = RandomNumberGenerator.GetInt32(0, 1_000_000).ToString("D6", CultureInfo.InvariantCulture);
            row.Status = AppointmentStatuses.AwaitingConfirmation;
            row.ConfirmationCodeHash = CodeHash(row.Id, code);
            row.ConfirmationExpiresAt = now + AppointmentRules.ConfirmationWindow;
        }

        // Under contention most losers arrive after the winner committed: they are answered without
        // queueing for the write lock. The check under the lock below is the one that decides.
        if (await reads.AnyOverlapAsync(resourceId, now, start, end, ignoring: null, cancellationToken))
        {
            throw SlotTaken();
        }

        await SerializedWrites.RunAsync(db, ResourceLock(resourceId), async () =>
        {
            if (await reads.AnyOverlapAsync(resourceId, Now(), start, end, ignoring: null, cancellationToken))
            {
                throw SlotTaken();
            }

            db.Add(row);
            Announce(ChangeEventTypes.AppointmentCreated, careUnitId, ChangeSubjects.Appointment, row.Id, now);
            if (code is not null && phone is not null)
            {
                StageConfirmationCode(unit, row, code, phone);
                code = null;
            }

            await SaveAsync(cancellationToken);
            return true;
        }, cancellationToken);
        return (row, code);
    }

    private void StageConfirmationCode(CareUnit unit, AppointmentRow row, string code, string phone)
    {
        var target = outbox ?? throw new InvalidOperationException("This connector was made without a notification outbox; it cannot send confirmation codes.");
        var local = TimeZoneInfo.ConvertTime(row.StartUtc, TimeZones.Find(unit.TimeZone));
        target.Stage(new OutboxMessage(
            "sms", phone,
            $"{unit.Name}: your confirmation code is {code}. It confirms your appointment on {local:yyyy-MM-dd} at {local:HH:mm} and is valid for {AppointmentRules.ConfirmationWindow.TotalMinutes:0} minutes.",
            emr, row.Id));
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
                throw new VardbroException(ErrorCodes.NotFound, "No appointment with that id at this care unit.", PathOf(i));
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
                var status = AppointmentRules.StatusAt(row, now);
                var stored = row.Status;
                if (change.ConfirmationCode is { } code)
                {
                    afterCommit = Confirm(row, status, code);
                }
                else if (change.Cancel)
                {
                    if (status is AppointmentStatuses.Cancelled or AppointmentStatuses.Completed)
                    {
                        throw new ConflictException(ErrorCodes.BadInput, status == AppointmentStatuses.Cancelled ? "The appointment is already cancelled." : "The appointment has already taken place.", PathOf(i));
                    }

                    row.Status = AppointmentStatuses.Cancelled;
                }
                else if (change.Start is not null || change.ResourceId is not null)
                {
                    if (status is AppointmentStatuses.Cancelled or AppointmentStatuses.Completed)
                    {
                        throw new ConflictException(ErrorCodes.BadInput, $"A {status} appointment cannot be moved.", PathOf(i));
                    }

                    await MoveAsync(row, change, PathOf(i), now, cancellationToken);
                }

                if (change.Comment is not null)
                {
                    row.Comment = change.Comment;
                }

                row.UpdatedAt = now;

                // A wrong code that leaves the appointment as it was is no change a subscriber can see.
                var type = row.Status != stored
                    ? row.Status == AppointmentStatuses.Cancelled ? ChangeEventTypes.AppointmentCancelled : ChangeEventTypes.AppointmentConfirmed
                    : change.ConfirmationCode is null ? ChangeEventTypes.AppointmentUpdated : null;
                if (type is not null)
                {
                    Announce(type, row.CareUnitId, ChangeSubjects.Appointment, row.Id, now);
                }

                // Saved one by one, so that the next one's overlap check sees this one's new place.
                await db.SaveChangesAsync(cancellationToken);
                result.Add(ToRecord(row, now));
            }

            db.ChangeTracker.Clear();
            return result;
        }, cancellationToken);

        return afterCommit is null ? updated : throw afterCommit;
    }

    private async Task MoveAsync(AppointmentRow row, AppointmentChange change, string path, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var start = change.Start?.ToUniversalTime() ?? row.StartUtc;
        var end = change.End?.ToUniversalTime() ?? row.EndUtc;
        var resourceId = change.ResourceId ?? row.ResourceId;
        var offered = (await SlotsAsync(row.CareUnitId, start, start.AddTicks(1), resourceId, row.ServiceId, freeOnly: false, cancellationToken))
            .Exists(s => s.Start == start && s.End == end);
        var field = path == "appointment_id" ? "start" : path;
        if (!offered)
        {
            throw new VardbroException(ErrorCodes.NoTimeslotsAvailable, "No schedule offers a timeslot with exactly that start and end for this resource and service.", field);
        }

        if (await reads.AnyOverlapAsync(resourceId, now, start, end, ignoring: row.Id, cancellationToken))
        {
            throw SlotTaken(field);
        }

        row.StartUtc = start;
        row.EndUtc = end;
        row.ResourceId = resourceId;
    }

    /// <summary>Checks a confirmation code; the refusal it returns is thrown after the attempt is committed.</summary>
    private static VardbroException? Confirm(AppointmentRow row, string status, string code)
    {
        if (row.Status != AppointmentStatuses.AwaitingConfirmation)
        {
            throw new ConflictException(ErrorCodes.BadInput, "The appointment is not awaiting confirmation.", "confirmation");
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
        if (row.ConfirmationAttempts >= AppointmentRules.MaxConfirmationAttempts)
        {
            row.Status = AppointmentStatuses.Cancelled;
            return new VardbroException(ErrorCodes.InvalidConfirmationCode, "Wrong confirmation code for the fifth time; the appointment was cancelled and its timeslot freed.", "confirmation.code");
        }

        return new VardbroException(ErrorCodes.InvalidConfirmationCode, $"Wrong confirmation code; {AppointmentRules.MaxConfirmationAttempts - row.ConfirmationAttempts} attempts left.", "confirmation.code");
    }

    private static ConflictException SlotTaken(string path = "start") =>
        new(ErrorCodes.NoTimeslotsAvailable, "That timeslot is already booked; GET …/timeslots lists the free ones.", path);

    private static string CodeHash(string appointmentId, string code) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{appointmentId}/{code}")));

    private static Appointment ToRecord(AppointmentRow x, DateTimeOffset now) =>
        new(x.Id, x.CareUnitId, x.PatientEmrId, x.ResourceId, x.ServiceId, x.StartUtc, x.EndUtc, AppointmentRules.StatusAt(x, now), x.Comment, x.CreatedAt, x.UpdatedAt);
}
