using System.Globalization;
using Microsoft.AspNetCore.Mvc;
using Vardbro.Connectors;
using Vardbro.Connectors.Fhir;
using Vardbro.Server.Api;
using Vardbro.Server.Audit;
using Vardbro.Server.Features.Appointments;
using Vardbro.Server.Features.Documents;
using Vardbro.Server.Features.HealthcareServices;
using Vardbro.Server.Features.MedicalNotes;
using Vardbro.Server.Features.Patients;
using Vardbro.Server.Features.Resources;
using Vardbro.Server.Features.Timeslots;
using F = Hl7.Fhir.Model;

namespace Vardbro.Server.Features.Fhir;

/// <summary>
/// The read routes of a care unit again, answered as FHIR R4 resources, for every connector. Each
/// handler runs the same shared step as its JSON twin (validation, connector call, audit scope) and
/// only renders the records with <see cref="FhirMapping"/>. Same parameters, errors, grants, paging
/// and audit actions as the JSON route it mirrors.
/// </summary>
public static class FhirEndpoints
{
    public static void MapFhir(this IEndpointRouteBuilder careUnit)
    {
        var group = careUnit.MapGroup("").WithTags("FHIR");
        group.MapGet("/", GetCareUnit)
            .WithName("FhirGetCareUnit")
            .WithSummary("The care unit as a FHIR Location.");
        group.MapGet("/metadata", FhirMetadata.GetCapabilityStatement)
            .WithName("FhirGetCapabilityStatement")
            .WithSummary("A FHIR CapabilityStatement (kind instance) of what this EMR serves on these FHIR routes, from its connector's capabilities.");
        group.MapGet("/patients", SearchPatients)
            .WithName("FhirSearchPatients")
            .WithSummary("Patient search (the parameters of SearchPatients) as a FHIR searchset Bundle of Patient; paged with limit (or _count) and cursor.")
            .Audited("patient.search", "patient");
        group.MapGet("/patients/{patient_id}", GetPatient)
            .WithName("FhirGetPatient")
            .WithSummary("One patient, by any typed id the EMR accepts, as a FHIR Patient (id: Vardbro's patient id).")
            .Audited("patient.read", "patient");
        group.MapGet("/resources", ListResources)
            .WithName("FhirListResources")
            .WithSummary("The care unit's resources as a FHIR searchset Bundle: Practitioner, Location (rooms) or Device (equipment).");
        group.MapGet("/resources/{resource_id}", GetResource)
            .WithName("FhirGetResource")
            .WithSummary("One resource, by any typed id the EMR accepts, as a FHIR Practitioner, Location (room) or Device (equipment).");

        group.MapGet("/healthcare-services", ListHealthcareServices)
            .WithName("FhirListHealthcareServices")
            .WithSummary("The care unit's healthcare services as a FHIR searchset Bundle of HealthcareService.");
        group.MapGet("/healthcare-services/{healthcare_service_id}", GetHealthcareService)
            .WithName("FhirGetHealthcareService")
            .WithSummary("One healthcare service of the care unit as a FHIR HealthcareService.");
        group.MapGet("/timeslots", ListTimeslots)
            .WithName("FhirListTimeslots")
            .WithSummary("Free timeslots (the parameters of ListTimeslots) as a FHIR searchset Bundle of Slot.");
        group.MapGet("/timeslots/{slot_id}", GetTimeslot)
            .WithName("FhirGetTimeslot")
            .WithSummary("One free Slot: its id with the query its fullUrl carries (start, end, resource_id, healthcare_service_id); 404 once it is taken.");
        group.MapGet("/appointments", ListAppointments)
            .WithName("FhirListAppointments")
            .WithSummary("Appointments (the parameters of ListAppointments) as a FHIR searchset Bundle of Appointment; paged with limit (or _count) and cursor.")
            .Audited("appointment.list", "appointment");
        group.MapGet("/appointments/{appointment_id}", GetAppointment)
            .WithName("FhirGetAppointment")
            .WithSummary("One appointment as a FHIR Appointment.")
            .Audited("appointment.read", "appointment");
        group.MapGet("/patients/{patient_id}/medical-notes", ListMedicalNotes)
            .WithName("FhirListMedicalNotes")
            .WithSummary("The patient's notes at this care unit as a FHIR searchset Bundle of DocumentReference, newest first; paged with limit (or _count) and cursor.")
            .Audited("note.list", "medical_note");
        group.MapGet("/patients/{patient_id}/medical-notes/{note_id}", GetMedicalNote)
            .WithName("FhirGetMedicalNote")
            .WithSummary("One note as a FHIR DocumentReference: the text as text/plain, the template's fields as application/json.")
            .Audited("note.read", "medical_note");
        group.MapGet("/patients/{patient_id}/documents", ListDocuments)
            .WithName("FhirListDocuments")
            .WithSummary("The patient's documents at this care unit as a FHIR searchset Bundle of DocumentReference, newest first; paged with limit (or _count) and cursor.")
            .Audited("document.list", "document");
        group.MapGet("/patients/{patient_id}/documents/{document_id}", GetDocument)
            .WithName("FhirGetDocument")
            .WithSummary("One document as a FHIR DocumentReference; its attachment url is the JSON API's content URL of the bytes.")
            .Audited("document.read", "document");

        // The targets of the references in the output, named [base]/[type]/[typed id] as FHIR references
        // are, so a reader sees the type in the URL. Same handlers, audit and errors as their twins above.
        MapReferenceTarget(group, "Patient", "/patients/{patient_id}", GetPatient).Audited("patient.read", "patient");
        MapReferenceTarget(group, "Practitioner", "/resources/{resource_id}", GetResource);
        MapReferenceTarget(group, "Device", "/resources/{resource_id}", GetResource);
        MapReferenceTarget(group, "HealthcareService", "/healthcare-services/{healthcare_service_id}", GetHealthcareService);
        group.MapGet("/Schedule/{resource_id}", GetSchedule)
            .WithName("FhirGetSchedule")
            .WithSummary("The resource's FHIR Schedule, the one its Slots name; its free times are the Slots of /timeslots?resource_id=….");
    }

    /// <summary><c>/[type]/{id}</c>, served by the handler of its twin route (named in the summary).</summary>
    private static RouteHandlerBuilder MapReferenceTarget(RouteGroupBuilder group, string type, string twin, Delegate handler) =>
        group.MapGet("/" + type + twin[twin.LastIndexOf('/')..], handler)
            .WithName("FhirReferenced" + type)
            .WithSummary($"A referenced {type}: the same as {twin}.");

    /// <summary>
    /// <c>…/api/fhir/emrs/{emr}/Location/{care_unit_id}</c>: a care unit as the target of a reference
    /// (a record's place, a patient's registration), which may be another care unit than the one read.
    /// </summary>
    public static void MapFhirLocations(this IEndpointRouteBuilder emr)
    {
        emr.MapGet("/Location/{care_unit_id}", GetCareUnit)
            .WithTags("FHIR")
            .WithName("FhirReferencedLocation")
            .WithSummary("A referenced care unit as a FHIR Location: the same as /api/fhir/emrs/{emr}/care-units/{care_unit_id}.");
        emr.MapGet("/appointments/{appointment_id}", GetAppointmentWithoutCareUnit)
            .WithTags("FHIR")
            .WithName("FhirGetAppointmentWithoutCareUnit")
            .WithSummary("One appointment, found at whichever care unit holds it, as a FHIR Appointment: the twin of GetAppointmentWithoutCareUnit.")
            .Audited("appointment.read", "appointment");
    }

    public static async Task<FhirResult> GetAppointmentWithoutCareUnit(string emr, string appointment_id, HttpContext context) =>
        await GetAppointment(await AppointmentsEndpoints.HoldingUnitAsync(context, emr, [(appointment_id, "appointment_id")]), appointment_id);

    public static FhirResult GetCareUnit([AsParameters] CareUnitScope scope)
    {
        var links = new FhirLinks(scope);
        return Answer(links, FhirMapping.ToFhir(scope.Unit, links.Ids));
    }

    public static async Task<FhirResult> SearchPatients([AsParameters] CareUnitScope scope, [AsParameters] PatientSearchQuery query, [FromQuery(Name = "_count")] string? count)
    {
        var (unit, page, _) = await PatientsEndpoints.SearchAsync(scope, query with { limit = Limit(scope, count, query.limit) });
        var links = new FhirLinks(scope);
        return Searchset(scope, links, page.Items.Select(p => (Resource: (F.Resource)FhirMapping.ToFhir(Local(p, unit), links.Ids), Url: links.Patient(p.EmrId))), query.cursor, page.NextCursor);
    }

    public static async Task<FhirResult> GetPatient([AsParameters] CareUnitScope scope, string patient_id)
    {
        var (unit, patient, _) = await PatientsEndpoints.ReadAsync(scope, patient_id);
        var links = new FhirLinks(scope);
        return Answer(links, FhirMapping.ToFhir(Local(patient, unit), links.Ids));
    }

    public static async Task<FhirResult> ListResources([AsParameters] CareUnitScope scope, [FromQuery(Name = "_count")] string? count)
    {
        NotPaged(scope, count);
        var (_, resources) = await ResourcesEndpoints.ListAsync(scope);
        var links = new FhirLinks(scope);
        return Searchset(scope, links, resources.Select(r => (FhirMapping.ToFhir(r, links.Ids), links.Resource(r.Id))), null, null);
    }

    public static async Task<FhirResult> GetResource([AsParameters] CareUnitScope scope, string resource_id)
    {
        var resource = await ResourcesEndpoints.RequireAsync(scope, resource_id);
        var links = new FhirLinks(scope);
        return Answer(links, FhirMapping.ToFhir(resource, links.Ids));
    }

    public static async Task<FhirResult> GetSchedule([AsParameters] CareUnitScope scope, string resource_id)
    {
        var resource = await ResourcesEndpoints.RequireAsync(scope, resource_id);
        var links = new FhirLinks(scope);
        var schedule = new F.Schedule
        {
            Id = links.Ids.Other(resource.Id),
            Active = true,
            Actor =
            [
                new F.ResourceReference(Target(links, resource)) { Type = FhirMapping.ToFhir(resource, links.Ids).TypeName, Display = resource.Name },
                new F.ResourceReference(links.Location(scope.Unit.Id)) { Type = "Location", Display = scope.Unit.Name },
            ],
            Comment = "Free times are the Slots of this care unit's timeslots route with this resource_id.",
        };
        schedule.Identifier.Add(new F.Identifier(FhirSystems.EmrId(scope.Emr), resource.Id));
        return Answer(links, schedule);
    }

    public static async Task<FhirResult> ListHealthcareServices([AsParameters] CareUnitScope scope, [FromQuery(Name = "_count")] string? count)
    {
        NotPaged(scope, count);
        var (_, services) = await HealthcareServicesEndpoints.ListAsync(scope);
        var links = new FhirLinks(scope);
        return Searchset(scope, links, services.Select(s => ((F.Resource)FhirMapping.ToFhir(s, links.Ids), links.HealthcareService(s.Id))), null, null);
    }

    public static async Task<FhirResult> GetHealthcareService([AsParameters] CareUnitScope scope, string healthcare_service_id)
    {
        var (_, services) = await HealthcareServicesEndpoints.ListAsync(scope);
        var service = services.FirstOrDefault(s => s.Id == healthcare_service_id)
            ?? throw new VardbroException(ErrorCodes.NotFound, "No healthcare service with that id at this care unit.", "healthcare_service_id");
        var links = new FhirLinks(scope);
        return Answer(links, FhirMapping.ToFhir(service, links.Ids));
    }

    public static async Task<FhirResult> ListTimeslots([AsParameters] CareUnitScope scope, [AsParameters] TimeslotListQuery query, [FromQuery(Name = "_count")] string? count)
    {
        NotPaged(scope, count);
        var (unit, slots) = await TimeslotsEndpoints.ListAsync(scope, query);
        var links = new FhirLinks(scope);
        var entries = slots.Select(s => Local(s, unit)).Select(s =>
        {
            var slot = FhirMapping.ToFhir(s, links.Ids);
            return ((F.Resource)slot, links.Slot(slot.Id!, s));
        });
        return Searchset(scope, links, entries, null, null);
    }

    public static async Task<FhirResult> GetTimeslot([AsParameters] CareUnitScope scope, string slot_id, [AsParameters] TimeslotListQuery query)
    {
        var (unit, slots) = await TimeslotsEndpoints.ListAsync(scope, query);
        var links = new FhirLinks(scope);
        var slot = slots.Select(s => FhirMapping.ToFhir(Local(s, unit), links.Ids)).FirstOrDefault(s => s.Id == slot_id)
            ?? throw new VardbroException(ErrorCodes.NotFound, "No free timeslot with that id for this query; it may have been booked.", "slot_id");
        return Answer(links, slot);
    }

    public static async Task<FhirResult> ListAppointments([AsParameters] CareUnitScope scope, [AsParameters] AppointmentListQuery query, [FromQuery(Name = "_count")] string? count)
    {
        var (unit, page) = await AppointmentsEndpoints.ListAsync(scope, query with { limit = Limit(scope, count, query.limit) });
        var links = new FhirLinks(scope);
        return Searchset(scope, links, page.Items.Select(a => ((F.Resource)FhirMapping.ToFhir(Local(a, unit), links.Ids), links.Appointment(a.Id))), query.cursor, page.NextCursor);
    }

    public static async Task<FhirResult> GetAppointment([AsParameters] CareUnitScope scope, string appointment_id)
    {
        var (unit, appointment) = await AppointmentsEndpoints.ReadAsync(scope, appointment_id);
        var links = new FhirLinks(scope);
        return Answer(links, FhirMapping.ToFhir(Local(appointment, unit), links.Ids));
    }

    public static async Task<FhirResult> ListMedicalNotes([AsParameters] CareUnitScope scope, string patient_id, string? limit, string? cursor, [FromQuery(Name = "_count")] string? count)
    {
        var (unit, _, page) = await MedicalNotesEndpoints.ListAsync(scope, patient_id, Limit(scope, count, limit), cursor);
        var links = new FhirLinks(scope);
        return Searchset(scope, links, page.Items.Select(n => ((F.Resource)FhirMapping.ToFhir(Local(n, unit), links.Ids), links.MedicalNote(n.PatientEmrId, n.Id))), cursor, page.NextCursor);
    }

    public static async Task<FhirResult> GetMedicalNote([AsParameters] CareUnitScope scope, string patient_id, string note_id)
    {
        var (unit, _, note) = await MedicalNotesEndpoints.ReadAsync(scope, patient_id, note_id);
        var links = new FhirLinks(scope);
        return Answer(links, FhirMapping.ToFhir(Local(note, unit), links.Ids));
    }

    public static async Task<FhirResult> ListDocuments([AsParameters] CareUnitScope scope, string patient_id, string? limit, string? cursor, [FromQuery(Name = "_count")] string? count)
    {
        var (_, patient, page) = await DocumentsEndpoints.ListAsync(scope, patient_id, Limit(scope, count, limit), cursor);
        var links = new FhirLinks(scope);
        return Searchset(scope, links, page.Items.Select(d => ((F.Resource)Document(scope, patient, d, links.Ids), links.Document(patient.EmrId, d.Id))), cursor, page.NextCursor);
    }

    public static async Task<FhirResult> GetDocument([AsParameters] CareUnitScope scope, string patient_id, string document_id)
    {
        var (_, patient, document) = await DocumentsEndpoints.RequireDocumentAsync(scope, patient_id, document_id);
        var links = new FhirLinks(scope);
        return Answer(links, Document(scope, patient, document, links.Ids));
    }

    /// <summary>Where a reference to a resource points: a room is read on the resources route (it has no Location alias).</summary>
    private static string Target(FhirLinks links, Resource resource) => resource.Kind switch
    {
        ResourceKinds.Room => links.Resource(resource.Id),
        ResourceKinds.Equipment => links.Referenced("Device", resource.Id),
        _ => links.Referenced("Practitioner", resource.Id),
    };

    // ---- paging -------------------------------------------------------------------------------

    /// <summary>
    /// The page size of a paged FHIR list: FHIR's <c>_count</c> is <c>limit</c> (1–200); both given is
    /// 400 <c>INVALID_FIELD</c> on <c>_count</c>, whatever their values.
    /// </summary>
    private static string? Limit(CareUnitScope scope, string? count, string? limit)
    {
        _ = scope.Unit; // an unknown care unit is reported before a query parameter
        if (count is null)
        {
            return limit;
        }

        if (limit is not null)
        {
            throw new VardbroException(ErrorCodes.InvalidField, "Give _count or limit, not both: _count is FHIR's name for limit.", "_count");
        }

        if (!int.TryParse(count, NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value is < 1 or > 200)
        {
            throw new VardbroException(ErrorCodes.InvalidField, "_count must be a whole number from 1 to 200.", "_count");
        }

        return count;
    }

    /// <summary>A list answered whole takes no <c>_count</c>: it cannot answer fewer without paging.</summary>
    private static void NotPaged(CareUnitScope scope, string? count)
    {
        _ = scope.Unit;
        if (count is not null)
        {
            throw new VardbroException(ErrorCodes.InvalidField, "This list is answered whole and is not paged; _count is read by the patient, appointment, note and document lists.", "_count");
        }
    }

    // ---- rendering ----------------------------------------------------------------------------

    /// <summary>One resource, its references made the URLs of the routes that answer them.</summary>
    private static FhirResult Answer(FhirLinks links, F.Resource resource) => new(links.Resolve(resource));

    /// <summary>
    /// A searchset of one page, each entry under the URL of the route that reads it. Its <c>next</c>
    /// link is the same request with the next cursor (absolute), also announced in the <c>Link</c>
    /// header exactly as the JSON routes do. <c>total</c> is given only for a list answered whole (no
    /// cursor given and no next page): no connector counts the matches beyond the page it reads.
    /// </summary>
    private static FhirResult Searchset(CareUnitScope scope, FhirLinks links, IEnumerable<(F.Resource Resource, string Url)> entries, string? cursor, string? nextCursor)
    {
        var http = scope.HttpContext;
        Http.LinkNext(http, nextCursor);
        var origin = Origin(http);
        var request = http.Request;
        var self = origin + request.PathBase + request.Path + request.QueryString;
        var next = Http.NextPageUrl(http, nextCursor) is { } url ? origin + url : null;
        var resolved = entries.Select(e => (links.Resolve(e.Resource), e.Url)).ToList();
        return new FhirResult(FhirMapping.Searchset(resolved, self, next, complete: string.IsNullOrEmpty(cursor)));
    }

    /// <summary>A document's reference; its attachment points at the JSON API's content URL of the bytes.</summary>
    private static F.DocumentReference Document(CareUnitScope scope, Patient patient, DocumentInfo document, FhirIdMap ids)
    {
        var (http, unit) = (scope.HttpContext, scope.Unit);
        var contentUrl = $"{Origin(http)}{http.Request.PathBase}/api/emrs/{Uri.EscapeDataString(scope.Emr)}/care-units/{Uri.EscapeDataString(unit.Id)}"
            + $"/patients/emr_id:{Uri.EscapeDataString(patient.EmrId)}/documents/{Uri.EscapeDataString(document.Id)}/content";
        return FhirMapping.ToFhir(document with { CreatedAt = Http.Local(document.CreatedAt, unit.TimeZone) }, ids, contentUrl);
    }

    private static string Origin(HttpContext http) => $"{http.Request.Scheme}://{http.Request.Host}";

    // Instants are shown with the care unit's offset, as in the JSON routes.
    private static Timeslot Local(Timeslot x, CareUnit unit) =>
        x with { Start = Http.Local(x.Start, unit.TimeZone), End = Http.Local(x.End, unit.TimeZone) };

    private static Patient Local(Patient x, CareUnit unit) =>
        x with { CreatedAt = Http.Local(x.CreatedAt, unit.TimeZone), UpdatedAt = Http.Local(x.UpdatedAt, unit.TimeZone) };

    private static Appointment Local(Appointment x, CareUnit unit) => x with
    {
        Start = Http.Local(x.Start, unit.TimeZone),
        End = Http.Local(x.End, unit.TimeZone),
        CreatedAt = Http.Local(x.CreatedAt, unit.TimeZone),
        UpdatedAt = Http.Local(x.UpdatedAt, unit.TimeZone),
    };

    private static MedicalNote Local(MedicalNote x, CareUnit unit) => x with
    {
        CreatedAt = Http.Local(x.CreatedAt, unit.TimeZone),
        SignedAt = x.SignedAt is { } signed ? Http.Local(signed, unit.TimeZone) : null,
    };
}
