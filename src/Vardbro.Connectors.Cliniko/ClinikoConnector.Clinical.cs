using System.Xml.Linq;

namespace Vardbro.Connectors.Cliniko;

/// <summary>
/// Medical notes are treatment notes, written as drafts (unsigned) with the Cliniko template the
/// operator maps the Leyr template to; documents are patient attachments, uploaded as
/// guides/uploading_patient_attachments.md describes (presigned POST to the file store, then the
/// record) and read back through the attachment's content URL.
/// </summary>
public sealed partial class ClinikoConnector
{
    // ---- medical notes -------------------------------------------------------------------------

    public async Task<MedicalNotePage> ListNotesAsync(string careUnitId, string patientEmrId, int limit, string? cursor, CancellationToken cancellationToken)
    {
        if (!ClinikoIds.IsValid(patientEmrId))
        {
            _ = Offset(cursor);
            return new MedicalNotePage([], null);
        }

        var (items, next) = await PagedAsync($"patients/{patientEmrId}/treatment_notes?sort=created_at:desc,id:desc", "treatment_notes", limit, cursor, n => ToNote(n, careUnitId), cancellationToken);
        return new MedicalNotePage(items, next);
    }

    public async Task<MedicalNote?> GetNoteAsync(string careUnitId, string patientEmrId, string noteId, CancellationToken cancellationToken) =>
        ClinikoIds.IsValid(noteId) && await http.GetAsync("treatment_notes/" + noteId, cancellationToken) is { } note
        && note.LinkedId("patient") == patientEmrId && note.Str("deleted_at") is null
            ? ToNote(note, careUnitId)
            : null;

    public async Task<MedicalNote> CreateNoteAsync(string careUnitId, NewMedicalNote note, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(note);
        if (!settings.NoteTemplates.TryGetValue(note.TemplateId, out var template))
        {
            throw new VardbroException(ErrorCodes.NotSupported, $"No Cliniko treatment note template is configured for {note.TemplateId} in this EMR.", "template_id");
        }

        var questions = new JsonArray();
        foreach (var (field, value) in note.Content.Where(c => !string.IsNullOrEmpty(c.Value)))
        {
            questions.Add(new JsonObject { ["name"] = field, ["type"] = "paragraph", ["answer"] = ToParagraph(value) });
        }

        var section = new JsonObject { ["name"] = note.Title };
        if (questions.Count > 0)
        {
            section["questions"] = questions;
        }

        var body = new JsonObject
        {
            ["patient_id"] = note.PatientEmrId,
            ["treatment_note_template_id"] = template,

            // Written unsigned: a draft, which a clinician finalises in Cliniko.
            ["draft"] = true,
            ["content"] = new JsonObject { ["sections"] = new JsonArray(section) },
        };
        var created = await http.PostAsync("treatment_notes", body, cancellationToken);

        // sections/treatment_notes.md: the author is always the practitioner of the API key.
        if (created.LinkedId("practitioner") != note.CreatedById)
        {
            await http.DeleteAsync("treatment_notes/" + created.Id(), cancellationToken);
            throw new VardbroException(ErrorCodes.InvalidCreatedById, "Cliniko writes notes as the practitioner whose API key this EMR uses; created_by_id must be that practitioner.", "created_by_id");
        }

        return ToNote(created, careUnitId);
    }

    private MedicalNote ToNote(JsonElement note, string careUnitId)
    {
        var templateId = note.LinkedId("treatment_note_template");
        var leyr = settings.NoteTemplates.FirstOrDefault(t => t.Value == templateId).Key;
        var sections = note.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.Object
            && content.TryGetProperty("sections", out var s) && s.ValueKind == JsonValueKind.Array
            ? s.EnumerateArray().ToList()
            : [];
        var answers = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var section in sections)
        {
            if (!section.TryGetProperty("questions", out var questions) || questions.ValueKind != JsonValueKind.Array)
            {
                continue;
            }

            foreach (var question in questions.EnumerateArray())
            {
                if (question.Text("name") is { } name && question.Str("answer") is { } answer)
                {
                    answers.TryAdd(name, FromParagraph(answer));
                }
            }
        }

        // A note written through Vardbro is one section named with its title, holding the fields of its Leyr template.
        var fields = leyr is null ? null : NoteTemplates.All.FirstOrDefault(t => t.Id == leyr)?.Fields.Select(f => f.Name).ToHashSet(StringComparer.Ordinal);
        var ours = fields is not null && sections.Count == 1 && answers.Keys.All(fields.Contains);
        var draft = note.ValueKind == JsonValueKind.Object && note.TryGetProperty("draft", out var d) && d.ValueKind != JsonValueKind.False;
        var created = note.Instant("created_at") ?? DateTimeOffset.UnixEpoch;
        return new MedicalNote(
            note.Id(),
            note.LinkedId("patient") ?? string.Empty,
            careUnitId,
            leyr ?? "cliniko_" + (templateId ?? "none"),
            (ours ? sections[0].Text("name") : null) ?? note.Text("title") ?? string.Empty,
            answers,
            note.LinkedId("practitioner") ?? string.Empty,
            created,
            IsSigned: !draft,
            SignedAt: draft ? null : note.Instant("updated_at"));
    }

    /// <summary>
    /// Cliniko keeps only div and br in paragraph answers and strips line breaks and tabs
    /// (sections/treatment_notes.md "Permitted HTML in paragraph answers"): the text is escaped,
    /// line breaks become br and tabs a character reference, so it reads back exactly.
    /// </summary>
    internal static string ToParagraph(string text) =>
        WebUtility.HtmlEncode(text.Replace("\r\n", "\n", StringComparison.Ordinal)).Replace("\n", "<br>", StringComparison.Ordinal).Replace("\r", "<br>", StringComparison.Ordinal).Replace("\t", "&#9;", StringComparison.Ordinal);

    internal static string FromParagraph(string html)
    {
        var text = LineBreak().Replace(html, "\n");
        if (text.Contains("<div", StringComparison.OrdinalIgnoreCase))
        {
            text = DivEnd().Replace(DivStart().Replace(text, string.Empty), "\n").TrimEnd('\n');
        }

        return WebUtility.HtmlDecode(text);
    }

    [GeneratedRegex("<br\\s*/?>", RegexOptions.IgnoreCase)]
    private static partial Regex LineBreak();

    [GeneratedRegex("<div[^>]*>", RegexOptions.IgnoreCase)]
    private static partial Regex DivStart();

    [GeneratedRegex("</div\\s*>", RegexOptions.IgnoreCase)]
    private static partial Regex DivEnd();

    // ---- documents -----------------------------------------------------------------------------

    public async Task<DocumentPage> ListDocumentsAsync(string careUnitId, string patientEmrId, int limit, string? cursor, CancellationToken cancellationToken)
    {
        if (!ClinikoIds.IsValid(patientEmrId))
        {
            _ = Offset(cursor);
            return new DocumentPage([], null);
        }

        var (items, next) = await PagedAsync($"patients/{patientEmrId}/patient_attachments?sort=created_at:desc,id:desc", "patient_attachments", limit, cursor, a => ToDocument(a, careUnitId), cancellationToken);
        return new DocumentPage(items, next);
    }

    public async Task<DocumentInfo?> GetDocumentAsync(string careUnitId, string patientEmrId, string documentId, CancellationToken cancellationToken) =>
        await ReadAttachmentAsync(patientEmrId, documentId, cancellationToken) is { } attachment ? ToDocument(attachment, careUnitId) : null;

    private async Task<JsonElement?> ReadAttachmentAsync(string patientEmrId, string documentId, CancellationToken cancellationToken) =>
        ClinikoIds.IsValid(documentId) && await http.GetAsync("patient_attachments/" + documentId, cancellationToken) is { } attachment
        && attachment.LinkedId("patient") == patientEmrId && attachment.Str("deleted_at") is null
            ? attachment
            : null;

    public async Task<DocumentInfo> StoreDocumentAsync(string careUnitId, NewDocument document, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(document);
        if (!ClinikoIds.IsValid(document.PatientEmrId) || await http.GetAsync($"patients/{document.PatientEmrId}/attachment_presigned_post", cancellationToken) is not { } presigned)
        {
            throw new VardbroException(ErrorCodes.NotFound, "No patient with that id in this EMR.", "patient_id");
        }

        var url = presigned.Str("url") ?? throw new EmrBadAnswerException("The EMR's presigned upload has no URL.");
        if (!Uri.TryCreate(url, UriKind.Absolute, out var target) || !presigned.TryGetProperty("fields", out var fields) || fields.ValueKind != JsonValueKind.Object)
        {
            throw new EmrBadAnswerException("The EMR's presigned upload is not usable.");
        }

        // The file's name carries what Cliniko has no field for: the document's type, author and digest.
        var fileName = $"{Slug(document.Type)}_{(ClinikoIds.IsValid(document.CreatedById) ? document.CreatedById : "0")}_{document.Sha256}{Extension(document.Format)}";
        using var form = new MultipartFormDataContent();
        foreach (var field in fields.EnumerateObject())
        {
            var part = new StringContent(field.Value.ValueKind == JsonValueKind.String ? field.Value.GetString()! : field.Value.GetRawText());
            part.Headers.ContentType = null;
            part.Headers.ContentDisposition = new ContentDispositionHeaderValue("form-data") { Name = Quoted(field.Name) };
            form.Add(part);
        }

        // The file comes last: S3 ignores fields after it. Names are quoted as RFC 7578 writes them.
        // A seekable stream: the file is sent from where the upload put it, and again if the post is retried.
        var file = new StreamContent(document.Content.OpenRead());
        file.Headers.ContentType = new MediaTypeHeaderValue(document.Format);
        file.Headers.ContentDisposition = new ContentDispositionHeaderValue("form-data") { Name = Quoted("file"), FileName = Quoted(fileName) };
        form.Add(file);
        var key = await http.StorageAsync(async () =>
        {
            using var response = await transport.Storage.PostAsync(target, form, cancellationToken);
            response.EnsureSuccessStatusCode();
            var xml = await response.Content.ReadAsStringAsync(cancellationToken);
            try
            {
                return XDocument.Parse(xml).Descendants().FirstOrDefault(e => e.Name.LocalName == "Key")?.Value;
            }
            catch (System.Xml.XmlException)
            {
                return null;
            }
        }, cancellationToken) ?? throw new EmrBadAnswerException("The EMR's file store did not say where it stored the upload.");

        var created = await http.PostAsync("patient_attachments", new JsonObject
        {
            ["patient_id"] = document.PatientEmrId,
            ["upload_url"] = url + key,
            ["description"] = document.Title,
        }, cancellationToken);

        // guides/uploading_patient_attachments.md: the file is readable once Cliniko has processed it.
        var id = created.Id();
        var delay = TimeSpan.FromMilliseconds(100);
        var deadline = Now() + settings.Timeout;
        while (!created.Bool("processing_completed") && Now() + delay < deadline)
        {
            await Task.Delay(delay, time, cancellationToken);
            delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 2000));
            created = await http.GetAsync("patient_attachments/" + id, cancellationToken) ?? created;
        }

        return new DocumentInfo(id, document.PatientEmrId, careUnitId, document.Title, document.Type, document.Format, document.Content.Length, document.Sha256, document.CreatedById, created.Instant("created_at") ?? Now());
    }

    public async Task<Stream?> OpenContentAsync(string careUnitId, string patientEmrId, string documentId, CancellationToken cancellationToken)
    {
        if (await ReadAttachmentAsync(patientEmrId, documentId, cancellationToken) is null)
        {
            return null;
        }

        var bytes = await http.DownloadAsync($"patient_attachments/{documentId}/content", cancellationToken)
            ?? throw new EmrBadAnswerException("The EMR lists the attachment but does not serve its content (yet).");
        return new MemoryStream(bytes, writable: false);
    }

    private static DocumentInfo ToDocument(JsonElement attachment, string careUnitId)
    {
        var fileName = attachment.Text("filename") ?? string.Empty;
        var ours = OurFileName().Match(fileName);
        var format = attachment.Text("content_type") is { } type && DocumentFormats.TryNormalize(type, out var normalized) ? normalized : attachment.Text("content_type") ?? "application/octet-stream";
        var created = attachment.Instant("created_at") ?? DateTimeOffset.UnixEpoch;
        return new DocumentInfo(
            attachment.Id(),
            attachment.LinkedId("patient") ?? string.Empty,
            careUnitId,
            attachment.Text("description") ?? fileName,
            ours.Success ? ours.Groups["type"].Value : "attachment",
            format,
            attachment.Str("size") is { } size && long.TryParse(size, NumberStyles.None, CultureInfo.InvariantCulture, out var bytes) ? bytes : 0,
            ours.Success ? ours.Groups["sha"].Value : string.Empty,
            ours.Success && ours.Groups["author"].Value != "0" ? ours.Groups["author"].Value : string.Empty,
            created);
    }

    [GeneratedRegex("^(?<type>[a-z0-9-]{1,64})_(?<author>[0-9]{1,24})_(?<sha>[0-9a-f]{64})(\\.[a-z]+)?$")]
    private static partial Regex OurFileName();

    private static string Quoted(string value) => "\"" + value.Replace("\"", string.Empty, StringComparison.Ordinal) + "\"";

    private static string Slug(string type)
    {
        var slug = new string(type.ToLowerInvariant().Select(c => char.IsAsciiLetterOrDigit(c) ? c : '-').Take(64).ToArray());
        return slug.Length > 0 ? slug : "document";
    }

    private static string Extension(string format) => format switch
    {
        DocumentFormats.Pdf => ".pdf",
        DocumentFormats.Png => ".png",
        DocumentFormats.Jpeg => ".jpg",
        DocumentFormats.Tiff => ".tif",
        DocumentFormats.PlainText => ".txt",
        _ => string.Empty,
    };

    // ---- paging --------------------------------------------------------------------------------

    /// <summary>
    /// One page of a Cliniko list in Vardbro's form: the cursor is the position in Cliniko's (sorted)
    /// list after the last item returned, so items <paramref name="map"/> skips never cost a place.
    /// </summary>
    private async Task<(List<T> Items, string? Next)> PagedAsync<T>(string path, string key, int limit, string? cursor, Func<JsonElement, T?> map, CancellationToken cancellationToken)
        where T : class
    {
        var offset = Offset(cursor);
        var items = new List<T>();
        var firstPage = (offset / ClinikoHttp.MaxPerPage) + 1;
        for (var page = firstPage; ; page++)
        {
            var (records, _, more) = await http.PageAsync(path, key, page, ClinikoHttp.MaxPerPage, cancellationToken);
            for (var i = page == firstPage ? offset % ClinikoHttp.MaxPerPage : 0; i < records.Count; i++)
            {
                if (map(records[i]) is not { } item)
                {
                    continue;
                }

                if (items.Count == limit)
                {
                    return (items, Cursors.Encode(((page - 1) * ClinikoHttp.MaxPerPage + i).ToString(CultureInfo.InvariantCulture)));
                }

                items.Add(item);
            }

            if (!more)
            {
                return (items, null);
            }
        }
    }

    private static int Offset(string? cursor) =>
        cursor is null ? 0
        : int.TryParse(Cursors.Decode(cursor, 1)[0], NumberStyles.None, CultureInfo.InvariantCulture, out var offset) ? offset
        : throw Cursors.Invalid();
}
