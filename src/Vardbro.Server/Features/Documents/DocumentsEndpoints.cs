using System.ComponentModel.DataAnnotations;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Net.Http.Headers;
using Vardbro.Connectors;
using Vardbro.Server.Api;
using Vardbro.Server.Audit;
using Vardbro.Server.Features.Patients;
using Vardbro.Server.Features.Resources;

namespace Vardbro.Server.Features.Documents;

public sealed record DocumentResponse(
    string Id,
    string EmrId,
    string PatientId,
    string CareUnitId,
    string Title,
    string Type,
    [property: AllowedValues(DocumentFormats.Pdf, DocumentFormats.Png, DocumentFormats.Jpeg, DocumentFormats.Tiff, DocumentFormats.PlainText)] string Format,
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

/// <summary>The largest document accepted (decoded bytes), from <see cref="DocumentsOptions"/>.</summary>
public sealed record DocumentLimits(long MaxSizeBytes)
{
    public const long Default = 25L * 1024 * 1024;
}

/// <summary><c>Documents:*</c>.</summary>
public sealed class DocumentsOptions
{
    public const string Section = "Documents";

    /// <summary>The largest document accepted, in decoded bytes (25 MiB by default, 1 GiB at most).</summary>
    [Range(1L, 1L << 30, ErrorMessage = "must be a whole number of bytes from 1 to 1073741824 (1 GiB).")]
    public long MaxSizeBytes { get; set; } = DocumentLimits.Default;
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
    [OpenApiExample("""{"content": "SGVsbG8sIHdvcmxkIQ==", "format": "text/plain", "title": "Referral letter", "type": "referral", "created_by_id": "hsa_id:SE2321000131-E000000000001"}""")]
    public sealed record UploadDocumentSchema([property: Base64String] string Content, [property: AllowedValues(DocumentFormats.Pdf, DocumentFormats.Png, DocumentFormats.Jpeg, DocumentFormats.Tiff, DocumentFormats.PlainText)] string Format, string Title, string Type, string CreatedById);

    public static async Task<Created<DocumentResponse>> UploadDocument([AsParameters] CareUnitScope scope, string patient_id, DocumentLimits limits)
    {
        ArgumentNullException.ThrowIfNull(limits);
        var unit = scope.Unit;
        var patient = await PatientsEndpoints.RequireAuditedAsync(scope, patient_id);

        var body = await DocumentUploadReader.ReadAsync(scope.HttpContext.Request, limits.MaxSizeBytes, scope.CancellationToken);
        scope.HttpContext.Response.RegisterForDispose(body.Content); // its temporary file goes when the request ends
        var errors = new List<ApiError>();
        var title = Http.Text(body.Title, "title", 256, errors, required: true);
        var type = Http.Text(body.Type, "type", 128, errors, required: true);
        string? format = null;
        if (!DocumentFormats.TryNormalize(body.Format, out var normalized))
        {
            errors.Add(new ApiError(ErrorCodes.InvalidDocumentFormat, $"format must be one of {string.Join(", ", DocumentFormats.Allowed)}.", "format"));
        }
        else if (!body.Content.Matches(normalized))
        {
            errors.Add(new ApiError(ErrorCodes.InvalidDocumentFormat, $"The bytes of content are not {normalized}.", "content"));
        }
        else
        {
            format = normalized;
        }

        var author = await ResourcesEndpoints.CreatedByAsync(scope, body.CreatedById, errors);
        Http.ThrowIfAny(errors);
        var sha256 = body.Content.Sha256;
        var stored = await scope.Require<IDocuments>().StoreDocumentAsync(
            unit.Id, new NewDocument(patient.EmrId, title!, type!, format!, author!, body.Content, sha256), scope.CancellationToken);
        scope.Audit.ResourceId = stored.Id;
        return TypedResults.Created(
            $"/api/emrs/{scope.Emr}/care-units/{unit.Id}/patients/emr_id:{Uri.EscapeDataString(patient.EmrId)}/documents/{stored.Id}",
            DocumentResponse.From(stored, unit.TimeZone));
    }

    public static async Task<Ok<DocumentResponse[]>> ListDocuments([AsParameters] CareUnitScope scope, string patient_id, string? limit, string? cursor)
    {
        var (unit, _, page) = await ListAsync(scope, patient_id, limit, cursor);
        Http.LinkNext(scope.HttpContext, page.NextCursor);
        return TypedResults.Ok(page.Items.Select(d => DocumentResponse.From(d, unit.TimeZone)).ToArray());
    }

    /// <summary>A page of the patient's documents, with the patient in the audit scope (JSON and FHIR routes).</summary>
    internal static async Task<(CareUnit Unit, Patient Patient, DocumentPage Page)> ListAsync(CareUnitScope scope, string patient_id, string? limit, string? cursor)
    {
        var unit = scope.Unit;
        var pageSize = Http.Limit(limit);
        var patient = await PatientsEndpoints.RequireAuditedAsync(scope, patient_id);
        if (cursor is not null && !Cursors.IsWellFormed(cursor))
        {
            throw Cursors.Invalid();
        }

        var page = await scope.Require<IDocuments>().ListDocumentsAsync(unit.Id, patient.EmrId, pageSize, cursor, scope.CancellationToken);
        return (unit, patient, page);
    }

    public static async Task<Ok<DocumentResponse>> GetDocument([AsParameters] CareUnitScope scope, string patient_id, string document_id)
    {
        var (unit, _, document) = await RequireDocumentAsync(scope, patient_id, document_id);
        return TypedResults.Ok(DocumentResponse.From(document, unit.TimeZone));
    }

    public static async Task<IResult> GetDocumentContent([AsParameters] CareUnitScope scope, string patient_id, string document_id)
    {
        var (unit, patient, document) = await RequireDocumentAsync(scope, patient_id, document_id);
        var stream = await scope.Require<IDocuments>().OpenContentAsync(unit.Id, patient.EmrId, document.Id, scope.CancellationToken)
            ?? throw new VardbroException(ErrorCodes.NotFound, "No document with that id for this patient at this care unit.", "document_id");
        return TypedResults.Stream(stream, document.Format, entityTag: new EntityTagHeaderValue($"\"{document.Sha256}\""));
    }

    /// <summary>One document's metadata, with the read in the audit scope (JSON and FHIR routes).</summary>
    internal static Task<(CareUnit Unit, Patient Patient, DocumentInfo Document)> RequireDocumentAsync(CareUnitScope scope, string patientId, string documentId) =>
        PatientsEndpoints.RequireRecordAsync(
            scope, patientId, (unit, patient) => scope.Require<IDocuments>().GetDocumentAsync(unit.Id, patient.EmrId, documentId, scope.CancellationToken), d => d.Id, "document", "document_id");
}
