namespace Vardbro.Connectors;

/// <summary>A weekly working-hours rule in the care unit's local time.</summary>
public sealed record WeeklyRecurrence(
    IReadOnlyList<DayOfWeek> Weekdays,
    TimeOnly StartTime,
    TimeOnly EndTime,
    DateOnly From,
    DateOnly? Until);

/// <summary>What a client asks for: one window (<see cref="Start"/>/<see cref="End"/>) or a weekly rule.</summary>
public sealed record NewSchedule(
    DateTimeOffset? Start,
    DateTimeOffset? End,
    WeeklyRecurrence? Recurrence,
    IReadOnlyList<string> HealthcareServiceIds);

/// <summary>A stored schedule: one window or a weekly rule.</summary>
public sealed record Schedule(
    string Id,
    string ResourceId,
    string CareUnitId,
    DateTimeOffset? Start,
    DateTimeOffset? End,
    WeeklyRecurrence? Recurrence,
    IReadOnlyList<string> HealthcareServiceIds);

/// <summary>One working window of a resource; an empty service list allows every service.</summary>
public sealed record ScheduleWindow(
    string Id,
    string ScheduleId,
    string ResourceId,
    string CareUnitId,
    DateTimeOffset Start,
    DateTimeOffset End,
    IReadOnlyList<string> HealthcareServiceIds);

public sealed record Timeslot(
    DateTimeOffset Start,
    DateTimeOffset End,
    string ResourceId,
    string? HealthcareServiceId,
    string CareUnitId);

public sealed record TimeslotQuery(
    DateTimeOffset Start,
    DateTimeOffset End,
    string? ResourceId,
    string? HealthcareServiceId);

public static class AppointmentStatuses
{
    public const string Booked = "booked";
    public const string AwaitingConfirmation = "awaiting_confirmation";
    public const string Cancelled = "cancelled";
    public const string Completed = "completed";

    public static bool IsKnown(string status) => status is Booked or AwaitingConfirmation or Cancelled or Completed;
}

public sealed record Appointment(
    string Id,
    string CareUnitId,
    string PatientEmrId,
    string ResourceId,
    string? HealthcareServiceId,
    DateTimeOffset Start,
    DateTimeOffset End,
    string Status,
    string? Comment,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt);

/// <summary>
/// The filters of an appointment list. <see cref="UpdatedSince"/> keeps appointments the EHR changed at
/// or after that instant (created, moved, cancelled, confirmed); a status that follows from the clock
/// alone (completed, a lapsed confirmation) is no change.
/// </summary>
public sealed record AppointmentQuery(
    string? PatientEmrId,
    string? ResourceId,
    DateTimeOffset? Start,
    DateTimeOffset? End,
    string? Status,
    DateTimeOffset? UpdatedSince = null);

public sealed record AppointmentPage(IReadOnlyList<Appointment> Items, string? NextCursor);

/// <summary>A booking request whose patient, resource and service are resolved to EHR ids.</summary>
public sealed record NewAppointment(
    DateTimeOffset Start,
    DateTimeOffset End,
    string PatientEmrId,
    string? ResourceId,
    string? HealthcareServiceId,
    string? Comment);

/// <summary>
/// A booking made. Where the care unit requires confirmation, <see cref="ConfirmationCode"/> is the
/// code to send to the patient; the caller delivers it.
/// </summary>
public sealed record Booking(Appointment Appointment, string? ConfirmationCode);

/// <summary>One change of an appointment: exactly one of reschedule, cancel or confirm.</summary>
public sealed record AppointmentChange(
    DateTimeOffset? Start,
    DateTimeOffset? End,
    string? ResourceId,
    string? Comment,
    bool Cancel,
    string? ConfirmationCode);

/// <summary>Working windows and the free timeslots cut from them.</summary>
public interface IScheduling
{
    Task<IReadOnlyList<ScheduleWindow>> ListScheduleWindowsAsync(string careUnitId, string resourceId, DateTimeOffset rangeStart, DateTimeOffset rangeEnd, CancellationToken cancellationToken);

    /// <summary>Refuses (409) a schedule whose windows overlap an existing one of the resource.</summary>
    Task<Schedule> CreateScheduleAsync(string careUnitId, string resourceId, NewSchedule schedule, CancellationToken cancellationToken);

    /// <summary>Free slots in the future, sorted by start, then resource.</summary>
    Task<IReadOnlyList<Timeslot>> ListTimeslotsAsync(string careUnitId, TimeslotQuery query, CancellationToken cancellationToken);
}

/// <summary>Appointments. Two active appointments of one resource never overlap.</summary>
public interface IAppointmentBooking
{
    Task<AppointmentPage> ListAppointmentsAsync(string careUnitId, AppointmentQuery query, int limit, string? cursor, CancellationToken cancellationToken);

    Task<Appointment?> GetAppointmentAsync(string careUnitId, string appointmentId, CancellationToken cancellationToken);

    Task<Booking> BookAsync(string careUnitId, NewAppointment appointment, CancellationToken cancellationToken);

    /// <summary>Applies <paramref name="change"/> to every appointment or to none.</summary>
    Task<IReadOnlyList<Appointment>> UpdateAsync(string careUnitId, IReadOnlyList<string> appointmentIds, AppointmentChange change, CancellationToken cancellationToken);
}

/// <summary>
/// Which care unit holds an appointment, for the routes of Leyr's older guides that name an appointment
/// without its care unit. Null when the EHR has no appointment with that id.
/// </summary>
public interface IAppointmentLocator
{
    Task<string?> FindAppointmentCareUnitAsync(string appointmentId, CancellationToken cancellationToken);
}

/// <summary>
/// Bookings held for the patient's confirmation (care units that require it): the connector books
/// the appointment awaiting confirmation and stages the message with its code in the
/// <see cref="INotificationOutbox"/>, both in one transaction of its own. A connector whose EHR cannot
/// hold a booking that way does not offer this, and such care units refuse bookings (NOT_SUPPORTED).
/// </summary>
public interface IConfirmedBooking
{
    Task<Appointment> BookAwaitingConfirmationAsync(string careUnitId, NewAppointment appointment, string phone, CancellationToken cancellationToken);
}

/// <summary>A message to a patient, sent later by the server's notification dispatcher.</summary>
public sealed record OutboxMessage(string Channel, string Recipient, string Body, string Emr, string? AppointmentId);

/// <summary>
/// The server's notification outbox as a connector sees it: a message staged here is stored by the
/// connector's next write to the server's own database, in that write's transaction, so that the
/// message exists exactly when the change that caused it does. Only connectors that write to that
/// database (the built-in EHR) can use it.
/// </summary>
public interface INotificationOutbox
{
    void Stage(OutboxMessage message);
}
