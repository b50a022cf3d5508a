using System.Globalization;
using Microsoft.EntityFrameworkCore;
using Vardbro.Storage;

namespace Vardbro.Connectors.Local;

/// <summary>
/// The built-in EHR's change feed: an event row added to the same unit of work as the change it
/// announces, so both are committed together or not at all.
/// </summary>
public sealed partial class LocalConnector : IChangeFeed
{
    private const string EventIdPrefix = "evt_";

    /// <summary>
    /// Held from the first event insert of a transaction to its commit. On PostgreSQL, ids come from a
    /// sequence at insert time, and transactions commit in any order: without this, a reader could see
    /// event 11 before event 10 commits, move past it, and miss it. On SQLite writers are serial anyway.
    /// </summary>
    private const string EventOrderLock = "change-events";

    private bool announced;

    public async Task<ChangeEventPage> ListEventsAsync(string careUnitId, ChangeEventQuery query, int limit, string? cursor, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        long after = 0;
        if (cursor is not null)
        {
            after = KeyOf(Cursors.Decode(cursor, 1)[0]) ?? throw Cursors.Invalid();
        }
        else if (query.After is not null)
        {
            after = KeyOf(query.After)
                ?? throw new VardbroException(ErrorCodes.InvalidField, "after must be the id of an event of this feed (evt_…).", "after");
        }

        var rows = db.Set<ChangeEventRow>().AsNoTracking().Where(e => e.Emr == emr && e.CareUnitId == careUnitId && e.Key > after);
        if (query.Types is { Count: > 0 } types)
        {
            rows = rows.Where(e => types.Contains(e.Type));
        }

        var page = await rows.OrderBy(e => e.Key).Take(limit + 1).ToListAsync(cancellationToken);
        string? next = null;
        if (page.Count > limit)
        {
            page.RemoveAt(page.Count - 1);
            next = Cursors.Encode(IdOf(page[^1].Key));
        }

        return new ChangeEventPage(page.ConvertAll(e => new ChangeEvent(IdOf(e.Key), e.Type, e.OccurredAt, e.CareUnitId, e.SubjectType, e.SubjectId, e.SubjectPatientId)), next);
    }

    private static string IdOf(long key) => EventIdPrefix + key.ToString(CultureInfo.InvariantCulture);

    private static long? KeyOf(string id) =>
        id.StartsWith(EventIdPrefix, StringComparison.Ordinal) && id.Length <= 24
        && long.TryParse(id.AsSpan(EventIdPrefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var key) && key >= 0
            ? key
            : null;

    /// <summary>Adds the event of a change to the unit of work that makes the change; the next save stores both.</summary>
    private void Announce(string type, string careUnitId, string subjectType, string subjectId, DateTimeOffset at, string? patientEmrId = null)
    {
        db.Add(new ChangeEventRow
        {
            Emr = emr,
            CareUnitId = careUnitId,
            Type = type,
            SubjectType = subjectType,
            SubjectId = subjectId,
            SubjectPatientId = patientEmrId,
            OccurredAt = at,
        });
        announced = true;
    }

    /// <summary>Saves the unit of work; one that holds events is saved in a transaction that keeps event ids in commit order.</summary>
    private async Task SaveChangesAsync(CancellationToken cancellationToken)
    {
        if (!announced)
        {
            await db.SaveChangesAsync(cancellationToken);
            return;
        }

        announced = false;
        await SerializedWrites.RunAsync(db, EventOrderLock, async () => await db.SaveChangesAsync(cancellationToken), cancellationToken);
    }
}
