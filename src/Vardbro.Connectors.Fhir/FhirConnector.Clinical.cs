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
        var notes = new List<MedicalNote>();
        foreach (var reference in items)
        {
            if (await NoteOfAsync(reference, careUnitId, cancellationToken) is { } note)
            {
                notes.Add(note);
            }
        }

        return new MedicalNotePage(notes, next);
    }

    public async Task<MedicalNote?> GetNoteAsync(string careUnitId, string patientEmrId, string noteId, CancellationToken cancellationToken)
    {
        var reference = await ReadReferenceAsync(noteId, cancellationToken);
        var note = reference is null ? null : await NoteOfAsync(reference, careUnitId, cancellationToken);
        return note is not null && note.CareUnitId == careUnitId && note.PatientEmrId == patientEmrId ? note : null;
    }

    /// <summary>Vardbro's own note, or a clinical note the EHR wrote (its text read from its attachment); null for anything else.</summary>
    private async Task<MedicalNote?> NoteOfAsync(F.DocumentReference reference, string careUnitId, CancellationToken cancellationToken)
    {
        if (FhirMapping.IsMedicalNote(reference))
        {
            return FhirMapping.ToNote(await InlineAsync(reference, cancellationToken)) is { } own && own.CareUnitId == careUnitId ? own : null;
        }

        if (!FhirEhrWritten.IsNote(reference) || !FhirEhrWritten.Current(reference))
        {
            return null;
        }

        var attachment = reference.Content.Select(c => c.Attachment).FirstOrDefault(a => a is not null);
        var bytes = attachment?.Data;
        if (bytes is null && FhirMapping.BinaryId(reference) is { } binaryId && FhirIds.IsValid(binaryId))
        {
            bytes = (await http.ReadAsync<F.Binary>("Binary/" + binaryId, cancellationToken))?.Data;
        }

        return FhirEhrWritten.ToNote(reference, careUnitId, bytes is null ? string.Empty : FhirEhrWritten.Text(bytes, attachment?.ContentType));
    }

    public async Task<MedicalNote> CreateNoteAsync(string careUnitId, NewMedicalNote note, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(note);
        var fhir = FhirMapping.ToFhir(careUnitId, note, Now());
        if (settings.NoteFieldsAsText)
        {
            foreach (var fields in fhir.Content.Select(c => c.Attachment).Where(a => a?.Title == FhirSystems.NoteContentTitle))
            {
                fields.ContentType = "text/plain; charset=utf-8";
            }
        }

        var (created, _) = await http.CreateAsync(fhir, null, cancellationToken);
        return FhirMapping.ToNote(await InlineAsync(created, cancellationToken)) ?? throw new EmrBadAnswerException("The EMR stored the note but returned it without its content.");
    }

    public async Task<DocumentPage> ListDocumentsAsync(string careUnitId, string patientEmrId, int limit, string? cursor, CancellationToken cancellationToken)
    {
        var (items, next) = await ReferencesAsync(careUnitId, patientEmrId, FhirSystems.DocumentKindCode, limit, cursor, cancellationToken);
        var documents = items.Where(FhirMapping.IsDocument).Select(FhirMapping.ToDocument).Where(d => d.CareUnitId == careUnitId)
            .Concat(items.Where(r => FhirEhrWritten.IsDocument(r) && FhirEhrWritten.Current(r)).Select(r => FhirEhrWritten.ToDocument(r, careUnitId)));
        return new DocumentPage(documents.OrderByDescending(d => d.CreatedAt).ThenBy(d => d.Id, StringComparer.Ordinal).ToList(), next);
    }

    public async Task<DocumentInfo?> GetDocumentAsync(string careUnitId, string patientEmrId, string documentId, CancellationToken cancellationToken)
    {
        var reference = await ReadDocumentAsync(careUnitId, patientEmrId, documentId, cancellationToken);
        return reference is null ? null : FhirEhrWritten.IsDocument(reference) ? FhirEhrWritten.ToDocument(reference, careUnitId) : FhirMapping.ToDocument(reference);
    }

    public async Task<DocumentInfo> StoreDocumentAsync(string careUnitId, NewDocument document, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(document);

        // FHIR carries the bytes base64 inside a JSON resource: the whole document is in memory here.
        var bytes = await document.Content.ToArrayAsync(cancellationToken);
        if (!(await CapabilitiesAsync(cancellationToken)).Declares("Binary", "create"))
        {
            // A server whose Binaries are read-only (Millennium) takes the bytes inline and keeps them as a Binary itself.
            var inline = FhirMapping.ToFhir(careUnitId, document, bytes, string.Empty, Now());
            foreach (var attachment in inline.Content.Select(c => c.Attachment).OfType<F.Attachment>())
            {
                attachment.Url = null;
                attachment.Data = bytes;
            }

            var (made, _) = await http.CreateAsync(inline, null, cancellationToken);
            return FhirMapping.ToDocument(made);
        }

        var binary = new F.Binary { ContentType = document.Format, Data = bytes };
        var (stored, _) = await http.CreateAsync(binary, null, cancellationToken);
        var (created, _) = await http.CreateAsync(FhirMapping.ToFhir(careUnitId, document, bytes, stored.Id ?? string.Empty, Now()), null, cancellationToken);
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
        if (reference is not null && FhirEhrWritten.IsDocument(reference) && FhirEhrWritten.Current(reference))
        {
            return FhirIds.OfReference(reference.Subject?.Reference, "Patient") == patientEmrId ? reference : null;
        }

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

        // All the patient's references: Vardbro's own of this kind at this care unit, and what the EHR wrote itself.
        var capabilities = await CapabilitiesAsync(cancellationToken);
        var sorted = settings.SortAlways || capabilities.Sorts("DocumentReference");
        var query = new StringBuilder("DocumentReference?");
        Add(query, capabilities.Searches("DocumentReference", "patient") ? "patient" : "subject", "Patient/" + patientEmrId);
        Add(query, "_sort", sorted ? "-date,_id" : null);
        var (items, next) = await PageAsync<F.DocumentReference>(query, limit, cursor, cancellationToken);
        items = items.Where(r => FhirEhrWritten.Is(r) || r.Category.Any(c => c.Coding.Any(x => x.System == FhirSystems.DocumentKind && x.Code == kind))).ToList();
        if (!sorted && cursor is null && next is null)
        {
            // Every match is on this page: newest first, as the server does not sort.
            items = [.. items.OrderByDescending(d => d.Date ?? d.Meta?.LastUpdated).ThenBy(d => d.Id, StringComparer.Ordinal)];
        }

        return (items, next);
    }

    /// <summary>
    /// The reference with every attachment's bytes inline: a server that keeps inline data as a
    /// Binary (Millennium) answers with its URL instead.
    /// </summary>
    private async Task<F.DocumentReference> InlineAsync(F.DocumentReference reference, CancellationToken cancellationToken)
    {
        foreach (var attachment in reference.Content.Select(c => c.Attachment).Where(a => a is { Data: null, Url: not null }))
        {
            if (FhirIds.OfReference(attachment.Url, "Binary") is { } binaryId && FhirIds.IsValid(binaryId))
            {
                attachment.Data = (await http.ReadAsync<F.Binary>("Binary/" + binaryId, cancellationToken))?.Data;
            }
        }

        return reference;
    }
}
