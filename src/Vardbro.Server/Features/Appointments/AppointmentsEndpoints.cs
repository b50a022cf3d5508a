using Microsoft.EntityFrameworkCore;
using Vardbro.Connectors;
using Vardbro.Server.Api;
using Vardbro.Server.Audit;
using Vardbro.Server.Emrs;
using Vardbro.Server.Features.Schedules;
using Vardbro.Server.Features.Timeslots;
using Vardbro.Server.Notifications;
using Vardbro.Server.Storage;

namespace Vardbro.Server.Features.Appointments;

public static class AppointmentsEndpoints
{
    public const int MaxCommentLength = 1000;
    public const int MaxBulkIds = 50;

    public static void MapAppointments(this IEndpointRouteBuilder careUnit)
    {
        var group = careUnit.MapGroup("/appointments").WithTags("Appointments");
        group.MapGet("/", ListAppointments)
            .WithName("ListAppointments")
            .WithSummary("Appointments of the care unit, sorted by start; filter by patient, resource, time and status; paged.")
            .Audited("appointment.list", "appointment");
        group.MapGet("/{appointment_id}", GetAppointment)
            .WithName("GetAppointment")
            .WithSummary("One appointment.")
            .Audited("appointment.read", "appointment");
        group.MapPost("/", BookAppointment)
            .WithName("BookAppointment")
            .WithSummary("Book the timeslot with exactly this start and end; answers 201 with a one-element array.")
            .Audited("appointment.book", "appointment");
        group.MapPatch("/{appointment_id}", UpdateAppointment)
            .WithName("UpdateAppointment")
            .WithSummary("Reschedule or reassign ({start, end, resource_id}), cancel ({status: \"cancelled\"}) or confirm ({confirmation: {code}}).")
            .Audited("appointment.update", "appointment");
        group.MapPatch("/", UpdateAppointments)
            .WithName("UpdateAppointments")
            .WithSummary("The same change for up to 50 appointments ({ids: [...], ...}), all or none.")
            .Audited("appointment.update", "appointment");
    }

    public static async Task<Ok<AppointmentResponse[]>> ListAppointments(
        string emr, string care_unit_id, [AsParameters] AppointmentListQuery query, HttpContext http, EmrConnectors connectors, TimeProvider time, CancellationToken cancellationToken)
    {
        var (unit, page) = await ListAsync(emr, care_unit_id, query, http, connectors, time, cancellationToken);
        Http.LinkNext(http, page.NextCursor);
        return TypedResults.Ok(page.Items.Select(a => AppointmentResponse.From(a, unit.TimeZone)).ToArray());
    }

    /// <summary>
    /// An appointment list, checked and run, with every patient listed in the audit scope: shared by
    /// the JSON route and its FHIR twin.
    /// </summary>
    internal static async Task<(CareUnit Unit, AppointmentPage Page)> ListAsync(
        string emr, string care_unit_id, AppointmentListQuery query, HttpContext http, EmrConnectors connectors, TimeProvider time, CancellationToken cancellationToken)
    {
        var (patient_id, resource_id, start, end, status, limit, cursor) = query;
        var unit = await CareUnits.RequireAsync(connectors, emr, care_unit_id, cancellationToken);
        var today = Http.Today(time, unit.TimeZone);
        var definition = connectors.Definition(emr);
        var errors = new List<ApiError>();
        var from = Http.Instant(start, "start", errors);
        var to = Http.Instant(end, "end", errors);
        if (status is not null && !AppointmentStatuses.IsKnown(status))
        {
            errors.Add(new ApiError(ErrorCodes.InvalidField, "status must be booked, awaiting_confirmation, cancelled or completed.", "status"));
        }

        var pageSize = Http.Limit(limit);
        if (cursor is { Length: 0 or > 512 })
        {
            errors.Add(new ApiError(ErrorCodes.InvalidField, "The cursor is not one this server issued; pass the one from the Link header unchanged.", "cursor"));
        }

        Http.ThrowIfAny(errors);

        // A filter naming someone who does not exist matches nothing.
        string? patientEmrId = null;
        if (!string.IsNullOrEmpty(patient_id))
        {
            var patient = await connectors.Require<IPatientDirectory>(emr).FindPatientAsync(Ids.Patient(definition, patient_id, today, "patient_id"), cancellationToken);
            if (patient is null)
            {
                return (unit, new AppointmentPage([], null));
            }

            patientEmrId = patient.EmrId;

            // Asking for a patient's appointments reads that patient's record, even when there are none.
            AuditScope.Of(http).AddPatient(Ids.VardbroPatientId(emr, patient.EmrId));
        }

        string? resourceId = null;
        if (!string.IsNullOrEmpty(resource_id))
        {
            var resource = await connectors.Require<ICareUnitDirectory>(emr).FindResourceAsync(unit.Id, Ids.Resource(definition, resource_id, today, "resource_id"), cancellationToken);
            if (resource is null)
            {
                return (unit, new AppointmentPage([], null));
            }

            resourceId = resource.Id;
        }

        var page = await connectors.Require<IAppointmentBooking>(emr).ListAppointmentsAsync(
            unit.Id, new AppointmentQuery(patientEmrId, resourceId, from, to, status), pageSize, cursor, cancellationToken);
        var audit = AuditScope.Of(http);
        foreach (var appointment in page.Items)
        {
            audit.AddPatient(Ids.VardbroPatientId(emr, appointment.PatientEmrId));
        }

        return (unit, page);
    }

    public static async Task<Ok<AppointmentResponse>> GetAppointment(string emr, string care_unit_id, string appointment_id, HttpContext http, EmrConnectors connectors, CancellationToken cancellationToken)
    {
        var (unit, appointment) = await ReadAsync(emr, care_unit_id, appointment_id, http, connectors, cancellationToken);
        return TypedResults.Ok(AppointmentResponse.From(appointment, unit.TimeZone));
    }

    /// <summary>One appointment of the care unit, with the read in the audit scope (JSON and FHIR routes).</summary>
    internal static async Task<(CareUnit Unit, Appointment Appointment)> ReadAsync(
        string emr, string care_unit_id, string appointment_id, HttpContext http, EmrConnectors connectors, CancellationToken cancellationToken)
    {
        var unit = await CareUnits.RequireAsync(connectors, emr, care_unit_id, cancellationToken);
        RequireWellFormed(appointment_id, "appointment_id");
        var appointment = await connectors.Require<IAppointmentBooking>(emr).GetAppointmentAsync(unit.Id, appointment_id, cancellationToken)
            ?? throw new VardbroException(ErrorCodes.NotFound, "No appointment with that id at this care unit.", "appointment_id");
        Record(http, emr, appointment);
        return (unit, appointment);
    }

    public static async Task<Created<AppointmentResponse[]>> BookAppointment(
        string emr, string care_unit_id, BookAppointmentRequest body, HttpContext http, EmrConnectors connectors, NotificationDispatcher dispatcher, TimeProvider time, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(body);
        var unit = await CareUnits.RequireAsync(connectors, emr, care_unit_id, cancellationToken);
        var today = Http.Today(time, unit.TimeZone);
        var definition = connectors.Definition(emr);
        var errors = new List<ApiError>();
        var start = Http.Instant(body.Start, "start", errors, required: true);
        var end = Http.Instant(body.End, "end", errors, required: true);
        if (start is { } s && end is { } e && e <= s)
        {
            errors.Add(new ApiError(ErrorCodes.InvalidField, "end must be after start.", "end"));
        }

        var comment = Comment(body.Comment, errors);
        TypedId? patientId = null;
        if (string.IsNullOrEmpty(body.PatientId))
        {
            errors.Add(new ApiError(ErrorCodes.MissingRequiredField, "patient_id is required.", "patient_id"));
        }
        else
        {
            patientId = Collect(() => Ids.Patient(definition, body.PatientId, today, "patient_id"), errors);
        }

        TypedId? resourceId = string.IsNullOrEmpty(body.ResourceId) ? null : Collect(() => Ids.Resource(definition, body.ResourceId, today, "resource_id"), errors);
        Http.ThrowIfAny(errors);

        var patient = await connectors.Require<IPatientDirectory>(emr).FindPatientAsync(patientId!.Value, cancellationToken)
            ?? throw new VardbroException(ErrorCodes.NotFound, "No patient with that id in this EMR.", "patient_id");
        string? resource = null;
        if (resourceId is { } rid)
        {
            resource = (await connectors.Require<ICareUnitDirectory>(emr).FindResourceAsync(unit.Id, rid, cancellationToken)
                ?? throw new VardbroException(ErrorCodes.NotFound, "No resource with that id at this care unit.", "resource_id")).Id;
        }

        string? service = null;
        if (!string.IsNullOrEmpty(body.HealthcareServiceId))
        {
            service = (await HealthcareServiceIds.RequireAsync(connectors, emr, unit.Id, body.HealthcareServiceId, "healthcare_service_id", cancellationToken)).Id;
        }

        var phone = patient.Phones.Select(p => PhoneNumbers.Normalize(p)).FirstOrDefault(p => p is not null);
        if (unit.RequiresConfirmation && phone is null)
        {
            throw new VardbroException(ErrorCodes.InvalidPatientId, "This care unit confirms bookings by a code sent to the patient's phone, and the patient has no phone number.", "patient_id");
        }

        var request = new NewAppointment(start!.Value, end!.Value, patient.EmrId, resource, service, comment);
        Appointment booked;
        if (unit.RequiresConfirmation)
        {
            // The connector books awaiting confirmation and stores the code's message in one transaction.
            booked = await connectors.Require<IConfirmedBooking>(emr).BookAwaitingConfirmationAsync(unit.Id, request, "+" + phone, cancellationToken);
            dispatcher.Signal();
        }
        else
        {
            booked = (await connectors.Require<IAppointmentBooking>(emr).BookAsync(unit.Id, request, cancellationToken)).Appointment;
        }

        Record(http, emr, booked);
        return TypedResults.Created(
            $"/api/emrs/{emr}/care-units/{unit.Id}/appointments/{booked.Id}",
            new[] { AppointmentResponse.From(booked, unit.TimeZone) });
    }

    public static async Task<Ok<AppointmentResponse>> UpdateAppointment(
        string emr, string care_unit_id, string appointment_id, UpdateAppointmentRequest body, HttpContext http, EmrConnectors connectors, TimeProvider time, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(body);
        var unit = await CareUnits.RequireAsync(connectors, emr, care_unit_id, cancellationToken);
        RequireWellFormed(appointment_id, "appointment_id");
        var change = await ReadChangeAsync(connectors, emr, unit, body.Start, body.End, body.ResourceId, body.Comment, body.Status, body.Confirmation, bulk: false, time, [], cancellationToken);
        var booking = connectors.Require<IAppointmentBooking>(emr);
        var before = await booking.GetAppointmentAsync(unit.Id, appointment_id, cancellationToken);
        if (before is not null)
        {
            Record(http, emr, before);
        }

        var updated = await booking.UpdateAsync(unit.Id, [appointment_id], change, cancellationToken);
        return TypedResults.Ok(AppointmentResponse.From(updated[0], unit.TimeZone));
    }

    public static async Task<Ok<AppointmentResponse[]>> UpdateAppointments(
        string emr, string care_unit_id, BulkUpdateAppointmentsRequest body, HttpContext http, EmrConnectors connectors, TimeProvider time, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(body);
        var unit = await CareUnits.RequireAsync(connectors, emr, care_unit_id, cancellationToken);
        var errors = new List<ApiError>();
        var ids = new List<string>();
        if (body.Ids is not { Count: > 0 })
        {
            errors.Add(new ApiError(ErrorCodes.MissingRequiredField, "ids is required: the appointments to change.", "ids"));
        }
        else if (body.Ids.Count > MaxBulkIds)
        {
            errors.Add(new ApiError(ErrorCodes.MaxItemsExceeded, $"At most {MaxBulkIds} appointments change in one request.", "ids"));
        }
        else
        {
            for (var i = 0; i < body.Ids.Count; i++)
            {
                if (body.Ids[i] is { } raw && !WellFormed(raw))
                {
                    errors.Add(new ApiError(ErrorCodes.InvalidAppointmentId, "An appointment id is 1–128 printable characters.", $"ids[{i}]"));
                }
                else if (Http.Text(body.Ids[i], $"ids[{i}]", 128, errors, required: true) is { } id)
                {
                    if (ids.Contains(id))
                    {
                        errors.Add(new ApiError(ErrorCodes.InvalidField, "The same appointment is named twice.", $"ids[{i}]"));
                    }

                    ids.Add(id);
                }
            }
        }

        var change = await ReadChangeAsync(connectors, emr, unit, body.Start, body.End, body.ResourceId, body.Comment, body.Status, body.Confirmation, bulk: true, time, errors, cancellationToken);
        var updated = await connectors.Require<IAppointmentBooking>(emr).UpdateAsync(unit.Id, ids, change, cancellationToken);
        foreach (var appointment in updated)
        {
            Record(http, emr, appointment);
        }

        return TypedResults.Ok(updated.Select(a => AppointmentResponse.From(a, unit.TimeZone)).ToArray());
    }

    private static async Task<AppointmentChange> ReadChangeAsync(
        EmrConnectors connectors, string emr, CareUnit unit, string? start, string? end, string? resourceId, string? comment, string? status,
        ConfirmationBody? confirmation, bool bulk, TimeProvider time, List<ApiError> errors, CancellationToken cancellationToken)
    {
        var newStart = Http.Instant(start, "start", errors);
        var newEnd = Http.Instant(end, "end", errors);
        var text = Comment(comment, errors);
        var moves = start is not null || end is not null || resourceId is not null;
        if ((start is null) != (end is null))
        {
            errors.Add(new ApiError(ErrorCodes.MissingRequiredField, "start and end change together.", start is null ? "start" : "end"));
        }
        else if (newStart is { } s && newEnd is { } e && e <= s)
        {
            errors.Add(new ApiError(ErrorCodes.InvalidField, "end must be after start.", "end"));
        }

        var cancel = false;
        if (status is not null)
        {
            if (status != AppointmentStatuses.Cancelled)
            {
                errors.Add(new ApiError(ErrorCodes.InvalidField, "status can only be set to cancelled; a booking is confirmed with {confirmation: {code}}.", "status"));
            }

            cancel = true;
        }

        string? code = null;
        if (confirmation is not null)
        {
            code = confirmation.Code?.Trim();
            if (bulk)
            {
                errors.Add(new ApiError(ErrorCodes.InvalidField, "A confirmation code confirms one appointment; use PATCH …/appointments/{appointment_id}.", "confirmation"));
            }
            else if (code is not { Length: 6 } || !code.All(char.IsAsciiDigit))
            {
                errors.Add(new ApiError(ErrorCodes.InvalidConfirmationCode, "The confirmation code is the 6 digits sent to the patient.", "confirmation.code"));
            }
        }

        if ((moves ? 1 : 0) + (cancel ? 1 : 0) + (confirmation is not null ? 1 : 0) > 1)
        {
            errors.Add(new ApiError(ErrorCodes.InvalidField, "Change one thing at a time: reschedule (start, end, resource_id), cancel (status) or confirm (confirmation).", "status"));
        }
        else if (!moves && !cancel && confirmation is null && text is null && errors.Count == 0)
        {
            errors.Add(new ApiError(ErrorCodes.MissingRequiredField, "Nothing to change: give start and end, resource_id, status, confirmation or comment.", "body"));
        }

        string? resource = null;
        if (!string.IsNullOrEmpty(resourceId) && errors.Count == 0)
        {
            resource = (await SchedulesEndpoints.RequireResourceAsync(connectors, emr, unit, resourceId, time, cancellationToken)).Id;
        }

        Http.ThrowIfAny(errors);
        return new AppointmentChange(newStart, newEnd, resource, text, cancel, code);
    }

    private static bool WellFormed(string id) => id.Length is > 0 and <= 128 && !id.Any(char.IsControl) && id.Trim().Length == id.Length;

    private static void RequireWellFormed(string id, string path)
    {
        if (!WellFormed(id))
        {
            throw new VardbroException(ErrorCodes.InvalidAppointmentId, "An appointment id is 1–128 printable characters.", path);
        }
    }

    private static string? Comment(string? comment, List<ApiError> errors)
    {
        if (comment is null)
        {
            return null;
        }

        if (comment.Length > MaxCommentLength)
        {
            errors.Add(new ApiError(ErrorCodes.InvalidCommentLength, $"comment is at most {MaxCommentLength} characters.", "comment"));
            return null;
        }

        if (comment.Any(c => char.IsControl(c) && c is not '\n' and not '\r' and not '\t'))
        {
            errors.Add(new ApiError(ErrorCodes.InvalidField, "comment contains control characters.", "comment"));
            return null;
        }

        return comment;
    }

    private static T? Collect<T>(Func<T> parse, List<ApiError> errors)
        where T : struct
    {
        try
        {
            return parse();
        }
        catch (VardbroException ex)
        {
            errors.AddRange(ex.Errors);
            return null;
        }
    }

    private static void Record(HttpContext http, string emr, Appointment appointment)
    {
        var audit = AuditScope.Of(http);
        audit.ResourceId ??= appointment.Id;
        audit.AddPatient(Ids.VardbroPatientId(emr, appointment.PatientEmrId));
    }
}
