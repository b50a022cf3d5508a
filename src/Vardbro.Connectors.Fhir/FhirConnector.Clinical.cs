using System.Text;
using F = Hl7.Fhir.Model;

namespace Vardbro.Connectors.Fhir;

/// <summary>
/// Medical notes and documents, both <c>DocumentReference</c>s told apart by their category; a
/// document's bytes are a <c>Binary</c>.
/// </summary>
public sealed partial class FhirConnector
{
    public async Task<MedicalNotePage> ListNotesAsync(string careUnitId, string patientEmrId, int limit, string? cursor, CancellationToken cancellationToken)
    {
        var (items, next) = await ReferencesAsync(careUnitId, patientEmrId, FhirSystems.MedicalNoteKind, limit, cursor, cancellationToken);
        return new MedicalNotePage(items.Select(FhirMapping.ToNote).OfType<MedicalNote>().Where(n => n.CareUnitId == careUnitId).ToList(), next);
    }

    public async Task<MedicalNote?> GetNoteAsync(string careUnitId, string patientEmrId, string noteId, CancellationToken cancellationToken)
    {
        var reference = await ReadReferenceAsync(noteId, cancellationToken);
        var note = reference is not null && FhirMapping.IsMedicalNote(reference) ? FhirMapping.ToNote(reference) : null;
        return note is not null && note.CareUnitId == careUnitId && note.PatientEmrId == patientEmrId ? note : null;
    }

    public async Task<MedicalNote> CreateNoteAsync(string careUnitId, NewMedicalNote note, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(note);
        var (created, _) = await http.CreateAsync(FhirMapping.ToFhir(careUnitId, note, Now()), null, cancellationToken);
        return FhirMapping.ToNote(created) ?? throw new EmrBadAnswerException("The EMR stored the note but returned it without its content.");
    }

    public async Task<DocumentPage> ListDocumentsAsync(string careUnitId, string patientEmrId, int limit, string? cursor, CancellationToken cancellationToken)
    {
        var (items, next) = await ReferencesAsync(careUnitId, patientEmrId, FhirSystems.DocumentKindCode, limit, cursor, cancellationToken);
        return new DocumentPage(items.Select(FhirMapping.ToDocument).Where(d => d.CareUnitId == careUnitId).ToList(), next);
    }

    public async Task<DocumentInfo?> GetDocumentAsync(string careUnitId, string patientEmrId, string documentId, CancellationToken cancellationToken)
    {
        var reference = await ReadDocumentAsync(careUnitId, patientEmrId, documentId, cancellationToken);
        return reference is null ? null : FhirMapping.ToDocument(reference);
    }

    public async Task<DocumentInfo> StoreDocumentAsync(string careUnitId, NewDocument document, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(document);
        var binary = new F.Binary { ContentType = document.Format, Data = document.Content.ToArray() };
        var (stored, _) = await http.CreateAsync(binary, null, cancellationToken);
        var (created, _) = await http.CreateAsync(FhirMapping.ToFhir(careUnitId, document, stored.Id ?? string.Empty, Now()), null, cancellationToken);
        return FhirMapping.ToDocument(created);
    }

    public async Task<Stream?> OpenContentAsync(string careUnitId, string patientEmrId, string documentId, CancellationToken cancellationToken)
    {
        var reference = await ReadDocumentAsync(careUnitId, patientEmrId, documentId, cancellationToken);
        if (reference is null)
        {
            return null;
        }

        var attachment = reference.Content.Select(c => c.Attachment).FirstOrDefault(a => a is not null);
        if (attachment?.Data is { } inline)
        {
            return new MemoryStream(inline, writable: false);
        }

        var binaryId = FhirMapping.BinaryId(reference);
        if (binaryId is null || !FhirIds.IsValid(binaryId))
        {
            throw new EmrBadAnswerException("The EMR's document has neither its bytes nor a Binary to read them from.");
        }

        var binary = await http.ReadAsync<F.Binary>("Binary/" + binaryId, cancellationToken)
            ?? throw new EmrBadAnswerException("The EMR lists the document but no longer has its bytes.");
        return new MemoryStream(binary.Data ?? [], writable: false);
    }

    private async Task<F.DocumentReference?> ReadDocumentAsync(string careUnitId, string patientEmrId, string documentId, CancellationToken cancellationToken)
    {
        var reference = await ReadReferenceAsync(documentId, cancellationToken);
        if (reference is null || !FhirMapping.IsDocument(reference))
        {
            return null;
        }

        var document = FhirMapping.ToDocument(reference);
        return document.CareUnitId == careUnitId && document.PatientEmrId == patientEmrId ? reference : null;
    }

    private async Task<F.DocumentReference?> ReadReferenceAsync(string id, CancellationToken cancellationToken) =>
        FhirIds.IsValid(id) ? await http.ReadAsync<F.DocumentReference>("DocumentReference/" + id, cancellationToken) : null;

    /// <summary>A patient's references of one kind, newest first, as written at this care unit.</summary>
    private async Task<(List<F.DocumentReference> Items, string? Next)> ReferencesAsync(
        string careUnitId, string patientEmrId, string kind, int limit, string? cursor, CancellationToken cancellationToken)
    {
        if (!FhirIds.IsValid(patientEmrId) || !FhirIds.IsValid(careUnitId))
        {
            return ([], null);
        }

        var sorted = settings.SortAlways || (await CapabilitiesAsync(cancellationToken)).Sorts("DocumentReference");
        var query = new StringBuilder($"DocumentReference?subject=Patient/{patientEmrId}&related=Location/{careUnitId}");
        Add(query, "_sort", sorted ? "-date,_id" : null);
        Add(query, "category", FhirSystems.DocumentKind + "|" + kind);
        var (items, next) = await PageAsync<F.DocumentReference>(query, limit, cursor, cancellationToken);
        if (!sorted && cursor is null && next is null)
        {
            // Every match is on this page: newest first, as the server does not sort.
            items = [.. items.OrderByDescending(d => d.Date ?? d.Meta?.LastUpdated).ThenBy(d => d.Id, StringComparer.Ordinal)];
        }

        return (items, next);
    }
}
