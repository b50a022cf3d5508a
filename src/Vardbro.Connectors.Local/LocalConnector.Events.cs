using Vardbro.Storage;

namespace Vardbro.Connectors.Local;

/// <summary>
/// The built-in EHR's change feed: an event row added to the same unit of work as the change it
/// announces, so both are committed together or not at all.
/// </summary>
public sealed partial class LocalConnector : IChangeFeed
{
    public Task<ChangeEventPage> ListEventsAsync(string careUnitId, ChangeEventQuery query, int limit, string? cursor, CancellationToken cancellationToken) =>
        new StoredChangeFeed(db, emr).ListEventsAsync(careUnitId, query, limit, cursor, cancellationToken);

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
            RecordedAt = at,
        });
    }
}
