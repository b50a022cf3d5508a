using System.Collections.ObjectModel;
using System.Globalization;
using System.Text.Json;

namespace Vardbro.Connectors;

/// <summary>One field of a medical-note template: a key of the note's <c>content</c>.</summary>
/// <param name="Name">The key in <c>content</c>, e.g. <c>reason_for_visit</c>.</param>
/// <param name="Type">The kind of value; <c>text</c> (free text, line breaks allowed) for every field so far.</param>
/// <param name="Required">Whether the field must be given, with some non-blank text.</param>
/// <param name="MaxLength">The most characters (UTF-16 code units) the value may have.</param>
/// <param name="Description">What belongs in the field, for people writing notes.</param>
public sealed record NoteField(string Name, string Type, bool Required, int MaxLength, string Description);

/// <summary>A medical-note template (API.md §5 "Medical notes"): its id and the fields of its <c>content</c>.</summary>
/// <param name="Id">The <c>template_id</c>, e.g. <c>leyr_acute_visit</c>.</param>
/// <param name="Name">A short human name.</param>
/// <param name="Description">What kind of note the template is for.</param>
/// <param name="Fields">The fields of <c>content</c>, in the order they are shown and stored.</param>
public sealed record NoteTemplate(string Id, string Name, string Description, IReadOnlyList<NoteField> Fields);

/// <summary>
/// The built-in medical-note templates (Leyr-compatible ids) and the validation of a note's
/// <c>content</c> against them. Validation reports every problem at once and never repeats the
/// note's text in an error.
/// </summary>
public static class NoteTemplates
{
    /// <summary>The type of every field so far: free text, line breaks and tabs allowed.</summary>
    public const string TextType = "text";

    /// <summary>The most characters of a structured template's field.</summary>
    public const int StructuredFieldMaxLength = 10_000;

    /// <summary>The most characters of <c>leyr_unstructured</c>'s only field.</summary>
    public const int UnstructuredMaxLength = 100_000;

    public const string UnstructuredId = "leyr_unstructured";
    public const string AcuteVisitId = "leyr_acute_visit";
    public const string NewVisitPsychologyId = "leyr_new_visit_psychology";
    public const string FollowUpVisitPsychologyId = "leyr_follow_up_visit_psychology";
    public const string CareStatusId = "leyr_care_status";

    private const string TemplateIdPath = "template_id";
    private const string ContentPath = "content";

    /// <summary>Every template, in a fixed order (the unstructured one first).</summary>
    public static IReadOnlyList<NoteTemplate> All { get; } = new ReadOnlyCollection<NoteTemplate>(
    [
        Template(
            UnstructuredId,
            "Unstructured note",
            "A free-text note without fixed sections, for anything that does not fit one of the "
            + "structured templates.",
            new NoteField(
                "unstructured",
                TextType,
                Required: true,
                UnstructuredMaxLength,
                "The whole note as free text. Line breaks are kept as written.")),
        Template(
            AcuteVisitId,
            "Acute visit",
            "A note from an acute or same-day visit: why the patient came, the history, the "
            + "examination findings, the assessment and the plan.",
            Text(
                "reason_for_visit",
                required: true,
                "Why the patient sought care: the presenting complaint, briefly."),
            Text(
                "anamnesis",
                required: false,
                "The history of the present complaint: onset, course and symptoms, relevant "
                + "earlier illness, and current medication and allergies as reported by the patient."),
            Text(
                "status",
                required: false,
                "Examination findings: general condition, vital signs, the physical examination "
                + "and the results of any point-of-care tests."),
            Text(
                "assessment",
                required: false,
                "The clinician's assessment: the working diagnosis or differential diagnoses and "
                + "the reasoning behind them."),
            Text(
                "plan",
                required: false,
                "What happens next: treatment given, advice to the patient, referrals, follow-up, "
                + "and when to seek care again."),
            Text(
                "prescriptions",
                required: false,
                "Medicines prescribed, changed or stopped at the visit, with dose, duration and "
                + "instructions.")),
        Template(
            NewVisitPsychologyId,
            "New visit, psychology",
            "A note from a first (assessment) visit with a psychologist or psychotherapist.",
            Text(
                "reason_for_referral",
                required: true,
                "Why the patient was referred or sought psychological care, and by whom."),
            Text(
                "background",
                required: false,
                "Relevant history: upbringing and social situation, earlier psychiatric or "
                + "psychological care, somatic health and substance use."),
            Text(
                "current_situation",
                required: false,
                "The patient's present difficulties and circumstances: symptoms, how long they "
                + "have lasted, and how they affect daily life, work and relationships."),
            Text(
                "mental_status",
                required: false,
                "Mental status examination: appearance and contact, mood and affect, thought and "
                + "perception, cognition, insight, and the assessment of suicide risk."),
            Text(
                "assessment",
                required: false,
                "The psychologist's assessment: case formulation, working diagnosis and the "
                + "results of any rating scales."),
            Text(
                "treatment_plan",
                required: false,
                "The proposed treatment: method, goals, number and frequency of sessions, and any "
                + "referrals.")),
        Template(
            FollowUpVisitPsychologyId,
            "Follow-up visit, psychology",
            "A note from a follow-up session in an ongoing psychological treatment.",
            Text(
                "session_summary",
                required: true,
                "What the session covered: its themes, events since the last session and the "
                + "patient's own account."),
            Text(
                "progress",
                required: false,
                "Change since the start of treatment or the last session, measured against the "
                + "treatment goals, including rating-scale results."),
            Text(
                "interventions",
                required: false,
                "The methods and interventions used in the session, and any homework agreed."),
            Text(
                "assessment",
                required: false,
                "The psychologist's current assessment, including any change in risk."),
            Text(
                "next_steps",
                required: false,
                "The plan for continued treatment: the next session, changes to the treatment "
                + "plan, or the conclusion of treatment.")),
        Template(
            CareStatusId,
            "Care status",
            "A summary of the patient's current condition and care needs, for example at "
            + "admission, handover or discharge, or in home care.",
            Text(
                "status",
                required: true,
                "The patient's current condition: general state, level of function and "
                + "observations."),
            Text(
                "care_needs",
                required: false,
                "Nursing and care needs: help with daily activities, nutrition, mobility, skin, "
                + "elimination and sleep, and the care actions planned."),
            Text(
                "medications",
                required: false,
                "Current medicines and how they are given or managed."),
            Text(
                "allergies",
                required: false,
                "Known allergies and hypersensitivities, and the reactions they cause."),
            Text(
                "notes",
                required: false,
                "Anything else that those caring for the patient need to know.")),
    ]);

    private static readonly string KnownIdsText = string.Join(", ", All.Select(t => t.Id));

    /// <summary>The template with exactly this id (ids are case-sensitive), or null.</summary>
    public static NoteTemplate? Find(string id)
    {
        if (id is null)
        {
            return null;
        }

        foreach (NoteTemplate template in All)
        {
            if (string.Equals(template.Id, id, StringComparison.Ordinal))
            {
                return template;
            }
        }

        return null;
    }

    /// <summary>
    /// Checks a note's <paramref name="content"/> against the template <paramref name="templateId"/>
    /// and returns its fields in the template's order (only the fields given; a JSON <c>null</c>
    /// in an optional field counts as not given). The text is returned exactly as sent, not
    /// trimmed. Throws <see cref="VardbroException"/> with one <see cref="ApiError"/> per problem:
    /// <c>INVALID_TEMPLATE_ID</c> (path <c>template_id</c>) for an unknown template, otherwise
    /// <c>INVALID_NOTE_CONTENT</c> with path <c>content</c> or <c>content.&lt;key&gt;</c> for a
    /// content that is not an object, an unknown or repeated key, a required field missing or
    /// blank, a value that is not a string, too long or holding control characters other than
    /// line breaks and tabs, or a content without any non-blank text. The details never quote
    /// the note's text.
    /// </summary>
    public static IReadOnlyDictionary<string, string> Validate(string templateId, JsonElement content)
    {
        var errors = new List<ApiError>();
        NoteTemplate? template = Find(templateId);
        if (template is null)
        {
            errors.Add(new ApiError(ErrorCodes.InvalidTemplateId, UnknownTemplateDetails(templateId), TemplateIdPath));
        }

        if (content.ValueKind != JsonValueKind.Object)
        {
            errors.Add(Content(ContentPath, NotAnObjectDetails(content.ValueKind, template)));
            throw new VardbroException(errors);
        }

        if (template is null)
        {
            throw new VardbroException(errors);
        }

        var given = new HashSet<string>(StringComparer.Ordinal);
        var repeated = new HashSet<string>(StringComparer.Ordinal);
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        bool anyText = false;

        foreach (JsonProperty property in content.EnumerateObject())
        {
            string key;
            try
            {
                key = property.Name;
            }
            catch (InvalidOperationException)
            {
                errors.Add(Content(ContentPath, "A key of content is not valid Unicode text (it holds an unpaired surrogate)."));
                continue;
            }

            string path = ContentPath + "." + key;
            if (!given.Add(key))
            {
                if (repeated.Add(key))
                {
                    errors.Add(Content(path, "This key appears more than once in content; give each field once."));
                }

                continue;
            }

            NoteField? field = FindField(template, key);
            if (field is null)
            {
                errors.Add(Content(path, UnknownFieldDetails(template, key)));
                continue;
            }

            JsonElement value = property.Value;
            if (value.ValueKind == JsonValueKind.Null)
            {
                if (field.Required)
                {
                    errors.Add(Content(path, RequiredDetails(template, field, "is null")));
                }

                continue;
            }

            if (value.ValueKind != JsonValueKind.String)
            {
                errors.Add(Content(path, Invariant(
                    $"{field.Name} must be text (a JSON string), not {KindName(value.ValueKind)}.")));
                continue;
            }

            string text;
            try
            {
                text = value.GetString() ?? string.Empty;
            }
            catch (InvalidOperationException)
            {
                errors.Add(Content(path, Invariant(
                    $"{field.Name} is not valid Unicode text (it holds an unpaired surrogate).")));
                continue;
            }

            bool blank = string.IsNullOrWhiteSpace(text);
            anyText |= !blank;
            bool ok = true;
            if (blank && field.Required)
            {
                errors.Add(Content(path, RequiredDetails(template, field, text.Length == 0 ? "is empty" : "is blank")));
                ok = false;
            }

            if (text.Length > field.MaxLength)
            {
                errors.Add(Content(path, Invariant(
                    $"{field.Name} is {text.Length:N0} characters long; template {template.Id} allows at most {field.MaxLength:N0}.")));
                ok = false;
            }

            int control = IndexOfForbiddenControl(text);
            if (control >= 0)
            {
                errors.Add(Content(path, Invariant(
                    $"{field.Name} contains the control character U+{(int)text[control]:X4} at position {control:N0}; only line breaks (\\n, \\r) and tabs (\\t) are allowed.")));
                ok = false;
            }

            if (ok)
            {
                values[key] = text;
            }
        }

        foreach (NoteField field in template.Fields)
        {
            if (field.Required && !given.Contains(field.Name))
            {
                errors.Add(Content(ContentPath + "." + field.Name, RequiredDetails(template, field, "is missing")));
            }
        }

        if (!anyText)
        {
            errors.Add(Content(ContentPath, Invariant(
                $"content holds no text: at least one field of template {template.Id} must be given with non-blank text ({FieldList(template)}).")));
        }

        if (errors.Count > 0)
        {
            throw new VardbroException(errors);
        }

        var ordered = new OrderedDictionary<string, string>(values.Count, StringComparer.Ordinal);
        foreach (NoteField field in template.Fields)
        {
            if (values.TryGetValue(field.Name, out string? text))
            {
                ordered.Add(field.Name, text);
            }
        }

        return new ReadOnlyDictionary<string, string>(ordered);
    }

    private static NoteTemplate Template(string id, string name, string description, params NoteField[] fields) =>
        new(id, name, description, new ReadOnlyCollection<NoteField>(fields));

    private static NoteField Text(string name, bool required, string description) =>
        new(name, TextType, required, StructuredFieldMaxLength, description);

    private static NoteField? FindField(NoteTemplate template, string key)
    {
        foreach (NoteField field in template.Fields)
        {
            if (string.Equals(field.Name, key, StringComparison.Ordinal))
            {
                return field;
            }
        }

        return null;
    }

    private static ApiError Content(string path, string details) =>
        new(ErrorCodes.InvalidNoteContent, details, path);

    private static string FieldList(NoteTemplate template) =>
        string.Join(", ", template.Fields.Select(f => f.Name));

    private static string Invariant(FormattableString text) => FormattableString.Invariant(text);

    private static string UnknownTemplateDetails(string? templateId)
    {
        if (string.IsNullOrWhiteSpace(templateId))
        {
            return $"template_id is required; the known templates are {KnownIdsText}.";
        }

        NoteTemplate? sameButCase = All.FirstOrDefault(
            t => string.Equals(t.Id, templateId.Trim(), StringComparison.OrdinalIgnoreCase));
        string hint = sameButCase is null
            ? string.Empty
            : $" (template ids are case-sensitive and without spaces: did you mean {sameButCase.Id}?)";
        return $"template_id is not a known template{hint}; the known templates are {KnownIdsText}.";
    }

    private static string UnknownFieldDetails(NoteTemplate template, string key)
    {
        NoteField? sameButCase = template.Fields.FirstOrDefault(
            f => string.Equals(f.Name, key.Trim(), StringComparison.OrdinalIgnoreCase));
        string hint = sameButCase is null
            ? string.Empty
            : $" (field names are case-sensitive and without spaces: did you mean {sameButCase.Name}?)";
        return $"This key is not a field of template {template.Id}{hint}; its fields are {FieldList(template)}.";
    }

    private static string RequiredDetails(NoteTemplate template, NoteField field, string what) =>
        Invariant($"{field.Name} is required by template {template.Id} and {what}; give it as non-blank text of at most {field.MaxLength:N0} characters.");

    private static string NotAnObjectDetails(JsonValueKind kind, NoteTemplate? template)
    {
        string shape = template is null
            ? "a JSON object whose keys are the fields of the template"
            : $"a JSON object with the fields of template {template.Id} ({FieldList(template)})";
        return kind is JsonValueKind.Undefined or JsonValueKind.Null
            ? $"content is required: {shape}."
            : $"content must be {shape}, not {KindName(kind)}.";
    }

    private static string KindName(JsonValueKind kind) => kind switch
    {
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Array => "an array",
        JsonValueKind.Object => "an object",
        JsonValueKind.Null => "null",
        _ => "nothing",
    };

    /// <summary>The index of the first control character other than \n, \r and \t, or -1.</summary>
    private static int IndexOfForbiddenControl(string text)
    {
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (char.IsControl(c) && c is not ('\n' or '\r' or '\t'))
            {
                return i;
            }
        }

        return -1;
    }
}
