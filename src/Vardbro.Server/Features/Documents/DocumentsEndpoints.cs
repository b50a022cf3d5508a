using System.Security.Cryptography;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Net.Http.Headers;
using Vardbro.Connectors;
using Vardbro.Server.Api;
using Vardbro.Server.Audit;
using Vardbro.Server.Emrs;
using Vardbro.Server.Features.MedicalNotes;
using Vardbro.Server.Features.Patients;

namespace Vardbro.Server.Features.Documents;

public sealed record DocumentResponse(
    string Id,
    string EmrId,
    string PatientId,
    string CareUnitId,
    string Title,
    string Type,
    string Format,
    long SizeBytes,
    string Sha256,
    string CreatedById,
    DateTimeOffset CreatedAt)
{
    public static DocumentResponse From(DocumentInfo x, string timeZone)
    {
        ArgumentNullException.ThrowIfNull(x);
        return new(x.Id, x.Id, x.PatientEmrId, x.CareUnitId, x.Title, x.Type, x.Format, x.SizeBytes, x.Sha256, x.CreatedById, Http.Local(x.CreatedAt, timeZone));
    }
}

/// <summary>The largest document accepted (decoded bytes), from <c>Documents:MaxSizeBytes</c>.</summary>
public sealed record DocumentLimits(long MaxSizeBytes)
{
    public const long Default = 25L * 1024 * 1024;

    public static DocumentLimits From(IConfiguration configuration) =>
        new(configuration?.GetValue<long?>("Documents:MaxSizeBytes") is { } max and > 0 ? max : Default);
}

public static class DocumentsEndpoints
{
    public static void MapDocuments(this IEndpointRouteBuilder careUnit, DocumentLimits limits)
    {
        ArgumentNullException.ThrowIfNull(limits);
        var group = careUnit.MapGroup("/patients/{patient_id}/documents").WithTags("Documents");
        group.MapPost("/", UploadDocument)
            .WithMetadata(new RequestSizeLimitAttribute(DocumentUploadReader.MaxBodyBytes(limits.MaxSizeBytes)))
            .Accepts<UploadDocumentSchema>("application/json")
            .WithName("UploadDocument")
            .WithSummary("Attach a document: {content (base64), format, title, type, created_by_id}. The bytes must match the format; 25 MiB at most by default.")
            .Audited("document.create", "document");
        group.MapGet("/", ListDocuments).WithName("ListDocuments").WithSummary("The patient's documents attached at this care unit (metadata), newest first; paged.").Audited("document.list", "document");
        group.MapGet("/{document_id}", GetDocument).WithName("GetDocument").WithSummary("One document's metadata.").Audited("document.read", "document");
        group.MapGet("/{document_id}/content", GetDocumentContent)
            .WithName("GetDocumentContent")
            .WithSummary("The document's bytes, with Content-Type, Content-Length and ETag (the sha256); If-None-Match answers 304.")
            .Audited("document.content", "document");
    }

    /// <summary>The upload's shape, for the OpenAPI document only: the body is read without model binding.</summary>
    public sealed record UploadDocumentSchema(string Content, string Format, string Title, string Type, string CreatedById);

    public static async Task<Created<DocumentResponse>> UploadDocument(
        string emr, string care_unit_id, string patient_id, HttpRequest request, HttpContext http, EmrConnectors connectors, DocumentLimits limits, TimeProvider time, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var unit = await CareUnits.RequireAsync(connectors, emr, care_unit_id, cancellationToken);
        var patient = await PatientsEndpoints.RequireAsync(connectors, emr, unit, patient_id, time, cancellationToken);
        var audit = AuditScope.Of(http);
        audit.AddPatient(Ids.VardbroPatientId(emr, patient.EmrId));

        var body = await DocumentUploadReader.ReadAsync(request, limits.MaxSizeBytes, cancellationToken);
        var errors = new List<ApiError>();
        var title = Http.Text(body.Title, "title", 256, errors, required: true);
        var type = Http.Text(body.Type, "type", 128, errors, required: true);
        string? format = null;
        if (!DocumentFormats.TryNormalize(body.Format, out var normalized))
        {
            errors.Add(new ApiError(ErrorCodes.InvalidDocumentFormat, $"format must be one of {string.Join(", ", DocumentFormats.Allowed)}.", "format"));
        }
        else if (!DocumentFormats.Matches(normalized, body.Content))
        {
            errors.Add(new ApiError(ErrorCodes.InvalidDocumentFormat, $"The bytes of content are not {normalized}.", "content"));
        }
        else
        {
            format = normalized;
        }

        var author = await MedicalNotesEndpoints.CreatedByAsync(connectors, emr, unit, body.CreatedById, time, errors, cancellationToken);
        Http.ThrowIfAny(errors);
        var sha256 = Convert.ToHexStringLower(SHA256.HashData(body.Content));
        var stored = await connectors.Require<IDocuments>(emr).StoreDocumentAsync(
            unit.Id, new NewDocument(patient.EmrId, title!, type!, format!, author!, body.Content, sha256), cancellationToken);
        audit.ResourceId = stored.Id;
        return TypedResults.Created(
            $"/api/emrs/{emr}/care-units/{unit.Id}/patients/emr_id:{Uri.EscapeDataString(patient.EmrId)}/documents/{stored.Id}",
            DocumentResponse.From(stored, unit.TimeZone));
    }

    public static async Task<Ok<DocumentResponse[]>> ListDocuments(
        string emr, string care_unit_id, string patient_id, string? limit, string? cursor, HttpContext http, EmrConnectors connectors, TimeProvider time, CancellationToken cancellationToken)
    {
        var (unit, _, page) = await ListAsync(emr, care_unit_id, patient_id, limit, cursor, http, connectors, time, cancellationToken);
        Http.LinkNext(http, page.NextCursor);
        return TypedResults.Ok(page.Items.Select(d => DocumentResponse.From(d, unit.TimeZone)).ToArray());
    }

    /// <summary>A page of the patient's documents, with the patient in the audit scope (JSON and FHIR routes).</summary>
    internal static async Task<(CareUnit Unit, Patient Patient, DocumentPage Page)> ListAsync(
        string emr, string care_unit_id, string patient_id, string? limit, string? cursor, HttpContext http, EmrConnectors connectors, TimeProvider time, CancellationToken cancellationToken)
    {
        var unit = await CareUnits.RequireAsync(connectors, emr, care_unit_id, cancellationToken);
        var pageSize = Http.Limit(limit);
        var patient = await PatientsEndpoints.RequireAsync(connectors, emr, unit, patient_id, time, cancellationToken);
        AuditScope.Of(http).AddPatient(Ids.VardbroPatientId(emr, patient.EmrId));
        if (cursor is { Length: 0 or > 512 } || (cursor?.Any(char.IsControl) ?? false))
        {
            throw new VardbroException(ErrorCodes.InvalidField, "The cursor is not one this server issued; pass the one from the Link header unchanged.", "cursor");
        }

        var page = await connectors.Require<IDocuments>(emr).ListDocumentsAsync(unit.Id, patient.EmrId, pageSize, cursor, cancellationToken);
        return (unit, patient, page);
    }

    public static async Task<Ok<DocumentResponse>> GetDocument(
        string emr, string care_unit_id, string patient_id, string document_id, HttpContext http, EmrConnectors connectors, TimeProvider time, CancellationToken cancellationToken)
    {
        var (unit, _, document) = await RequireDocumentAsync(emr, care_unit_id, patient_id, document_id, http, connectors, time, cancellationToken);
        return TypedResults.Ok(DocumentResponse.From(document, unit.TimeZone));
    }

    public static async Task<IResult> GetDocumentContent(
        string emr, string care_unit_id, string patient_id, string document_id, HttpContext http, EmrConnectors connectors, TimeProvider time, CancellationToken cancellationToken)
    {
        var (unit, patient, document) = await RequireDocumentAsync(emr, care_unit_id, patient_id, document_id, http, connectors, time, cancellationToken);
        var stream = await connectors.Require<IDocuments>(emr).OpenContentAsync(unit.Id, patient.EmrId, document.Id, cancellationToken)
            ?? throw new VardbroException(ErrorCodes.NotFound, "No document with that id for this patient at this care unit.", "document_id");
        return TypedResults.Stream(stream, document.Format, entityTag: new EntityTagHeaderValue($"\"{document.Sha256}\""));
    }

    /// <summary>One document's metadata, with the read in the audit scope (JSON and FHIR routes).</summary>
    internal static async Task<(CareUnit Unit, Patient Patient, DocumentInfo Document)> RequireDocumentAsync(
        string emr, string careUnitId, string patientId, string documentId, HttpContext http, EmrConnectors connectors, TimeProvider time, CancellationToken cancellationToken)
    {
        var unit = await CareUnits.RequireAsync(connectors, emr, careUnitId, cancellationToken);
        var patient = await PatientsEndpoints.RequireAsync(connectors, emr, unit, patientId, time, cancellationToken);
        var audit = AuditScope.Of(http);
        audit.AddPatient(Ids.VardbroPatientId(emr, patient.EmrId));
        var document = await connectors.Require<IDocuments>(emr).GetDocumentAsync(unit.Id, patient.EmrId, documentId, cancellationToken)
            ?? throw new VardbroException(ErrorCodes.NotFound, "No document with that id for this patient at this care unit.", "document_id");
        audit.ResourceId = document.Id;
        return (unit, patient, document);
    }
}
