using System.Text.Json;
using System.Text.Json.Serialization;
using Vardbro.Connectors;
using Vardbro.Server.Api;
using Vardbro.Server.Audit;
using Vardbro.Server.Emrs;
using Vardbro.Server.Features.Patients;

namespace Vardbro.Server.Features.MedicalNotes;

public sealed record CreateMedicalNoteRequest(string? TemplateId, string? Title, string? CreatedById, JsonElement? Content);

public sealed record MedicalNoteResponse(
    string Id,
    string EmrId,
    string PatientId,
    string CareUnitId,
    string TemplateId,
    string Title,
    IReadOnlyDictionary<string, string> Content,
    string CreatedById,
    DateTimeOffset CreatedAt,
    [property: JsonPropertyName("signed")] bool IsSigned,
    DateTimeOffset? SignedAt)
{
    public static MedicalNoteResponse From(MedicalNote x, string timeZone)
    {
        ArgumentNullException.ThrowIfNull(x);
        return new(x.Id, x.Id, x.PatientEmrId, x.CareUnitId, x.TemplateId, x.Title, x.Content, x.CreatedById,
            Http.Local(x.CreatedAt, timeZone), x.IsSigned, x.SignedAt is { } s ? Http.Local(s, timeZone) : null);
    }
}

public static class MedicalNotesEndpoints
{
    public static void MapMedicalNoteTemplates(this IEndpointRouteBuilder api)
    {
        api.MapGet("/medical-note-templates", ListTemplates)
            .WithTags("Medical notes")
            .WithName("ListMedicalNoteTemplates")
            .WithSummary("The note templates and their fields: name, type, whether required, maximum length.");
    }

    public static void MapMedicalNotes(this IEndpointRouteBuilder careUnit)
    {
        var group = careUnit.MapGroup("/patients/{patient_id}/medical-notes").WithTags("Medical notes");
        group.MapGet("/", ListNotes).WithName("ListMedicalNotes").WithSummary("The patient's notes written at this care unit, newest first; paged.").Audited("note.list", "medical_note");
        group.MapGet("/{note_id}", GetNote).WithName("GetMedicalNote").WithSummary("One note.").Audited("note.read", "medical_note");
        group.MapPost("/", CreateNote).WithName("CreateMedicalNote").WithSummary("Write a note from a template; it is stored unsigned and never edited (a correction is a new note).").Audited("note.create", "medical_note");
    }

    public static Ok<NoteTemplate[]> ListTemplates() => TypedResults.Ok(NoteTemplates.All.ToArray());

    public static async Task<Ok<MedicalNoteResponse[]>> ListNotes(
        string emr, string care_unit_id, string patient_id, string? limit, string? cursor, HttpContext http, EmrConnectors connectors, TimeProvider time, CancellationToken cancellationToken)
    {
        var (unit, _, page) = await ListAsync(emr, care_unit_id, patient_id, limit, cursor, http, connectors, time, cancellationToken);
        Http.LinkNext(http, page.NextCursor);
        return TypedResults.Ok(page.Items.Select(n => MedicalNoteResponse.From(n, unit.TimeZone)).ToArray());
    }

    /// <summary>A page of the patient's notes, with the patient in the audit scope (JSON and FHIR routes).</summary>
    internal static async Task<(CareUnit Unit, Patient Patient, MedicalNotePage Page)> ListAsync(
        string emr, string care_unit_id, string patient_id, string? limit, string? cursor, HttpContext http, EmrConnectors connectors, TimeProvider time, CancellationToken cancellationToken)
    {
        var unit = await CareUnits.RequireAsync(connectors, emr, care_unit_id, cancellationToken);
        var pageSize = Http.Limit(limit);
        var patient = await PatientsEndpoints.RequireAsync(connectors, emr, unit, patient_id, time, cancellationToken);
        AuditScope.Of(http).AddPatient(Ids.VardbroPatientId(emr, patient.EmrId));
        var page = await connectors.Require<IMedicalNotes>(emr).ListNotesAsync(unit.Id, patient.EmrId, pageSize, Cursor(cursor), cancellationToken);
        return (unit, patient, page);
    }

    public static async Task<Ok<MedicalNoteResponse>> GetNote(
        string emr, string care_unit_id, string patient_id, string note_id, HttpContext http, EmrConnectors connectors, TimeProvider time, CancellationToken cancellationToken)
    {
        var (unit, _, note) = await ReadAsync(emr, care_unit_id, patient_id, note_id, http, connectors, time, cancellationToken);
        return TypedResults.Ok(MedicalNoteResponse.From(note, unit.TimeZone));
    }

    /// <summary>One note of the patient, with the read in the audit scope (JSON and FHIR routes).</summary>
    internal static async Task<(CareUnit Unit, Patient Patient, MedicalNote Note)> ReadAsync(
        string emr, string care_unit_id, string patient_id, string note_id, HttpContext http, EmrConnectors connectors, TimeProvider time, CancellationToken cancellationToken)
    {
        var unit = await CareUnits.RequireAsync(connectors, emr, care_unit_id, cancellationToken);
        var patient = await PatientsEndpoints.RequireAsync(connectors, emr, unit, patient_id, time, cancellationToken);
        var audit = AuditScope.Of(http);
        audit.AddPatient(Ids.VardbroPatientId(emr, patient.EmrId));
        var note = await connectors.Require<IMedicalNotes>(emr).GetNoteAsync(unit.Id, patient.EmrId, note_id, cancellationToken)
            ?? throw new VardbroException(ErrorCodes.NotFound, "No note with that id for this patient at this care unit.", "note_id");
        audit.ResourceId = note.Id;
        return (unit, patient, note);
    }

    public static async Task<Created<MedicalNoteResponse>> CreateNote(
        string emr, string care_unit_id, string patient_id, CreateMedicalNoteRequest body, HttpContext http, EmrConnectors connectors, TimeProvider time, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(body);
        var unit = await CareUnits.RequireAsync(connectors, emr, care_unit_id, cancellationToken);
        var patient = await PatientsEndpoints.RequireAsync(connectors, emr, unit, patient_id, time, cancellationToken);
        var audit = AuditScope.Of(http);
        audit.AddPatient(Ids.VardbroPatientId(emr, patient.EmrId));

        var errors = new List<ApiError>();
        var title = Http.Text(body.Title, "title", 256, errors, required: true);
        IReadOnlyDictionary<string, string>? content = null;
        try
        {
            content = NoteTemplates.Validate(body.TemplateId ?? "", body.Content ?? default);
        }
        catch (VardbroException ex)
        {
            errors.AddRange(ex.Errors);
        }

        var author = await CreatedByAsync(connectors, emr, unit, body.CreatedById, time, errors, cancellationToken);
        Http.ThrowIfAny(errors);
        var note = await connectors.Require<IMedicalNotes>(emr).CreateNoteAsync(
            unit.Id, new NewMedicalNote(patient.EmrId, body.TemplateId!, title!, content!, author!), cancellationToken);
        audit.ResourceId = note.Id;
        return TypedResults.Created($"/api/emrs/{emr}/care-units/{unit.Id}/patients/emr_id:{Uri.EscapeDataString(patient.EmrId)}/medical-notes/{note.Id}", MedicalNoteResponse.From(note, unit.TimeZone));
    }

    /// <summary><c>created_by_id</c>: a resource of this care unit, by any typed id; else <c>INVALID_CREATED_BY_ID</c>.</summary>
    public static async Task<string?> CreatedByAsync(EmrConnectors connectors, string emr, CareUnit unit, string? raw, TimeProvider time, List<ApiError> errors, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connectors);
        ArgumentNullException.ThrowIfNull(unit);
        ArgumentNullException.ThrowIfNull(errors);
        if (string.IsNullOrEmpty(raw))
        {
            errors.Add(new ApiError(ErrorCodes.MissingRequiredField, "created_by_id is required: a resource id of this care unit.", "created_by_id"));
            return null;
        }

        try
        {
            var id = Ids.Resource(connectors.Definition(emr), raw, Http.Today(time, unit.TimeZone), "created_by_id");
            var resource = await connectors.Require<ICareUnitDirectory>(emr).FindResourceAsync(unit.Id, id, cancellationToken);
            if (resource is not null)
            {
                return resource.Id;
            }
        }
        catch (VardbroException)
        {
        }

        errors.Add(new ApiError(ErrorCodes.InvalidCreatedById, "created_by_id must name a resource of this care unit (GET …/resources).", "created_by_id"));
        return null;
    }

    private static string? Cursor(string? cursor) => cursor is { Length: 0 or > 512 } || (cursor?.Any(char.IsControl) ?? false)
        ? throw new VardbroException(ErrorCodes.InvalidField, "The cursor is not one this server issued; pass the one from the Link header unchanged.", "cursor")
        : cursor;
}
