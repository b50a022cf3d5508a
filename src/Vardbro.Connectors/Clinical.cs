namespace Vardbro.Connectors;

/// <summary>A medical note: written unsigned, never edited or deleted through the API.</summary>
public sealed record MedicalNote(
    string Id,
    string PatientEmrId,
    string CareUnitId,
    string TemplateId,
    string Title,
    IReadOnlyDictionary<string, string> Content,
    string CreatedById,
    DateTimeOffset CreatedAt,
    bool IsSigned,
    DateTimeOffset? SignedAt);

public sealed record NewMedicalNote(
    string PatientEmrId,
    string TemplateId,
    string Title,
    IReadOnlyDictionary<string, string> Content,
    string CreatedById);

public sealed record MedicalNotePage(IReadOnlyList<MedicalNote> Items, string? NextCursor);

/// <summary>A document's metadata; its bytes are read with <see cref="IDocuments.OpenContentAsync"/>.</summary>
public sealed record DocumentInfo(
    string Id,
    string PatientEmrId,
    string CareUnitId,
    string Title,
    string Type,
    string Format,
    long SizeBytes,
    string Sha256,
    string CreatedById,
    DateTimeOffset CreatedAt);

/// <summary>A validated upload; <see cref="Sha256"/> is the lower-case hex digest of <see cref="Content"/>.</summary>
public sealed record NewDocument(
    string PatientEmrId,
    string Title,
    string Type,
    string Format,
    string CreatedById,
    DocumentBytes Content,
    string Sha256);

public sealed record DocumentPage(IReadOnlyList<DocumentInfo> Items, string? NextCursor);

/// <summary>Medical notes of a patient, as written at one care unit; newest first.</summary>
public interface IMedicalNotes
{
    Task<MedicalNotePage> ListNotesAsync(string careUnitId, string patientEmrId, int limit, string? cursor, CancellationToken cancellationToken);

    Task<MedicalNote?> GetNoteAsync(string careUnitId, string patientEmrId, string noteId, CancellationToken cancellationToken);

    Task<MedicalNote> CreateNoteAsync(string careUnitId, NewMedicalNote note, CancellationToken cancellationToken);
}

/// <summary>Documents of a patient, as attached at one care unit; newest first. Bytes are kept exactly.</summary>
public interface IDocuments
{
    Task<DocumentPage> ListDocumentsAsync(string careUnitId, string patientEmrId, int limit, string? cursor, CancellationToken cancellationToken);

    Task<DocumentInfo?> GetDocumentAsync(string careUnitId, string patientEmrId, string documentId, CancellationToken cancellationToken);

    /// <summary>Returns only once both the bytes and the metadata are durable.</summary>
    Task<DocumentInfo> StoreDocumentAsync(string careUnitId, NewDocument document, CancellationToken cancellationToken);

    /// <summary>The bytes, or null when the document is absent.</summary>
    Task<Stream?> OpenContentAsync(string careUnitId, string patientEmrId, string documentId, CancellationToken cancellationToken);
}
