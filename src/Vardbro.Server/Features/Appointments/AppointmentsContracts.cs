using System.ComponentModel.DataAnnotations;
using Vardbro.Connectors;
using Vardbro.Server.Api;

namespace Vardbro.Server.Features.Appointments;

/// <summary>The query of an appointment list, shared by the JSON route and its FHIR twin.</summary>
public sealed record AppointmentListQuery(
    string? patient_id, string? resource_id, string? start, string? end, string? status, string? limit, string? cursor, string? updated_since = null);

[OpenApiExample("""{"start": "2026-03-25T14:00:00+01:00", "end": "2026-03-25T14:30:00+01:00", "patient_id": "se_personal_number:191212121212", "resource_id": "hsa_id:SE2321000131-E000000000001", "healthcare_service_id": "general-consultation", "comment": "Follow-up of blood pressure"}""")]
public sealed record BookAppointmentRequest(
    [property: Required] string? Start,
    [property: Required] string? End,
    [property: Required] string? PatientId,
    string? ResourceId,
    string? HealthcareServiceId,
    string? Comment);

public sealed record ConfirmationBody(string? Code);

[OpenApiExample("""{"status": "cancelled", "comment": "The patient called to cancel"}""")]
public sealed record UpdateAppointmentRequest(string? Start, string? End, string? ResourceId, string? Comment, [property: AllowedValues(AppointmentStatuses.Cancelled)] string? Status, ConfirmationBody? Confirmation);

[OpenApiExample("""{"ids": ["a1b2c3", "d4e5f6"], "status": "cancelled"}""")]
public sealed record BulkUpdateAppointmentsRequest([property: Required] IReadOnlyList<string?>? Ids, string? Start, string? End, string? ResourceId, string? Comment, [property: AllowedValues(AppointmentStatuses.Cancelled)] string? Status, ConfirmationBody? Confirmation);

public sealed record AppointmentResponse(
    string Id,
    string EmrId,
    string CareUnitId,
    string PatientId,
    string ResourceId,
    string? HealthcareServiceId,
    DateTimeOffset Start,
    DateTimeOffset End,
    [property: AllowedValues(AppointmentStatuses.Booked, AppointmentStatuses.AwaitingConfirmation, AppointmentStatuses.Cancelled, AppointmentStatuses.Completed)] string Status,
    string? Comment,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt)
{
    public static AppointmentResponse From(Appointment x, string timeZone)
    {
        ArgumentNullException.ThrowIfNull(x);
        return new(
            x.Id, x.Id, x.CareUnitId, x.PatientEmrId, x.ResourceId, x.HealthcareServiceId,
            Http.Local(x.Start, timeZone), Http.Local(x.End, timeZone), x.Status, x.Comment,
            Http.Local(x.CreatedAt, timeZone), Http.Local(x.UpdatedAt, timeZone));
    }
}
