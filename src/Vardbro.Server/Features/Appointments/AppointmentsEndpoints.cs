using Microsoft.EntityFrameworkCore;
using Vardbro.Connectors;
using Vardbro.Server.Api;
using Vardbro.Server.Audit;
using Vardbro.Server.Emrs;
using Vardbro.Server.Features.HealthcareServices;
using Vardbro.Server.Features.Patients;
using Vardbro.Server.Features.Resources;
using Vardbro.Server.Notifications;
using Vardbro.Server.Storage;
using Vardbro.Server.Telemetry;

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
            .WithSummary("Appointments of the care unit, sorted by start; filter by patient, resource, time, status and last change (updated_since); paged.")
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

    public static async Task<Ok<AppointmentResponse[]>> ListAppointments([AsParameters] CareUnitScope scope, [AsParameters] AppointmentListQuery query)
    {
        var (unit, page) = await ListAsync(scope, query);
        Http.LinkNext(scope.HttpContext, page.NextCursor);
        return TypedResults.Ok(page.Items.Select(a => AppointmentResponse.From(a, unit.TimeZone)).ToArray());
    }

    /// <summary>
    /// An appointment list, checked and run, with every patient listed in the audit scope: shared by
    /// the JSON route and its FHIR twin.
    /// </summary>
    internal static async Task<(CareUnit Unit, AppointmentPage Page)> ListAsync(CareUnitScope scope, AppointmentListQuery query)
    {
        var (patient_id, resource_id, start, end, status, limit, cursor, updated_since) = query;
        var unit = scope.Unit;
        var errors = new List<ApiError>();
        var from = Http.Instant(start, "start", errors);
        var updatedSince = Http.Instant(updated_since, "updated_since", errors);
        var to = Http.Instant(end, "end", errors);
        Http.CheckOrder(from, to, "end", errors);
        if (status is not null && !AppointmentStatuses.IsKnown(status))
        {
            errors.Add(new ApiError(ErrorCodes.InvalidField, "status must be booked, awaiting_confirmation, cancelled or completed.", "status"));
        }

        var pageSize = Http.Limit(limit);
        if (cursor is not null && !Cursors.IsWellFormed(cursor))
        {
            errors.AddRange(Cursors.Invalid().Errors);
        }

        Http.ThrowIfAny(errors);

        // A filter naming someone who does not exist matches nothing.
        string? patientEmrId = null;
        if (!string.IsNullOrEmpty(patient_id))
        {
            var patient = await PatientsEndpoints.FindAsync(scope, patient_id, "patient_id");
            if (patient is null)
            {
                return (unit, new AppointmentPage([], null));
            }

            patientEmrId = patient.EmrId;

            // Asking for a patient's appointments reads that patient's record, even when there are none.
            scope.Audit.AddPatient(scope.VardbroPatientId(patient.EmrId));
        }

        string? resourceId = null;
        if (!string.IsNullOrEmpty(resource_id))
        {
            var resource = await ResourcesEndpoints.FindAsync(scope, resource_id, "resource_id");
            if (resource is null)
            {
                return (unit, new AppointmentPage([], null));
            }

            resourceId = resource.Id;
        }

        var page = await scope.Require<IAppointmentBooking>().ListAppointmentsAsync(
            unit.Id, new AppointmentQuery(patientEmrId, resourceId, from, to, status, updatedSince), pageSize, cursor, scope.CancellationToken);
        var audit = scope.Audit;
        foreach (var appointment in page.Items)
        {
            audit.AddPatient(scope.VardbroPatientId(appointment.PatientEmrId));
        }

        return (unit, page);
    }

    public static async Task<Ok<AppointmentResponse>> GetAppointment([AsParameters] CareUnitScope scope, string appointment_id)
    {
        var (unit, appointment) = await ReadAsync(scope, appointment_id);
        return TypedResults.Ok(AppointmentResponse.From(appointment, unit.TimeZone));
    }

    /// <summary>One appointment of the care unit, with the read in the audit scope (JSON and FHIR routes).</summary>
    internal static async Task<(CareUnit Unit, Appointment Appointment)> ReadAsync(CareUnitScope scope, string appointment_id)
    {
        var unit = scope.Unit;
        RequireWellFormed(appointment_id, "appointment_id");
        var appointment = await scope.Require<IAppointmentBooking>().GetAppointmentAsync(unit.Id, appointment_id, scope.CancellationToken)
            ?? throw new VardbroException(ErrorCodes.NotFound, "No appointment with that id at this care unit.", "appointment_id");
        Record(scope, appointment);
        return (unit, appointment);
    }

    public static async Task<Created<AppointmentResponse[]>> BookAppointment([AsParameters] CareUnitScope scope, BookAppointmentRequest body, NotificationDispatcher dispatcher, VardbroMetrics metrics)
    {
        ArgumentNullException.ThrowIfNull(body);
        var unit = scope.Unit;
        var today = scope.Today;
        var definition = scope.Definition;
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

        var patient = await PatientsEndpoints.RequireAsync(scope, patientId!.Value);
        string? resource = null;
        if (resourceId is { } rid)
        {
            resource = (await ResourcesEndpoints.RequireAsync(scope, rid)).Id;
        }

        string? service = null;
        if (!string.IsNullOrEmpty(body.HealthcareServiceId))
        {
            service = (await HealthcareServicesEndpoints.RequireAsync(scope, body.HealthcareServiceId)).Id;
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
            booked = await metrics.BookingAsync(scope.Emr, () => scope.Require<IConfirmedBooking>().BookAwaitingConfirmationAsync(unit.Id, request, "+" + phone, scope.CancellationToken));
            dispatcher.Signal();
        }
        else
        {
            booked = (await metrics.BookingAsync(scope.Emr, () => scope.Require<IAppointmentBooking>().BookAsync(unit.Id, request, scope.CancellationToken))).Appointment;
        }

        Record(scope, booked);
        return TypedResults.Created(
            $"/api/emrs/{scope.Emr}/care-units/{unit.Id}/appointments/{booked.Id}",
            new[] { AppointmentResponse.From(booked, unit.TimeZone) });
    }

    public static async Task<Ok<AppointmentResponse>> UpdateAppointment([AsParameters] CareUnitScope scope, string appointment_id, UpdateAppointmentRequest body)
    {
        ArgumentNullException.ThrowIfNull(body);
        var unit = scope.Unit;
        RequireWellFormed(appointment_id, "appointment_id");
        var change = await ReadChangeAsync(scope, body.Start, body.End, body.ResourceId, body.Comment, body.Status, body.Confirmation, bulk: false, []);
        var booking = scope.Require<IAppointmentBooking>();
        var before = await booking.GetAppointmentAsync(unit.Id, appointment_id, scope.CancellationToken);
        if (before is not null)
        {
            Record(scope, before);
        }

        var updated = await booking.UpdateAsync(unit.Id, [appointment_id], change, scope.CancellationToken);
        return TypedResults.Ok(AppointmentResponse.From(updated[0], unit.TimeZone));
    }

    public static async Task<Ok<AppointmentResponse[]>> UpdateAppointments([AsParameters] CareUnitScope scope, BulkUpdateAppointmentsRequest body)
    {
        ArgumentNullException.ThrowIfNull(body);
        var unit = scope.Unit;
        var errors = new List<ApiError>();
        var ids = ReadIds(body.Ids, errors);
        var change = await ReadChangeAsync(scope, body.Start, body.End, body.ResourceId, body.Comment, body.Status, body.Confirmation, bulk: true, errors);
        var updated = await scope.Require<IAppointmentBooking>().UpdateAsync(unit.Id, ids, change, scope.CancellationToken);
        foreach (var appointment in updated)
        {
            Record(scope, appointment);
        }

        return TypedResults.Ok(updated.Select(a => AppointmentResponse.From(a, unit.TimeZone)).ToArray());
    }

    /// <summary>The <c>ids</c> of a bulk change: 1–50 well-formed, distinct appointment ids.</summary>
    private static List<string> ReadIds(IReadOnlyList<string?>? raw, List<ApiError> errors)
    {
        var ids = new List<string>();
        if (raw is not { Count: > 0 })
        {
            errors.Add(new ApiError(ErrorCodes.MissingRequiredField, "ids is required: the appointments to change.", "ids"));
        }
        else if (raw.Count > MaxBulkIds)
        {
            errors.Add(new ApiError(ErrorCodes.MaxItemsExceeded, $"At most {MaxBulkIds} appointments change in one request.", "ids"));
        }
        else
        {
            for (var i = 0; i < raw.Count; i++)
            {
                if (raw[i] is { } value && !WellFormed(value))
                {
                    errors.Add(new ApiError(ErrorCodes.InvalidAppointmentId, "An appointment id is 1–128 printable characters.", $"ids[{i}]"));
                }
                else if (Http.Text(raw[i], $"ids[{i}]", 128, errors, required: true) is { } id)
                {
                    if (ids.Contains(id))
                    {
                        errors.Add(new ApiError(ErrorCodes.InvalidField, "The same appointment is named twice.", $"ids[{i}]"));
                    }

                    ids.Add(id);
                }
            }
        }

        return ids;
    }

    // ---- Leyr's older routes, without the care unit ------------------------------------------------

    /// <summary>
    /// <c>/api/emrs/{emr}/appointments…</c>, the routes of Leyr's older guides (update-appointments), which
    /// name the appointment but not its care unit. Each finds the care unit that holds the appointment,
    /// checks the client's grant for it (403 as on the care-unit route) and then runs the care-unit
    /// route's own handler there, so bodies, answers, errors and audit events are the same.
    /// </summary>
    public static void MapAppointmentsWithoutCareUnit(this IEndpointRouteBuilder emr)
    {
        var group = emr.MapGroup("/appointments").WithTags("Appointments");
        group.MapGet("/{appointment_id}", GetAppointmentWithoutCareUnit)
            .WithName("GetAppointmentWithoutCareUnit")
            .WithSummary("One appointment, found at whichever care unit holds it (Leyr's older route); the same as GetAppointment there.")
            .Audited("appointment.read", "appointment");
        group.MapPatch("/{appointment_id}", UpdateAppointmentWithoutCareUnit)
            .WithName("UpdateAppointmentWithoutCareUnit")
            .WithSummary("Reschedule, reassign, cancel or confirm an appointment at whichever care unit holds it (Leyr's older route); the same as UpdateAppointment there.")
            .Audited("appointment.update", "appointment");
        group.MapPatch("/", UpdateAppointmentsWithoutCareUnit)
            .WithName("UpdateAppointmentsWithoutCareUnit")
            .WithSummary("The same change for up to 50 appointments of one care unit, named by ids only (Leyr's older route); the same as UpdateAppointments there.")
            .Audited("appointment.update", "appointment");
    }

    public static async Task<Ok<AppointmentResponse>> GetAppointmentWithoutCareUnit(string emr, string appointment_id, HttpContext context) =>
        await GetAppointment(await HoldingUnitAsync(context, emr, [(appointment_id, "appointment_id")]), appointment_id);

    public static async Task<Ok<AppointmentResponse>> UpdateAppointmentWithoutCareUnit(string emr, string appointment_id, UpdateAppointmentRequest body, HttpContext context) =>
        await UpdateAppointment(await HoldingUnitAsync(context, emr, [(appointment_id, "appointment_id")]), appointment_id, body);

    public static async Task<Ok<AppointmentResponse[]>> UpdateAppointmentsWithoutCareUnit(string emr, BulkUpdateAppointmentsRequest body, HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(body);
        var errors = new List<ApiError>();
        var ids = ReadIds(body.Ids, errors);
        Http.ThrowIfAny(errors);
        return await UpdateAppointments(await HoldingUnitAsync(context, emr, ids.Select((id, i) => (id, $"ids[{i}]")).ToList()), body);
    }

    /// <summary>
    /// The scope of the one care unit that holds every appointment named: 404 on the first one no care
    /// unit holds, 400 when they lie at different care units (one change is all or nothing at one unit),
    /// 403 when the client is not granted that unit.
    /// </summary>
    internal static async Task<CareUnitScope> HoldingUnitAsync(HttpContext context, string emr, IReadOnlyList<(string Id, string Path)> appointments)
    {
        var connectors = context.RequestServices.GetRequiredService<EmrConnectors>();
        string? unit = null;
        foreach (var (id, path) in appointments)
        {
            RequireWellFormed(id, path);
            var held = await connectors.Require<IAppointmentLocator>(emr).FindAppointmentCareUnitAsync(id, context.RequestAborted)
                ?? throw new VardbroException(ErrorCodes.NotFound, "No appointment with that id in this EMR.", path);
            if (unit is not null && held != unit)
            {
                throw new VardbroException(ErrorCodes.InvalidField, "These appointments lie at different care units; change them per care unit (PATCH /api/emrs/{emr}/care-units/{care_unit_id}/appointments).", path);
            }

            unit = held;
        }

        if (!ClientContext.Of(context).MayUse(emr, unit!))
        {
            throw new VardbroException(ErrorCodes.Forbidden, "This client is not granted that care unit.", "care_unit_id");
        }

        return await CareUnitScope.ForUnitAsync(context, emr, unit!);
    }

    private static async Task<AppointmentChange> ReadChangeAsync(
        CareUnitScope scope, string? start, string? end, string? resourceId, string? comment, string? status, ConfirmationBody? confirmation, bool bulk, List<ApiError> errors)
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
            resource = (await ResourcesEndpoints.RequireAsync(scope, resourceId)).Id;
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

    private static void Record(CareUnitScope scope, Appointment appointment)
    {
        var audit = scope.Audit;
        audit.ResourceId ??= appointment.Id;
        audit.AddPatient(scope.VardbroPatientId(appointment.PatientEmrId));
    }
}
