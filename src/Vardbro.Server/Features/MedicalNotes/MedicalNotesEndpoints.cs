using System.ComponentModel.DataAnnotations;
using System.Text.Json;
using System.Text.Json.Serialization;
using Vardbro.Connectors;
using Vardbro.Server.Api;
using Vardbro.Server.Audit;
using Vardbro.Server.Features.Patients;
using Vardbro.Server.Features.Resources;

namespace Vardbro.Server.Features.MedicalNotes;

[OpenApiExample("""{"template_id": "leyr_unstructured", "title": "Telephone contact", "created_by_id": "hsa_id:SE2321000131-E000000000001", "content": {"unstructured": "The patient reports feeling better."}}""")]
public sealed record CreateMedicalNoteRequest(
    [property: AllowedValues(NoteTemplates.UnstructuredId, NoteTemplates.AcuteVisitId, NoteTemplates.NewVisitPsychologyId, NoteTemplates.FollowUpVisitPsychologyId, NoteTemplates.CareStatusId)] [property: Required] string? TemplateId,
    [property: Required] string? Title,
    [property: Required] string? CreatedById,
    [property: Required] JsonElement? Content);

public sealed record MedicalNoteResponse(
    string Id,
    string EmrId,
    string PatientId,
    string CareUnitId,
    [property: AllowedValues(NoteTemplates.UnstructuredId, NoteTemplates.AcuteVisitId, NoteTemplates.NewVisitPsychologyId, NoteTemplates.FollowUpVisitPsychologyId, NoteTemplates.CareStatusId)] string TemplateId,
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

    public static async Task<Ok<MedicalNoteResponse[]>> ListNotes([AsParameters] CareUnitScope scope, string patient_id, string? limit, string? cursor)
    {
        var (unit, _, page) = await ListAsync(scope, patient_id, limit, cursor);
        Http.LinkNext(scope.HttpContext, page.NextCursor);
        return TypedResults.Ok(page.Items.Select(n => MedicalNoteResponse.From(n, unit.TimeZone)).ToArray());
    }

    /// <summary>A page of the patient's notes, with the patient in the audit scope (JSON and FHIR routes).</summary>
    internal static async Task<(CareUnit Unit, Patient Patient, MedicalNotePage Page)> ListAsync(CareUnitScope scope, string patient_id, string? limit, string? cursor)
    {
        var unit = scope.Unit;
        var pageSize = Http.Limit(limit);
        var patient = await PatientsEndpoints.RequireAuditedAsync(scope, patient_id);
        var notes = scope.Require<IMedicalNotes>();
        if (cursor is not null && !Cursors.IsWellFormed(cursor))
        {
            throw Cursors.Invalid();
        }

        var page = await notes.ListNotesAsync(unit.Id, patient.EmrId, pageSize, cursor, scope.CancellationToken);
        return (unit, patient, page);
    }

    public static async Task<Ok<MedicalNoteResponse>> GetNote([AsParameters] CareUnitScope scope, string patient_id, string note_id)
    {
        var (unit, _, note) = await ReadAsync(scope, patient_id, note_id);
        return TypedResults.Ok(MedicalNoteResponse.From(note, unit.TimeZone));
    }

    /// <summary>One note of the patient, with the read in the audit scope (JSON and FHIR routes).</summary>
    internal static Task<(CareUnit Unit, Patient Patient, MedicalNote Note)> ReadAsync(CareUnitScope scope, string patient_id, string note_id) =>
        PatientsEndpoints.RequireRecordAsync(
            scope, patient_id, (unit, patient) => scope.Require<IMedicalNotes>().GetNoteAsync(unit.Id, patient.EmrId, note_id, scope.CancellationToken), n => n.Id, "note", "note_id");

    public static async Task<Created<MedicalNoteResponse>> CreateNote([AsParameters] CareUnitScope scope, string patient_id, CreateMedicalNoteRequest body)
    {
        ArgumentNullException.ThrowIfNull(body);
        var unit = scope.Unit;
        var patient = await PatientsEndpoints.RequireAuditedAsync(scope, patient_id);

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

        var author = await ResourcesEndpoints.CreatedByAsync(scope, body.CreatedById, errors);
        Http.ThrowIfAny(errors);
        var note = await scope.Require<IMedicalNotes>().CreateNoteAsync(
            unit.Id, new NewMedicalNote(patient.EmrId, body.TemplateId!, title!, content!, author!), scope.CancellationToken);
        scope.Audit.ResourceId = note.Id;
        return TypedResults.Created($"/api/emrs/{scope.Emr}/care-units/{unit.Id}/patients/emr_id:{Uri.EscapeDataString(patient.EmrId)}/medical-notes/{note.Id}", MedicalNoteResponse.From(note, unit.TimeZone));
    }
}
