using System.Text.Json;

namespace Vardbro.Connectors.Tests.Notes;

public class NoteTemplatesTests
{
    private const string Sentinel = "ZEBRAFISHSENTINEL";

    private static readonly string[] ExpectedIds =
    [
        "leyr_unstructured",
        "leyr_acute_visit",
        "leyr_new_visit_psychology",
        "leyr_follow_up_visit_psychology",
        "leyr_care_status",
    ];

    private static readonly JsonSerializerOptions SnakeCase = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    private static JsonElement Json(string json)
    {
        using JsonDocument document = JsonDocument.Parse(json);
        return document.RootElement.Clone();
    }

    private static JsonElement Object(params (string Key, object? Value)[] properties)
    {
        var map = new Dictionary<string, object?>();
        foreach ((string key, object? value) in properties)
        {
            map[key] = value;
        }

        return JsonSerializer.SerializeToElement(map);
    }

    private static IReadOnlyList<ApiError> Errors(string templateId, JsonElement content)
    {
        VardbroException e = Assert.Throws<VardbroException>(() => NoteTemplates.Validate(templateId, content));
        Assert.NotEmpty(e.Errors);
        return e.Errors;
    }

    private static ApiError Single(string templateId, JsonElement content, string code, string path)
    {
        IReadOnlyList<ApiError> errors = Errors(templateId, content);
        ApiError error = Assert.Single(errors, x => x.Path == path);
        Assert.Equal(code, error.ErrorCode);
        return error;
    }

    // ---- the templates themselves ----

    [Fact]
    public void HasTheFiveTemplatesInOrder()
    {
        Assert.Equal(ExpectedIds, NoteTemplates.All.Select(t => t.Id));
    }

    [Theory]
    [InlineData("leyr_unstructured", "unstructured")]
    [InlineData("leyr_acute_visit", "reason_for_visit,anamnesis,status,assessment,plan,prescriptions")]
    [InlineData("leyr_new_visit_psychology", "reason_for_referral,background,current_situation,mental_status,assessment,treatment_plan")]
    [InlineData("leyr_follow_up_visit_psychology", "session_summary,progress,interventions,assessment,next_steps")]
    [InlineData("leyr_care_status", "status,care_needs,medications,allergies,notes")]
    public void TemplatesHaveTheirFieldsWithTheFirstOneRequired(string id, string fields)
    {
        NoteTemplate template = Assert.IsType<NoteTemplate>(NoteTemplates.Find(id));
        Assert.Equal(fields.Split(','), template.Fields.Select(f => f.Name));
        Assert.True(template.Fields[0].Required);
        Assert.All(template.Fields.Skip(1), f => Assert.False(f.Required));
    }

    [Fact]
    public void EveryTemplateAndFieldIsDescribed()
    {
        foreach (NoteTemplate template in NoteTemplates.All)
        {
            Assert.False(string.IsNullOrWhiteSpace(template.Name));
            Assert.True(template.Description.Length > 20, template.Id);
            Assert.NotEmpty(template.Fields);
            Assert.Equal(template.Fields.Count, template.Fields.Select(f => f.Name).Distinct().Count());
            foreach (NoteField field in template.Fields)
            {
                Assert.Equal("text", field.Type);
                Assert.True(field.Description.Length > 20, $"{template.Id}.{field.Name}");
                Assert.Equal(template.Id == "leyr_unstructured" ? 100_000 : 10_000, field.MaxLength);
            }
        }
    }

    [Fact]
    public void TheTemplateListCannotBeChangedByCasting()
    {
        Assert.False(NoteTemplates.All is NoteTemplate[]);
        Assert.True(NoteTemplates.All is System.Collections.IList { IsReadOnly: true });
        Assert.True(NoteTemplates.All[0].Fields is System.Collections.IList { IsReadOnly: true });
    }

    [Fact]
    public void FindIsExactAndCaseSensitive()
    {
        Assert.Equal("leyr_care_status", NoteTemplates.Find("leyr_care_status")?.Id);
        Assert.Null(NoteTemplates.Find("LEYR_CARE_STATUS"));
        Assert.Null(NoteTemplates.Find(" leyr_care_status"));
        Assert.Null(NoteTemplates.Find("nope"));
        Assert.Null(NoteTemplates.Find(""));
        Assert.Null(NoteTemplates.Find(null!));
    }

    [Fact]
    public void TemplatesSerialiseToSnakeCase()
    {
        string json = JsonSerializer.Serialize(NoteTemplates.Find("leyr_unstructured"), SnakeCase);
        Assert.Contains("\"id\":\"leyr_unstructured\"", json, StringComparison.Ordinal);
        Assert.Contains("\"max_length\":100000", json, StringComparison.Ordinal);
        Assert.Contains("\"required\":true", json, StringComparison.Ordinal);
        Assert.Contains("\"type\":\"text\"", json, StringComparison.Ordinal);
    }

    // ---- valid content ----

    [Fact]
    public void AcceptsUnstructured()
    {
        IReadOnlyDictionary<string, string> result = NoteTemplates.Validate(
            "leyr_unstructured", Json("""{"unstructured": "Patient seen.\r\nFeels better.\tNo fever."}"""));
        Assert.Equal(
            new Dictionary<string, string> { ["unstructured"] = "Patient seen.\r\nFeels better.\tNo fever." },
            result);
    }

    [Fact]
    public void AcceptsAcuteVisit()
    {
        IReadOnlyDictionary<string, string> result = NoteTemplates.Validate("leyr_acute_visit", Json("""
            {"reason_for_visit": "Sore throat for 3 days.", "anamnesis": "No earlier illness.",
             "status": "T 38.2, tonsils swollen.", "assessment": "Tonsillitis.",
             "plan": "Penicillin, return if worse.", "prescriptions": "Kåvepenin 1 g x 3, 10 days."}
            """));
        Assert.Equal(6, result.Count);
        Assert.Equal("Kåvepenin 1 g x 3, 10 days.", result["prescriptions"]);
    }

    [Fact]
    public void AcceptsNewVisitPsychology()
    {
        IReadOnlyDictionary<string, string> result = NoteTemplates.Validate("leyr_new_visit_psychology", Json("""
            {"reason_for_referral": "Referred by GP for low mood.", "background": "Works as a teacher.",
             "current_situation": "Poor sleep for 2 months.", "mental_status": "Calm, good contact.",
             "assessment": "Moderate depressive episode.", "treatment_plan": "CBT, 12 sessions."}
            """));
        Assert.Equal(
            ["reason_for_referral", "background", "current_situation", "mental_status", "assessment", "treatment_plan"],
            result.Keys);
    }

    [Fact]
    public void AcceptsFollowUpVisitPsychologyWithOnlyTheRequiredField()
    {
        IReadOnlyDictionary<string, string> result = NoteTemplates.Validate(
            "leyr_follow_up_visit_psychology", Json("""{"session_summary": "Session 4: worked on sleep."}"""));
        Assert.Equal(["session_summary"], result.Keys);
    }

    [Fact]
    public void AcceptsCareStatus()
    {
        IReadOnlyDictionary<string, string> result = NoteTemplates.Validate("leyr_care_status", Json("""
            {"status": "Stable.", "allergies": "Penicillin.", "medications": "Alvedon 1 g x 4."}
            """));
        Assert.Equal(["status", "medications", "allergies"], result.Keys);
    }

    [Fact]
    public void ReturnsFieldsInTemplateOrderWhateverTheInputOrder()
    {
        IReadOnlyDictionary<string, string> result = NoteTemplates.Validate("leyr_acute_visit", Json("""
            {"prescriptions": "p", "plan": "pl", "reason_for_visit": "r", "status": "s", "anamnesis": "a"}
            """));
        Assert.Equal(["reason_for_visit", "anamnesis", "status", "plan", "prescriptions"], result.Keys);
        Assert.Equal(["r", "a", "s", "pl", "p"], result.Values);
        Assert.Equal(
            ["reason_for_visit", "anamnesis", "status", "plan", "prescriptions"],
            result.Select(kv => kv.Key));
    }

    [Fact]
    public void KeepsTextExactlyAsSent()
    {
        const string text = "  Line one\n\n\tindented – åäö 😀  \r\n";
        IReadOnlyDictionary<string, string> result = NoteTemplates.Validate(
            "leyr_unstructured", Object(("unstructured", text)));
        Assert.Equal(text, result["unstructured"]);
    }

    [Fact]
    public void OptionalNullIsTreatedAsNotGivenAndOptionalBlankIsKept()
    {
        IReadOnlyDictionary<string, string> result = NoteTemplates.Validate(
            "leyr_care_status", Json("""{"status": "Stable.", "notes": null, "allergies": ""}"""));
        Assert.Equal(["status", "allergies"], result.Keys);
        Assert.Equal(string.Empty, result["allergies"]);
    }

    [Fact]
    public void ResultCannotBeChangedByCasting()
    {
        IReadOnlyDictionary<string, string> result = NoteTemplates.Validate(
            "leyr_unstructured", Json("""{"unstructured": "x"}"""));
        Assert.False(result is IDictionary<string, string> { IsReadOnly: false });
    }

    // ---- lengths ----

    [Fact]
    public void UnstructuredAcceptsExactly100000Characters()
    {
        string text = new('a', 100_000);
        IReadOnlyDictionary<string, string> result = NoteTemplates.Validate(
            "leyr_unstructured", Object(("unstructured", text)));
        Assert.Equal(100_000, result["unstructured"].Length);
    }

    [Fact]
    public void UnstructuredRefuses100001Characters()
    {
        ApiError error = Single(
            "leyr_unstructured",
            Object(("unstructured", new string('a', 100_001))),
            "INVALID_NOTE_CONTENT",
            "content.unstructured");
        Assert.Contains("100,000", error.Details, StringComparison.Ordinal);
        Assert.Contains("100,001", error.Details, StringComparison.Ordinal);
    }

    [Fact]
    public void LengthCountsUtf16CodeUnits()
    {
        // 50,000 emoji = 100,000 UTF-16 code units: accepted; one more is refused.
        string emoji = string.Concat(Enumerable.Repeat("😀", 50_000));
        Assert.Equal(100_000, NoteTemplates.Validate("leyr_unstructured", Object(("unstructured", emoji)))["unstructured"].Length);
        Single("leyr_unstructured", Object(("unstructured", emoji + "a")), "INVALID_NOTE_CONTENT", "content.unstructured");
    }

    [Fact]
    public void StructuredFieldsAllow10000Characters()
    {
        IReadOnlyDictionary<string, string> result = NoteTemplates.Validate(
            "leyr_acute_visit",
            Object(("reason_for_visit", "r"), ("plan", new string('p', 10_000))));
        Assert.Equal(10_000, result["plan"].Length);

        ApiError error = Single(
            "leyr_acute_visit",
            Object(("reason_for_visit", "r"), ("plan", new string('p', 10_001))),
            "INVALID_NOTE_CONTENT",
            "content.plan");
        Assert.Contains("10,000", error.Details, StringComparison.Ordinal);
    }

    // ---- each error outcome ----

    [Fact]
    public void UnknownTemplateListsTheKnownIds()
    {
        ApiError error = Assert.Single(Errors("leyr_dental", Json("""{"unstructured": "x"}""")));
        Assert.Equal("INVALID_TEMPLATE_ID", error.ErrorCode);
        Assert.Equal("template_id", error.Path);
        foreach (string id in ExpectedIds)
        {
            Assert.Contains(id, error.Details, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData(null)]
    public void MissingTemplateIdIsAnInvalidTemplate(string? templateId)
    {
        ApiError error = Assert.Single(Errors(templateId!, Json("""{"unstructured": "x"}""")));
        Assert.Equal("INVALID_TEMPLATE_ID", error.ErrorCode);
        Assert.Equal("template_id", error.Path);
        Assert.Contains("leyr_unstructured", error.Details, StringComparison.Ordinal);
    }

    [Fact]
    public void WronglyCasedTemplateIdGetsAHint()
    {
        ApiError error = Assert.Single(Errors("LEYR_ACUTE_VISIT", Json("""{"reason_for_visit": "x"}""")));
        Assert.Equal("INVALID_TEMPLATE_ID", error.ErrorCode);
        Assert.Contains("did you mean leyr_acute_visit", error.Details, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("\"just a string\"", "a string")]
    [InlineData("[\"a\"]", "an array")]
    [InlineData("42", "a number")]
    [InlineData("true", "a boolean")]
    [InlineData("null", "required")]
    public void ContentMustBeAnObject(string json, string expected)
    {
        ApiError error = Assert.Single(Errors("leyr_unstructured", Json(json)));
        Assert.Equal("INVALID_NOTE_CONTENT", error.ErrorCode);
        Assert.Equal("content", error.Path);
        Assert.Contains(expected, error.Details, StringComparison.Ordinal);
        Assert.Contains("unstructured", error.Details, StringComparison.Ordinal);
    }

    [Fact]
    public void AbsentContentIsRefused()
    {
        ApiError error = Assert.Single(Errors("leyr_unstructured", default));
        Assert.Equal("INVALID_NOTE_CONTENT", error.ErrorCode);
        Assert.Equal("content", error.Path);
    }

    [Fact]
    public void UnknownKeyIsRefusedNamingTheFields()
    {
        ApiError error = Single(
            "leyr_care_status",
            Json("""{"status": "Stable.", "diagnosis": "x"}"""),
            "INVALID_NOTE_CONTENT",
            "content.diagnosis");
        Assert.Contains("not a field of template leyr_care_status", error.Details, StringComparison.Ordinal);
        Assert.Contains("status, care_needs, medications, allergies, notes", error.Details, StringComparison.Ordinal);
    }

    [Fact]
    public void WronglyCasedKeyGetsAHint()
    {
        ApiError error = Single(
            "leyr_care_status",
            Json("""{"status": "Stable.", "Allergies": "x"}"""),
            "INVALID_NOTE_CONTENT",
            "content.Allergies");
        Assert.Contains("did you mean allergies", error.Details, StringComparison.Ordinal);
    }

    [Fact]
    public void FieldOfAnotherTemplateIsUnknown()
    {
        Single(
            "leyr_unstructured",
            Json("""{"unstructured": "x", "plan": "y"}"""),
            "INVALID_NOTE_CONTENT",
            "content.plan");
    }

    [Theory]
    [InlineData("""{"anamnesis": "History."}""", "is missing")]
    [InlineData("""{"reason_for_visit": null, "anamnesis": "History."}""", "is null")]
    [InlineData("""{"reason_for_visit": "", "anamnesis": "History."}""", "is empty")]
    [InlineData("""{"reason_for_visit": " \n\t ", "anamnesis": "History."}""", "is blank")]
    public void RequiredFieldMissingNullOrBlankIsRefused(string json, string expected)
    {
        ApiError error = Assert.Single(Errors("leyr_acute_visit", Json(json)));
        Assert.Equal("INVALID_NOTE_CONTENT", error.ErrorCode);
        Assert.Equal("content.reason_for_visit", error.Path);
        Assert.Contains(expected, error.Details, StringComparison.Ordinal);
        Assert.Contains("required", error.Details, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("42", "a number")]
    [InlineData("true", "a boolean")]
    [InlineData("false", "a boolean")]
    [InlineData("[\"text\"]", "an array")]
    [InlineData("{\"text\": \"x\"}", "an object")]
    public void NonStringValueIsRefused(string value, string kind)
    {
        ApiError error = Single(
            "leyr_acute_visit",
            Json($$"""{"reason_for_visit": "r", "plan": {{value}}}"""),
            "INVALID_NOTE_CONTENT",
            "content.plan");
        Assert.Contains("JSON string", error.Details, StringComparison.Ordinal);
        Assert.Contains(kind, error.Details, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("\u0000")]
    [InlineData("\u0007")]
    [InlineData("\u001b")]
    [InlineData("\u007f")]
    [InlineData("\u0085")]
    public void ControlCharactersAreRefused(string control)
    {
        ApiError error = Single(
            "leyr_unstructured",
            Object(("unstructured", "abc" + control + "def")),
            "INVALID_NOTE_CONTENT",
            "content.unstructured");
        Assert.Contains($"U+{(int)control[0]:X4}", error.Details, StringComparison.Ordinal);
        Assert.Contains("position 3", error.Details, StringComparison.Ordinal);
    }

    [Fact]
    public void LineBreaksAndTabsAreAllowed()
    {
        IReadOnlyDictionary<string, string> result = NoteTemplates.Validate(
            "leyr_unstructured", Object(("unstructured", "a\nb\r\nc\td\re")));
        Assert.Equal("a\nb\r\nc\td\re", result["unstructured"]);
    }

    [Fact]
    public void UnpairedSurrogateIsRefused()
    {
        ApiError error = Single(
            "leyr_unstructured",
            Json("""{"unstructured": "abc\ud800def"}"""),
            "INVALID_NOTE_CONTENT",
            "content.unstructured");
        Assert.Contains("Unicode", error.Details, StringComparison.Ordinal);
    }

    [Fact]
    public void DuplicateKeyIsRefusedOnce()
    {
        ApiError error = Single(
            "leyr_acute_visit",
            Json("""{"reason_for_visit": "r", "plan": "one", "plan": "two", "plan": "three"}"""),
            "INVALID_NOTE_CONTENT",
            "content.plan");
        Assert.Contains("more than once", error.Details, StringComparison.Ordinal);
    }

    [Fact]
    public void DuplicateRequiredKeyIsRefused()
    {
        IReadOnlyList<ApiError> errors = Errors(
            "leyr_unstructured", Json("""{"unstructured": "a", "unstructured": "b"}"""));
        ApiError error = Assert.Single(errors);
        Assert.Equal("INVALID_NOTE_CONTENT", error.ErrorCode);
        Assert.Equal("content.unstructured", error.Path);
    }

    [Fact]
    public void ContentWithoutAnyTextIsRefused()
    {
        IReadOnlyList<ApiError> errors = Errors("leyr_care_status", Json("""{"status": "  ", "notes": "\n"}"""));
        ApiError error = Assert.Single(errors, e => e.Path == "content");
        Assert.Equal("INVALID_NOTE_CONTENT", error.ErrorCode);
        Assert.Contains("no text", error.Details, StringComparison.Ordinal);
        Assert.Single(errors, e => e.Path == "content.status");
    }

    [Fact]
    public void EmptyObjectIsRefusedAsEmptyAndMissingTheRequiredField()
    {
        IReadOnlyList<ApiError> errors = Errors("leyr_unstructured", Json("{}"));
        Assert.Equal(["content.unstructured", "content"], errors.Select(e => e.Path));
        Assert.All(errors, e => Assert.Equal("INVALID_NOTE_CONTENT", e.ErrorCode));
    }

    [Fact]
    public void TextInAnInvalidFieldStillCountsAsText()
    {
        // Too long, but not empty: only the length is reported.
        ApiError error = Assert.Single(Errors("leyr_unstructured", Object(("unstructured", new string('a', 100_001)))));
        Assert.Equal("content.unstructured", error.Path);
    }

    // ---- several problems together ----

    [Fact]
    public void ReportsAllProblemsTogether()
    {
        string json = $$"""
            {"anamnesis": 12, "status": "{{new string('s', 10_001)}}", "plan": "ok\u0001",
             "diagnosis": "x", "assessment": "a", "assessment": "b"}
            """;
        IReadOnlyList<ApiError> errors = Errors("leyr_acute_visit", Json(json));
        Assert.Equal(
            ["content.anamnesis", "content.status", "content.plan", "content.diagnosis", "content.assessment", "content.reason_for_visit"],
            errors.Select(e => e.Path));
        Assert.All(errors, e => Assert.Equal("INVALID_NOTE_CONTENT", e.ErrorCode));
    }

    [Fact]
    public void OneFieldCanHaveSeveralProblems()
    {
        IReadOnlyList<ApiError> errors = Errors(
            "leyr_unstructured", Object(("unstructured", new string('a', 100_001) + "\u0002")));
        Assert.Equal(2, errors.Count);
        Assert.All(errors, e => Assert.Equal("content.unstructured", e.Path));
    }

    [Fact]
    public void UnknownTemplateAndNonObjectContentAreReportedTogether()
    {
        IReadOnlyList<ApiError> errors = Errors("nope", Json("[]"));
        Assert.Equal(["template_id", "content"], errors.Select(e => e.Path));
        Assert.Equal(["INVALID_TEMPLATE_ID", "INVALID_NOTE_CONTENT"], errors.Select(e => e.ErrorCode));
    }

    [Fact]
    public void ExceptionCarriesTheFirstDetailAsMessageAndNoStatusOverride()
    {
        VardbroException e = Assert.Throws<VardbroException>(
            () => NoteTemplates.Validate("leyr_unstructured", Json("""{"unstructured": ""}""")));
        Assert.Equal(e.Errors[0].Details, e.Message);
        Assert.Equal(typeof(VardbroException), e.GetType());
    }

    // ---- no note text in errors ----

    [Fact]
    public void DetailsNeverQuoteTheNoteText()
    {
        string s = Sentinel;
        var cases = new List<(string TemplateId, JsonElement Content)>
        {
            ("leyr_unstructured", Object(("unstructured", new string('x', 100_001) + s))),
            ("leyr_unstructured", Object(("unstructured", s + "\u0007" + s))),
            ("leyr_unstructured", Object(("unstructured", s), ("extra", s))),
            ("leyr_unstructured", Json($$"""{"unstructured": "{{s}}", "unstructured": "{{s}}"}""")),
            ("leyr_unstructured", Json($$"""{"unstructured": "{{s}}\ud800"}""")),
            ("leyr_acute_visit", Object(("reason_for_visit", "   "), ("plan", new[] { s }))),
            ("leyr_acute_visit", Object(("plan", new Dictionary<string, string> { ["x"] = s }))),
            ("leyr_care_status", Object(("status", s + new string('x', 10_000)))),
            ("leyr_unstructured", Json($$"""["{{s}}"]""")),
            ("leyr_unstructured", Json($$"""" "{{s}}" """")),
            ("unknown_template", Object(("unstructured", s))),
            ("unknown_template", Json($$"""" "{{s}}" """")),
        };

        foreach ((string templateId, JsonElement content) in cases)
        {
            VardbroException e = Assert.Throws<VardbroException>(() => NoteTemplates.Validate(templateId, content));
            Assert.NotEmpty(e.Errors);
            Assert.DoesNotContain(s, e.Message, StringComparison.Ordinal);
            foreach (ApiError error in e.Errors)
            {
                Assert.DoesNotContain(s, error.Details, StringComparison.Ordinal);
                Assert.DoesNotContain(s, error.Path ?? string.Empty, StringComparison.Ordinal);
                Assert.Null(error.EmrError);
            }
        }
    }
}
