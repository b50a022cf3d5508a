using Vardbro.Connectors;
using Vardbro.Server.Api;

namespace Vardbro.Server.Features.Appointments;

/// <summary>The query of an appointment list, shared by the JSON route and its FHIR twin.</summary>
public sealed record AppointmentListQuery(
    string? patient_id, string? resource_id, string? start, string? end, string? status, string? limit, string? cursor);

public sealed record BookAppointmentRequest(string? Start, string? End, string? PatientId, string? ResourceId, string? HealthcareServiceId, string? Comment);

public sealed record ConfirmationBody(string? Code);

public sealed record UpdateAppointmentRequest(string? Start, string? End, string? ResourceId, string? Comment, string? Status, ConfirmationBody? Confirmation);

public sealed record BulkUpdateAppointmentsRequest(IReadOnlyList<string?>? Ids, string? Start, string? End, string? ResourceId, string? Comment, string? Status, ConfirmationBody? Confirmation);

public sealed record AppointmentResponse(
    string Id,
    string EmrId,
    string CareUnitId,
    string PatientId,
    string ResourceId,
    string? HealthcareServiceId,
    DateTimeOffset Start,
    DateTimeOffset End,
    string Status,
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
