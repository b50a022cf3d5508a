using System.Net;
using System.Text.Json.Nodes;
using Vardbro.Server.Tests.Infrastructure;

namespace Vardbro.Server.Tests.MedicalNotes;

public sealed class MedicalNotesTests(VardbroFactory factory) : IClassFixture<VardbroFactory>
{
    private const string L01 = "/api/emrs/webdoc/care-units/L0_1";
    private const string Notes = L01 + "/patients/se_personal_number:191212121212/medical-notes";

    [Fact]
    public async Task Write_a_medical_note_quickstart()
    {
        using var client = factory.Sandbox();
        var author = (string)(await client.GetJsonAsync($"{L01}/resources"))[0]!["id"]!;
        var note = await client.PostJsonAsync(Notes, new
        {
            template_id = "leyr_unstructured",
            title = "Telefonkontakt",
            created_by_id = author,
            content = new { unstructured = "Patienten ringde.\nMår bättre. Åter vid behov." },
        }, HttpStatusCode.Created);
        Assert.StartsWith("note_", (string?)note["id"], StringComparison.Ordinal);
        Assert.Equal((string?)note["id"], (string?)note["emr_id"]);
        Assert.Equal(author, (string?)note["created_by_id"]);
        Assert.False((bool)note["signed"]!);
        Assert.Null(note["signed_at"]);
        Assert.EndsWith("+01:00", (string?)note["created_at"], StringComparison.Ordinal);
        Assert.Equal("Patienten ringde.\nMår bättre. Åter vid behov.", (string?)note["content"]!["unstructured"]);
        var tolvan = await client.GetJsonAsync($"{L01}/patients/se_personal_number:191212121212");
        Assert.Equal((string?)tolvan["emr_id"], (string?)note["patient_id"]);

        var read = await client.GetJsonAsync($"{Notes}/{(string)note["id"]!}");
        Assert.Equal(note.ToJsonString(), read.ToJsonString());
    }

    [Fact]
    public async Task Notes_are_listed_newest_first_and_paged()
    {
        using var client = factory.Sandbox();
        const string notes = L01 + "/patients/se_personal_number:191212121212/medical-notes";
        var ids = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            var note = await client.PostJsonAsync(notes, new { template_id = "leyr_care_status", title = $"Status {i}", created_by_id = "hsa_id:SE2321000131-E000000000102", content = new { status = $"Oförändrat {i}", medications = "Inga" } }, HttpStatusCode.Created);
            ids.Add((string)note["id"]!);
        }

        using var first = await client.GetAsync(new Uri($"{notes}?limit=2", UriKind.Relative));
        var page = (await first.JsonAsync(HttpStatusCode.OK)).AsArray();
        Assert.Equal([ids[2], ids[1]], page.Select(n => (string)n!["id"]!));
        var next = first.Headers.GetValues("Link").Single().Split(';')[0].Trim('<', '>');
        var rest = (await client.GetJsonAsync(next)).AsArray();
        Assert.Equal(ids[0], (string?)rest[0]!["id"]);
    }

    [Fact]
    public async Task Templates_are_listed_with_their_fields()
    {
        using var client = factory.Sandbox();
        var templates = (await client.GetJsonAsync("/api/medical-note-templates")).AsArray();
        Assert.Equal(["leyr_unstructured", "leyr_acute_visit", "leyr_new_visit_psychology", "leyr_follow_up_visit_psychology", "leyr_care_status"], templates.Select(t => (string)t!["id"]!));
        var unstructured = templates[0]!["fields"]![0]!;
        Assert.Equal("unstructured", (string?)unstructured["name"]);
        Assert.True((bool)unstructured["required"]!);
        Assert.Equal(100_000, (int)unstructured["max_length"]!);
        Assert.Equal("text", (string?)unstructured["type"]);
    }

    [Fact]
    public async Task Every_validation_error_names_its_field()
    {
        using var client = factory.Sandbox();
        object Note(string? template = "leyr_unstructured", string? title = "T", string? author = "1001", object? content = null) =>
            new { template_id = template, title, created_by_id = author, content = content ?? new { unstructured = "x" } };

        await client.PostProblemAsync(Notes, Note(template: "leyr_poem"), HttpStatusCode.BadRequest, "INVALID_TEMPLATE_ID", "template_id");
        await client.PostProblemAsync(Notes, Note(content: new { unstructured = "x", diagnosis = "J06.9" }), HttpStatusCode.BadRequest, "INVALID_NOTE_CONTENT", "content.diagnosis");
        await client.PostProblemAsync(Notes, Note(content: new { }), HttpStatusCode.BadRequest, "INVALID_NOTE_CONTENT", "content.unstructured");
        await client.PostProblemAsync(Notes, Note(content: new { unstructured = new string('x', 100_001) }), HttpStatusCode.BadRequest, "INVALID_NOTE_CONTENT", "content.unstructured");
        await client.PostProblemAsync(Notes, Note(content: new { unstructured = 42 }), HttpStatusCode.BadRequest, "INVALID_NOTE_CONTENT", "content.unstructured");
        await client.PostProblemAsync(Notes, Note(template: "leyr_acute_visit", content: new { anamnesis = "Feber" }), HttpStatusCode.BadRequest, "INVALID_NOTE_CONTENT", "content.reason_for_visit");
        await client.PostProblemAsync(Notes, Note(author: "9999"), HttpStatusCode.BadRequest, "INVALID_CREATED_BY_ID", "created_by_id");
        await client.PostProblemAsync(Notes, Note(author: "2001"), HttpStatusCode.BadRequest, "INVALID_CREATED_BY_ID", "created_by_id"); // a resource of L0_2
        await client.PostProblemAsync(Notes, Note(author: "foo:1"), HttpStatusCode.BadRequest, "INVALID_CREATED_BY_ID", "created_by_id");
        await client.PostProblemAsync(Notes, Note(author: null), HttpStatusCode.BadRequest, "MISSING_REQUIRED_FIELD", "created_by_id");
        await client.PostProblemAsync(Notes, Note(title: null), HttpStatusCode.BadRequest, "MISSING_REQUIRED_FIELD", "title");
        await client.PostProblemAsync(Notes, """{"template_id":"leyr_unstructured","title":"T","created_by_id":"1001"}""", HttpStatusCode.BadRequest, "INVALID_NOTE_CONTENT", "content");
        await client.PostProblemAsync($"{L01}/patients/se_personal_number:197110021834/medical-notes", Note(), HttpStatusCode.NotFound, "NOT_FOUND", "patient_id");
        await client.GetProblemAsync($"{Notes}/note_missing", HttpStatusCode.NotFound, "NOT_FOUND", "note_id");

        var several = await client.PostProblemAsync(Notes, Note(template: "leyr_poem", title: null, author: "9999"), HttpStatusCode.BadRequest);
        Assert.Equal(3, several["errors"]!.AsArray().Count);
    }

    [Fact]
    public async Task Notes_are_never_edited_and_their_text_stays_out_of_the_audit_trail()
    {
        using var client = factory.Sandbox();
        var note = await client.PostJsonAsync(Notes, new { template_id = "leyr_unstructured", title = "Hemligt", created_by_id = "1001", content = new { unstructured = "SENTINEL-journaltext" } }, HttpStatusCode.Created);
        using (var put = await client.PutAsync(new Uri($"{Notes}/{(string)note["id"]!}", UriKind.Relative), JsonContent.Of("{}")))
        {
            await put.ProblemAsync(HttpStatusCode.MethodNotAllowed);
        }

        using (var delete = await client.DeleteAsync(new Uri($"{Notes}/{(string)note["id"]!}", UriKind.Relative)))
        {
            await delete.ProblemAsync(HttpStatusCode.MethodNotAllowed);
        }

        using var admin = factory.Admin();
        var events = (await admin.GetJsonAsync("/api/admin/audit?limit=200")).AsArray();
        Assert.Contains(events, e => (string?)e!["action"] == "note.create" && (string?)e["resource_id"] == (string?)note["id"]);
        Assert.DoesNotContain("SENTINEL", events.ToJsonString(), StringComparison.Ordinal);
    }
}
