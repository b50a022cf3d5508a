namespace Vardbro.Connectors;

/// <summary>What changed in an EHR: the event types of the change feed (API.md §8 "Change feed and webhooks").</summary>
public static class ChangeEventTypes
{
    public const string AppointmentCreated = "appointment.created";
    public const string AppointmentUpdated = "appointment.updated";
    public const string AppointmentCancelled = "appointment.cancelled";
    public const string AppointmentConfirmed = "appointment.confirmed";
    public const string PatientCreated = "patient.created";
    public const string PatientUpdated = "patient.updated";
    public const string MedicalNoteCreated = "medical_note.created";
    public const string DocumentCreated = "document.created";

    public static IReadOnlyList<string> All { get; } =
    [
        AppointmentCreated, AppointmentUpdated, AppointmentCancelled, AppointmentConfirmed,
        PatientCreated, PatientUpdated, MedicalNoteCreated, DocumentCreated,
    ];

    public static bool IsKnown(string type) => All.Contains(type, StringComparer.Ordinal);
}

/// <summary>The kinds of record an event is about.</summary>
public static class ChangeSubjects
{
    public const string Appointment = "appointment";
    public const string Patient = "patient";
    public const string MedicalNote = "medical_note";
    public const string Document = "document";
}

/// <summary>
/// One change, by ids alone: the record's kind and EHR id (and, for notes and documents, the EHR id of
/// their patient, which their paths need); never a name, a number or a text.
/// </summary>
public sealed record ChangeEvent(
    string Id,
    string Type,
    DateTimeOffset OccurredAt,
    string CareUnitId,
    string SubjectType,
    string SubjectId,
    string? SubjectPatientId);

/// <summary>
/// Events after <see cref="After"/> (an event id this feed issued; null: from the oldest kept), of the
/// given <see cref="Types"/> (null: all).
/// </summary>
public sealed record ChangeEventQuery(string? After, IReadOnlyCollection<string>? Types);

public sealed record ChangeEventPage(IReadOnlyList<ChangeEvent> Items, string? NextCursor);

/// <summary>
/// The change feed of a care unit, oldest first. An event is in the feed exactly when the change it
/// announces is: no change without its event, no event without its change.
/// </summary>
public interface IChangeFeed
{
    /// <summary>
    /// A page of events; <paramref name="cursor"/> is one the previous page returned (it wins over
    /// <see cref="ChangeEventQuery.After"/>). An <c>after</c> this feed cannot have issued is an
    /// <c>INVALID_FIELD</c> refusal on <c>after</c>.
    /// </summary>
    Task<ChangeEventPage> ListEventsAsync(string careUnitId, ChangeEventQuery query, int limit, string? cursor, CancellationToken cancellationToken);
}
