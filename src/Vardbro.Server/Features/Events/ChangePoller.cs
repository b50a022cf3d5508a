using Microsoft.EntityFrameworkCore;
using Vardbro.Connectors;
using Vardbro.Connectors.Local;
using Vardbro.Server.Emrs;
using Vardbro.Server.Storage;
using Vardbro.Storage;

namespace Vardbro.Server.Features.Events;

/// <summary>
/// Announces the appointment changes of EHRs that change outside Vardbro (FHIR, Cliniko): every
/// <c>Emrs:&lt;code&gt;:ChangePollSeconds</c> it lists each care unit's appointments changed since its
/// watermark (the connector's <c>updated_since</c>: <c>_lastUpdated</c> on FHIR, <c>updated_at</c> on
/// Cliniko) and stores their events in the feed, from where the webhook dispatcher delivers them.
/// One instance polls an EMR at a time: it holds a lease in the database, renewed by each poll and
/// taken over by another instance once it lapses. The events, what was seen and the new watermark are
/// written in one transaction that first checks the lease is still this instance's, so a poll that
/// fails or is overtaken writes nothing and the next one asks again: no change lost, none told twice.
/// </summary>
public sealed partial class ChangePoller(IServiceScopeFactory scopes, EmrCatalog catalog, TimeProvider time, ILogger<ChangePoller> logger) : BackgroundService
{
    /// <summary>
    /// How far before its watermark a poll asks from, so that a change the EHR stamped a little earlier
    /// than one already seen but showed later (a slow commit, a rounded instant) is still found; what
    /// was already announced is recognized by its change time and skipped.
    /// </summary>
    public static readonly TimeSpan Overlap = TimeSpan.FromMinutes(1);

    public const int PageSize = 200;

    private readonly string instance = Guid.NewGuid().ToString("N");

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(catalog.All.Where(emr => EmrConnectors.PollsChanges(catalog, emr)).Select(emr =>
            BackgroundRounds.EveryAsync(
                TimeSpan.FromSeconds(emr.ChangePollSeconds),
                time,
                cancellationToken => PollAsync(emr, cancellationToken),
                ex => LogPollFailed(logger, emr.Code, ex),
                stoppingToken)));

    /// <summary>
    /// The lease: long enough for a poll to finish well inside it, short enough that another instance
    /// takes over within a few intervals of this one stopping.
    /// </summary>
    private static TimeSpan LeaseOf(EmrDefinition emr) => TimeSpan.FromSeconds((2 * emr.ChangePollSeconds) + 30);

    /// <summary>One poll of <paramref name="emr"/>; the number of events it stored, or null where another instance holds the lease.</summary>
    public async Task<int?> PollAsync(EmrDefinition emr, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(emr);
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<VardbroDb>();
        var now = time.GetUtcNow().ToUniversalTime();
        if (!await TakeLeaseAsync(db, emr, now, cancellationToken))
        {
            return null;
        }

        var state = await db.ChangePolls.AsNoTracking().SingleAsync(p => p.Emr == emr.Code, cancellationToken);
        var since = state.Watermark - Overlap > state.PollingSince ? state.Watermark - Overlap : state.PollingSince;
        var connectors = scope.ServiceProvider.GetRequiredService<EmrConnectors>();
        var booking = connectors.Require<IAppointmentBooking>(emr.Code);
        var changed = new Dictionary<string, (string CareUnitId, Appointment Appointment)>(StringComparer.Ordinal);
        foreach (var unit in await connectors.Require<ICareUnitDirectory>(emr.Code).ListCareUnitsAsync(cancellationToken))
        {
            string? cursor = null;
            do
            {
                var page = await booking.ListAppointmentsAsync(unit.Id, new AppointmentQuery(null, null, null, null, null, since), PageSize, cursor, cancellationToken);
                foreach (var appointment in page.Items)
                {
                    changed[appointment.Id] = (unit.Id, appointment);
                }

                cursor = page.NextCursor;
            }
            while (cursor is not null);
        }

        var stored = await RecordAsync(db, emr, state.Watermark, since, [.. changed.Values], cancellationToken);
        LogPolled(logger, emr.Code, changed.Count, stored ?? 0);
        return stored;
    }

    /// <summary>
    /// Takes or renews the EMR's lease; false where another instance holds it. The first poll of an
    /// EMR makes its row (polling begins now) and asks the EHR nothing yet: nothing changed before.
    /// </summary>
    private async Task<bool> TakeLeaseAsync(VardbroDb db, EmrDefinition emr, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var until = now + LeaseOf(emr);
        var taken = await db.ChangePolls
            .Where(p => p.Emr == emr.Code && (p.Holder == instance || p.LeaseUntil < now))
            .ExecuteUpdateAsync(s => s.SetProperty(p => p.Holder, instance).SetProperty(p => p.LeaseUntil, until), cancellationToken);
        if (taken > 0 || await db.ChangePolls.AnyAsync(p => p.Emr == emr.Code, cancellationToken))
        {
            return taken > 0;
        }

        db.ChangePolls.Add(new ChangePollRow { Emr = emr.Code, Holder = instance, LeaseUntil = until, PollingSince = now, Watermark = now });
        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException)
        {
            // Another instance made the row first; it polls.
        }

        db.ChangeTracker.Clear();
        return false;
    }

    /// <summary>Stores the events of <paramref name="changed"/> and moves the watermark, if this instance still holds the lease.</summary>
    private async Task<int?> RecordAsync(VardbroDb db, EmrDefinition emr, DateTimeOffset watermarkBefore, DateTimeOffset since, IReadOnlyList<(string CareUnitId, Appointment Appointment)> changed, CancellationToken cancellationToken)
    {
        var watermark = changed.Select(c => c.Appointment.UpdatedAt.ToUniversalTime()).Append(watermarkBefore).Max();
        var now = time.GetUtcNow().ToUniversalTime();
        var recordedAt = new DateTimeOffset(now.UtcTicks - (now.UtcTicks % TimeSpan.TicksPerMillisecond), TimeSpan.Zero);
        var until = now + LeaseOf(emr);
        return await SerializedWrites.RunAsync<int?>(db, "change-poll:" + emr.Code, async () =>
        {
            var held = await db.ChangePolls
                .Where(p => p.Emr == emr.Code && p.Holder == instance)
                .ExecuteUpdateAsync(s => s.SetProperty(p => p.LeaseUntil, until).SetProperty(p => p.Watermark, watermark), cancellationToken);
            if (held == 0)
            {
                return null;
            }

            var ids = changed.Select(c => c.Appointment.Id).ToList();
            var seen = await db.ChangePollSeen
                .Where(s => s.Emr == emr.Code && s.SubjectType == ChangeSubjects.Appointment && ids.Contains(s.SubjectId))
                .ToDictionaryAsync(s => s.SubjectId, StringComparer.Ordinal, cancellationToken);
            var events = 0;
            foreach (var (careUnitId, appointment) in changed.OrderBy(c => c.Appointment.UpdatedAt).ThenBy(c => c.Appointment.Id, StringComparer.Ordinal))
            {
                var updatedAt = appointment.UpdatedAt.ToUniversalTime();
                var before = seen.GetValueOrDefault(appointment.Id);
                foreach (var type in Announcements(appointment, before, since))
                {
                    db.Add(new ChangeEventRow
                    {
                        Emr = emr.Code,
                        CareUnitId = careUnitId,
                        Type = type,
                        SubjectType = ChangeSubjects.Appointment,
                        SubjectId = appointment.Id,
                        OccurredAt = updatedAt,
                        RecordedAt = recordedAt,
                    });
                    events++;
                }

                if (before is null)
                {
                    db.ChangePollSeen.Add(new ChangePollSeenRow { Emr = emr.Code, SubjectType = ChangeSubjects.Appointment, SubjectId = appointment.Id, UpdatedAt = updatedAt, Status = appointment.Status, Fingerprint = FingerprintOf(appointment) });
                }
                else if (updatedAt >= before.UpdatedAt)
                {
                    before.UpdatedAt = updatedAt;
                    before.Status = appointment.Status;
                    before.Fingerprint = FingerprintOf(appointment);
                }
            }

            await db.SaveChangesAsync(cancellationToken);
            db.ChangeTracker.Clear();
            return events;
        }, cancellationToken);
    }

    /// <summary>
    /// The events of an appointment seen changed, given what was last seen of it: none where this change
    /// was seen already; <c>created</c> where it was not seen before and the EHR created it inside the
    /// poll's window (from <paramref name="since"/>; and <c>cancelled</c> too where it is already cancelled); <c>cancelled</c> where it became
    /// cancelled; <c>confirmed</c> where it went from awaiting confirmation to booked; else <c>updated</c>.
    /// </summary>
    public static IReadOnlyList<string> Announcements(Appointment appointment, ChangePollSeenRow? before, DateTimeOffset since)
    {
        ArgumentNullException.ThrowIfNull(appointment);
        var cancelled = appointment.Status == AppointmentStatuses.Cancelled;
        if (before is null)
        {
            // To the second: an EHR that keeps whole seconds (Cliniko) stamps a creation just after the
            // window began with the second it began in.
            return appointment.CreatedAt.UtcTicks >= since.UtcTicks - (since.UtcTicks % TimeSpan.TicksPerSecond)
                ? cancelled ? [ChangeEventTypes.AppointmentCreated, ChangeEventTypes.AppointmentCancelled] : [ChangeEventTypes.AppointmentCreated]
                : [cancelled ? ChangeEventTypes.AppointmentCancelled : ChangeEventTypes.AppointmentUpdated];
        }

        // Seen already: an older change, or this one (the same time and the same content; an EHR that
        // keeps whole seconds stamps two changes in one second alike, and they differ in content).
        if (appointment.UpdatedAt < before.UpdatedAt || (appointment.UpdatedAt == before.UpdatedAt && FingerprintOf(appointment) == before.Fingerprint))
        {
            return [];
        }

        return cancelled && before.Status != AppointmentStatuses.Cancelled ? [ChangeEventTypes.AppointmentCancelled]
            : before.Status == AppointmentStatuses.AwaitingConfirmation && appointment.Status is AppointmentStatuses.Booked or AppointmentStatuses.Completed ? [ChangeEventTypes.AppointmentConfirmed]
            : [ChangeEventTypes.AppointmentUpdated];
    }

    /// <summary>
    /// A hash of the appointment as the API shows it, but its comment: free text is not kept, not even
    /// hashed (a change of the comment alone is told by its later change time).
    /// </summary>
    public static string FingerprintOf(Appointment appointment)
    {
        ArgumentNullException.ThrowIfNull(appointment);
        var shown = string.Join('\n', appointment.Status, appointment.Start.UtcTicks, appointment.End.UtcTicks, appointment.ResourceId, appointment.HealthcareServiceId, appointment.PatientEmrId, appointment.CareUnitId);
        return Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(shown)).AsSpan(0, 16));
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Polled EMR {Emr} for changes: {Changed} appointments changed, {Events} events stored")]
    private static partial void LogPolled(ILogger logger, string emr, int changed, int events);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Polling EMR {Emr} for changes failed; the next poll asks again from the same point")]
    private static partial void LogPollFailed(ILogger logger, string emr, Exception exception);
}
