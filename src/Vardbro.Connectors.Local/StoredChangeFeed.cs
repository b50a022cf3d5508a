using System.Globalization;
using Microsoft.EntityFrameworkCore;
using Vardbro.Storage;

namespace Vardbro.Connectors.Local;

/// <summary>
/// An EMR's change feed as kept in the events table: the built-in EHR writes each event with its
/// change; for an EHR that changes outside Vardbro (FHIR, Cliniko) the server's change poller writes
/// what it finds. Read in <see cref="ChangeFeedOrder"/>.
/// </summary>
public sealed class StoredChangeFeed(StoreDb db, string emr) : IChangeFeed
{
    private const string EventIdPrefix = "evt_";

    public async Task<ChangeEventPage> ListEventsAsync(string careUnitId, ChangeEventQuery query, int limit, string? cursor, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        long afterTx = -1, afterKey = 0;
        var events = db.Set<ChangeEventRow>().AsNoTracking().Where(e => e.Emr == emr && e.CareUnitId == careUnitId);
        if (cursor is not null)
        {
            var parts = Cursors.Decode(cursor, 2);
            if (!long.TryParse(parts[0], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out afterTx) || KeyOf(parts[1]) is not { } key)
            {
                throw Cursors.Invalid();
            }

            afterKey = key;
        }
        else if (query.After is not null)
        {
            afterKey = KeyOf(query.After)
                ?? throw new VardbroException(ErrorCodes.InvalidField, "after must be the id of an event of this feed (evt_…).", "after");

            // An event no longer kept (past Events:RetentionDays) or never written: the events after its key.
            var atKey = afterKey;
            afterTx = await events.Where(e => e.Key == atKey).Select(e => (long?)e.Tx).FirstOrDefaultAsync(cancellationToken) ?? -1;
        }

        if (query.Types is { Count: > 0 } types)
        {
            events = events.Where(e => types.Contains(e.Type));
        }

        var horizon = await ChangeFeedOrder.HorizonAsync(db, cancellationToken);
        var ordered = afterTx < 0
            ? events.Where(e => e.Tx < horizon && e.Key > afterKey).OrderBy(e => e.Tx).ThenBy(e => e.Key)
            : ChangeFeedOrder.After(db, events, horizon, afterTx, afterKey);
        var page = await ordered.Take(limit + 1).ToListAsync(cancellationToken);
        string? next = null;
        if (page.Count > limit)
        {
            page.RemoveAt(page.Count - 1);
            next = Cursors.Encode(page[^1].Tx.ToString(CultureInfo.InvariantCulture), IdOf(page[^1].Key));
        }

        return new ChangeEventPage(page.ConvertAll(ToEvent), next);
    }

    /// <summary>A stored event as the feed shows it.</summary>
    public static ChangeEvent ToEvent(ChangeEventRow row)
    {
        ArgumentNullException.ThrowIfNull(row);
        return new ChangeEvent(IdOf(row.Key), row.Type, row.OccurredAt, row.CareUnitId, row.SubjectType, row.SubjectId, row.SubjectPatientId);
    }

    private static string IdOf(long key) => EventIdPrefix + key.ToString(CultureInfo.InvariantCulture);

    private static long? KeyOf(string id) =>
        id.StartsWith(EventIdPrefix, StringComparison.Ordinal) && id.Length <= 24
        && long.TryParse(id.AsSpan(EventIdPrefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var key) && key >= 0
            ? key
            : null;
}
