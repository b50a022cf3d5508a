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
        group.MapGet("/patients", SearchPatients)
            .WithName("FhirSearchPatients")
            .WithSummary("Patient search (the parameters of SearchPatients) as a FHIR searchset Bundle of Patient; paged with limit and cursor.")
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
        group.MapGet("/timeslots", ListTimeslots)
            .WithName("FhirListTimeslots")
            .WithSummary("Free timeslots (the parameters of ListTimeslots) as a FHIR searchset Bundle of Slot.");
        group.MapGet("/appointments", ListAppointments)
            .WithName("FhirListAppointments")
            .WithSummary("Appointments (the parameters of ListAppointments) as a FHIR searchset Bundle of Appointment; paged with limit and cursor.")
            .Audited("appointment.list", "appointment");
        group.MapGet("/appointments/{appointment_id}", GetAppointment)
            .WithName("FhirGetAppointment")
            .WithSummary("One appointment as a FHIR Appointment.")
            .Audited("appointment.read", "appointment");
        group.MapGet("/patients/{patient_id}/medical-notes", ListMedicalNotes)
            .WithName("FhirListMedicalNotes")
            .WithSummary("The patient's notes at this care unit as a FHIR searchset Bundle of DocumentReference, newest first; paged.")
            .Audited("note.list", "medical_note");
        group.MapGet("/patients/{patient_id}/medical-notes/{note_id}", GetMedicalNote)
            .WithName("FhirGetMedicalNote")
            .WithSummary("One note as a FHIR DocumentReference: the text as text/plain, the template's fields as application/json.")
            .Audited("note.read", "medical_note");
        group.MapGet("/patients/{patient_id}/documents", ListDocuments)
            .WithName("FhirListDocuments")
            .WithSummary("The patient's documents at this care unit as a FHIR searchset Bundle of DocumentReference, newest first; paged.")
            .Audited("document.list", "document");
        group.MapGet("/patients/{patient_id}/documents/{document_id}", GetDocument)
            .WithName("FhirGetDocument")
            .WithSummary("One document as a FHIR DocumentReference; its attachment url is the JSON API's content URL of the bytes.")
            .Audited("document.read", "document");
    }

    public static FhirResult GetCareUnit([AsParameters] CareUnitScope scope) =>
        new(FhirMapping.ToFhir(scope.Unit, IdMap(scope.Emr)));

    public static async Task<FhirResult> SearchPatients([AsParameters] CareUnitScope scope, [AsParameters] PatientSearchQuery query)
    {
        var (unit, page, _) = await PatientsEndpoints.SearchAsync(scope, query);
        var ids = IdMap(scope.Emr);
        return Searchset(scope, page.Items.Select(p => FhirMapping.ToFhir(Local(p, unit), ids)), page.NextCursor);
    }

    public static async Task<FhirResult> GetPatient([AsParameters] CareUnitScope scope, string patient_id)
    {
        var (unit, patient, _) = await PatientsEndpoints.ReadAsync(scope, patient_id);
        return new FhirResult(FhirMapping.ToFhir(Local(patient, unit), IdMap(scope.Emr)));
    }

    public static async Task<FhirResult> ListResources([AsParameters] CareUnitScope scope)
    {
        var (_, resources) = await ResourcesEndpoints.ListAsync(scope);
        var ids = IdMap(scope.Emr);
        return Searchset(scope, resources.Select(r => FhirMapping.ToFhir(r, ids)), null);
    }

    public static async Task<FhirResult> GetResource([AsParameters] CareUnitScope scope, string resource_id)
    {
        var resource = await ResourcesEndpoints.RequireAsync(scope, resource_id);
        return new FhirResult(FhirMapping.ToFhir(resource, IdMap(scope.Emr)));
    }

    public static async Task<FhirResult> ListHealthcareServices([AsParameters] CareUnitScope scope)
    {
        var (_, services) = await HealthcareServicesEndpoints.ListAsync(scope);
        var ids = IdMap(scope.Emr);
        return Searchset(scope, services.Select(s => FhirMapping.ToFhir(s, ids)), null);
    }

    public static async Task<FhirResult> ListTimeslots([AsParameters] CareUnitScope scope, [AsParameters] TimeslotListQuery query)
    {
        var (unit, slots) = await TimeslotsEndpoints.ListAsync(scope, query);
        var ids = IdMap(scope.Emr);
        return Searchset(scope, slots.Select(s => FhirMapping.ToFhir(s with { Start = Http.Local(s.Start, unit.TimeZone), End = Http.Local(s.End, unit.TimeZone) }, ids)), null);
    }

    public static async Task<FhirResult> ListAppointments([AsParameters] CareUnitScope scope, [AsParameters] AppointmentListQuery query)
    {
        var (unit, page) = await AppointmentsEndpoints.ListAsync(scope, query);
        var ids = IdMap(scope.Emr);
        return Searchset(scope, page.Items.Select(a => FhirMapping.ToFhir(Local(a, unit), ids)), page.NextCursor);
    }

    public static async Task<FhirResult> GetAppointment([AsParameters] CareUnitScope scope, string appointment_id)
    {
        var (unit, appointment) = await AppointmentsEndpoints.ReadAsync(scope, appointment_id);
        return new FhirResult(FhirMapping.ToFhir(Local(appointment, unit), IdMap(scope.Emr)));
    }

    public static async Task<FhirResult> ListMedicalNotes([AsParameters] CareUnitScope scope, string patient_id, string? limit, string? cursor)
    {
        var (unit, _, page) = await MedicalNotesEndpoints.ListAsync(scope, patient_id, limit, cursor);
        var ids = IdMap(scope.Emr);
        return Searchset(scope, page.Items.Select(n => FhirMapping.ToFhir(Local(n, unit), ids)), page.NextCursor);
    }

    public static async Task<FhirResult> GetMedicalNote([AsParameters] CareUnitScope scope, string patient_id, string note_id)
    {
        var (unit, _, note) = await MedicalNotesEndpoints.ReadAsync(scope, patient_id, note_id);
        return new FhirResult(FhirMapping.ToFhir(Local(note, unit), IdMap(scope.Emr)));
    }

    public static async Task<FhirResult> ListDocuments([AsParameters] CareUnitScope scope, string patient_id, string? limit, string? cursor)
    {
        var (_, patient, page) = await DocumentsEndpoints.ListAsync(scope, patient_id, limit, cursor);
        var ids = IdMap(scope.Emr);
        return Searchset(scope, page.Items.Select(d => Document(scope, patient, d, ids)), page.NextCursor);
    }

    public static async Task<FhirResult> GetDocument([AsParameters] CareUnitScope scope, string patient_id, string document_id)
    {
        var (_, patient, document) = await DocumentsEndpoints.RequireDocumentAsync(scope, patient_id, document_id);
        return new FhirResult(Document(scope, patient, document, IdMap(scope.Emr)));
    }

    // ---- rendering ----------------------------------------------------------------------------

    /// <summary>FHIR ids of this EMR's records: a patient is known by Vardbro's own patient id.</summary>
    private static FhirIdMap IdMap(string emr) => FhirIdMap.Output(emr, emrId => Ids.VardbroPatientId(emr, emrId));

    /// <summary>
    /// A searchset of one page. Its <c>next</c> link is the same request with the next cursor (absolute),
    /// also announced in the <c>Link</c> header exactly as the JSON routes do.
    /// </summary>
    private static FhirResult Searchset(CareUnitScope scope, IEnumerable<F.Resource> resources, string? nextCursor)
    {
        var http = scope.HttpContext;
        Http.LinkNext(http, nextCursor);
        var origin = Origin(http);
        var request = http.Request;
        var self = origin + request.PathBase + request.Path + request.QueryString;
        var next = Http.NextPageUrl(http, nextCursor) is { } url ? origin + url : null;
        var fullUrlBase = $"{origin}{request.PathBase}/api/fhir/emrs/{Uri.EscapeDataString(scope.Emr)}/care-units/{Uri.EscapeDataString(scope.Unit.Id)}/";
        return new FhirResult(FhirMapping.Searchset(resources, self, next, fullUrlBase));
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
