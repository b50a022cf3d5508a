using System.Linq.Expressions;

namespace Vardbro.Connectors.Local;

/// <summary>
/// The built-in EHR's appointment rules, each written once: which appointments hold their slot, and
/// the status an appointment shows at a moment. The slot rule exists as LINQ (for EF Core) and as SQL
/// (for the prepared reads) side by side here; a test runs both over the same rows.
/// </summary>
internal static class AppointmentRules
{
    /// <summary>How long a booking waits for its confirmation code before it lapses and frees its slot.</summary>
    public static readonly TimeSpan ConfirmationWindow = TimeSpan.FromMinutes(15);

    /// <summary>Wrong codes after which a booking awaiting confirmation is cancelled.</summary>
    public const int MaxConfirmationAttempts = 5;

    /// <summary>
    /// No appointment is longer than the longest service, so one that ends after a moment started less
    /// than this before it. Overlap queries say so, which bounds their index range on the start time
    /// from below; without it they read every earlier appointment of the resource.
    /// </summary>
    public static readonly TimeSpan LongestAppointment = TimeSpan.FromMinutes(HealthcareService.MaxDurationMinutes);

    /// <summary>Appointments that hold their slot at <paramref name="now"/>: booked, or awaiting a confirmation that has not expired.</summary>
    public static Expression<Func<AppointmentRow, bool>> HoldsSlot(DateTimeOffset now) =>
        a => a.Status == AppointmentStatuses.Booked
            || (a.Status == AppointmentStatuses.AwaitingConfirmation && a.ConfirmationExpiresAt > now);

    /// <summary><see cref="HoldsSlot"/> as a SQL condition on <c>local_appointments</c>, the moment bound to <paramref name="now"/>.</summary>
    public static string HoldsSlotSql(string now) =>
        $"""("Status" = '{AppointmentStatuses.Booked}' OR ("Status" = '{AppointmentStatuses.AwaitingConfirmation}' AND "ConfirmationExpiresAt" > {now}))""";

    /// <summary>The status an appointment shows at <paramref name="now"/>: a booking whose end has passed is completed, a lapsed hold cancelled.</summary>
    public static string StatusAt(AppointmentRow row, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(row);
        return row.Status switch
        {
            AppointmentStatuses.Booked when row.EndUtc <= now => AppointmentStatuses.Completed,
            AppointmentStatuses.AwaitingConfirmation when row.ConfirmationExpiresAt <= now => AppointmentStatuses.Cancelled,
            _ => row.Status,
        };
    }

    /// <summary>The appointments whose <see cref="StatusAt"/> is <paramref name="status"/> (all for null).</summary>
    public static IQueryable<AppointmentRow> WithStatus(IQueryable<AppointmentRow> rows, string? status, DateTimeOffset now) => status switch
    {
        AppointmentStatuses.Booked => rows.Where(a => a.Status == AppointmentStatuses.Booked && a.EndUtc > now),
        AppointmentStatuses.Completed => rows.Where(a => a.Status == AppointmentStatuses.Booked && a.EndUtc <= now),
        AppointmentStatuses.AwaitingConfirmation => rows.Where(a => a.Status == AppointmentStatuses.AwaitingConfirmation && a.ConfirmationExpiresAt > now),
        AppointmentStatuses.Cancelled => rows.Where(a => a.Status == AppointmentStatuses.Cancelled || (a.Status == AppointmentStatuses.AwaitingConfirmation && a.ConfirmationExpiresAt <= now)),
        _ => rows,
    };
}
