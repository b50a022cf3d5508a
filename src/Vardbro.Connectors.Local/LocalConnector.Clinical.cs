using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Vardbro.Storage;

namespace Vardbro.Connectors.Local;

/// <summary>Medical notes and documents of the built-in EHR.</summary>
public sealed partial class LocalConnector : IMedicalNotes, IDocuments
{
    private IBlobStore Blobs => blobs ?? throw new InvalidOperationException("This connector was made without a blob store.");

    public async Task<MedicalNotePage> ListNotesAsync(string careUnitId, string patientEmrId, int limit, string? cursor, CancellationToken cancellationToken)
    {
        var rows = db.Set<MedicalNoteRow>().AsNoTracking().Where(n => n.Emr == emr && n.CareUnitId == careUnitId && n.PatientEmrId == patientEmrId);
        if (cursor is not null)
        {
            var before = DecodeKeyCursor(cursor);
            rows = rows.Where(n => n.Key < before);
        }

        var page = await rows.OrderByDescending(n => n.Key).Take(limit + 1).ToListAsync(cancellationToken);
        var next = page.Count > limit ? EncodeKeyCursor(page[limit - 1].Key) : null;
        return new MedicalNotePage(page.Take(limit).Select(ToRecord).ToList(), next);
    }

    public async Task<MedicalNote?> GetNoteAsync(string careUnitId, string patientEmrId, string noteId, CancellationToken cancellationToken)
    {
        var row = await db.Set<MedicalNoteRow>().AsNoTracking()
            .FirstOrDefaultAsync(n => n.Emr == emr && n.CareUnitId == careUnitId && n.PatientEmrId == patientEmrId && n.Id == noteId, cancellationToken);
        return row is null ? null : ToRecord(row);
    }

    public async Task<MedicalNote> CreateNoteAsync(string careUnitId, NewMedicalNote note, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(note);
        var row = new MedicalNoteRow
        {
            Emr = emr,
            Id = NewId("note_"),
            CareUnitId = careUnitId,
            PatientEmrId = note.PatientEmrId,
            TemplateId = note.TemplateId,
            Title = note.Title,
            ContentJson = JsonSerializer.Serialize(note.Content),
            CreatedById = note.CreatedById,
            CreatedAt = Now(),
        };
        db.Add(row);
        Announce(ChangeEventTypes.MedicalNoteCreated, careUnitId, ChangeSubjects.MedicalNote, row.Id, row.CreatedAt, row.PatientEmrId);
        await db.SaveChangesAsync(cancellationToken);
        db.ChangeTracker.Clear();
        return ToRecord(row);
    }

    public async Task<DocumentPage> ListDocumentsAsync(string careUnitId, string patientEmrId, int limit, string? cursor, CancellationToken cancellationToken)
    {
        var rows = db.Set<DocumentRow>().AsNoTracking().Where(d => d.Emr == emr && d.CareUnitId == careUnitId && d.PatientEmrId == patientEmrId);
        if (cursor is not null)
        {
            var before = DecodeKeyCursor(cursor);
            rows = rows.Where(d => d.Key < before);
        }

        var page = await rows.OrderByDescending(d => d.Key).Take(limit + 1).ToListAsync(cancellationToken);
        var next = page.Count > limit ? EncodeKeyCursor(page[limit - 1].Key) : null;
        return new DocumentPage(page.Take(limit).Select(ToRecord).ToList(), next);
    }

    public async Task<DocumentInfo?> GetDocumentAsync(string careUnitId, string patientEmrId, string documentId, CancellationToken cancellationToken)
    {
        var row = await FindDocumentAsync(careUnitId, patientEmrId, documentId, cancellationToken);
        return row is null ? null : ToRecord(row);
    }

    public async Task<DocumentInfo> StoreDocumentAsync(string careUnitId, NewDocument document, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(document);
        var row = new DocumentRow
        {
            Emr = emr,
            Id = NewId("doc_"),
            CareUnitId = careUnitId,
            PatientEmrId = document.PatientEmrId,
            Title = document.Title,
            Type = document.Type,
            Format = document.Format,
            SizeBytes = document.Content.Length,
            Sha256 = document.Sha256,
            CreatedById = document.CreatedById,
            CreatedAt = Now(),
        };

        // The bytes first (on disk, or in this same transaction), then the row that names them.
        await SerializedWrites.RunAsync(db, $"blob/{document.Sha256}", async () =>
        {
            await Blobs.PutAsync(db, document.Sha256, document.Content, cancellationToken);
            db.Add(row);
            Announce(ChangeEventTypes.DocumentCreated, careUnitId, ChangeSubjects.Document, row.Id, row.CreatedAt, row.PatientEmrId);
            await db.SaveChangesAsync(cancellationToken);
            return true;
        }, cancellationToken);
        db.ChangeTracker.Clear();
        return ToRecord(row);
    }

    public async Task<Stream?> OpenContentAsync(string careUnitId, string patientEmrId, string documentId, CancellationToken cancellationToken)
    {
        var row = await FindDocumentAsync(careUnitId, patientEmrId, documentId, cancellationToken);
        if (row is null)
        {
            return null;
        }

        return await Blobs.OpenAsync(db, row.Sha256, cancellationToken)
            ?? throw new InvalidOperationException($"The bytes of document {row.Id} are missing from the blob store.");
    }

    private Task<DocumentRow?> FindDocumentAsync(string careUnitId, string patientEmrId, string documentId, CancellationToken cancellationToken) =>
        db.Set<DocumentRow>().AsNoTracking()
            .FirstOrDefaultAsync(d => d.Emr == emr && d.CareUnitId == careUnitId && d.PatientEmrId == patientEmrId && d.Id == documentId, cancellationToken);

    private static string EncodeKeyCursor(long key) => Cursors.Encode(key.ToString(CultureInfo.InvariantCulture));

    private static long DecodeKeyCursor(string cursor) =>
        long.TryParse(Cursors.Decode(cursor, 1)[0], NumberStyles.None, CultureInfo.InvariantCulture, out var key) ? key : throw Cursors.Invalid();

    private static MedicalNote ToRecord(MedicalNoteRow x) => new(
        x.Id, x.PatientEmrId, x.CareUnitId, x.TemplateId, x.Title,
        JsonSerializer.Deserialize<Dictionary<string, string>>(x.ContentJson) ?? [],
        x.CreatedById, x.CreatedAt, x.SignedAt is not null, x.SignedAt);

    private static DocumentInfo ToRecord(DocumentRow x) => new(
        x.Id, x.PatientEmrId, x.CareUnitId, x.Title, x.Type, x.Format, x.SizeBytes, x.Sha256, x.CreatedById, x.CreatedAt);
}
