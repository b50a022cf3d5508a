using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using F = Hl7.Fhir.Model;

namespace Vardbro.Connectors.Fhir;

/// <summary>
/// DocumentReferences the EHR wrote itself (no Vardbro document kind): shown beside Vardbro's own,
/// read-only, mapped as far as they carry the fields. Clinical notes (US Core category
/// <c>clinical-note</c>, as Millennium files them) are notes with their text as
/// <c>leyr_unstructured</c>; everything else is a document. They name no care unit, so they are the
/// patient's at every care unit of the EMR.
/// </summary>
internal static partial class FhirEhrWritten
{
    public const string UsCoreCategory = "http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category";

    public static bool Is(F.DocumentReference reference)
    {
        ArgumentNullException.ThrowIfNull(reference);
        return !reference.Category.Any(c => c.Coding.Any(x => x.System == FhirSystems.DocumentKind));
    }

    public static bool IsNote(F.DocumentReference reference) =>
        Is(reference) && reference.Category.Any(c => c.Coding.Any(x => x.Code == "clinical-note" && (x.System is null || x.System == UsCoreCategory)));

    public static bool IsDocument(F.DocumentReference reference) => Is(reference) && !IsNote(reference);

    public static bool Current(F.DocumentReference reference) =>
        reference.Status is null or F.DocumentReferenceStatus.Current;

    /// <summary>The note with <paramref name="text"/> (its attachment's text, markup removed) as its content.</summary>
    public static MedicalNote ToNote(F.DocumentReference reference, string careUnitId, string text)
    {
        ArgumentNullException.ThrowIfNull(reference);
        var signed = reference.DocStatus is F.CompositionStatus.Final or F.CompositionStatus.Amended;
        var date = reference.Date ?? reference.Meta?.LastUpdated ?? DateTimeOffset.UnixEpoch;
        return new MedicalNote(
            reference.Id ?? string.Empty,
            FhirIds.OfReference(reference.Subject?.Reference, "Patient") ?? string.Empty,
            careUnitId,
            "leyr_unstructured",
            reference.Description ?? reference.Type?.Text ?? reference.Type?.Coding.Select(c => c.Display).FirstOrDefault(d => d is not null) ?? "Clinical note",
            new Dictionary<string, string>(StringComparer.Ordinal) { ["unstructured"] = text },
            reference.Author.Select(a => FhirIds.OfReference(a.Reference, "Practitioner")).FirstOrDefault(a => a is not null) ?? string.Empty,
            date,
            signed,
            signed ? date : null);
    }

    public static DocumentInfo ToDocument(F.DocumentReference reference, string careUnitId)
    {
        ArgumentNullException.ThrowIfNull(reference);
        return FhirMapping.ToDocument(reference) with { CareUnitId = careUnitId };
    }

    /// <summary>The text of an attachment's bytes: HTML and XML reduced to their text, anything else as UTF-8.</summary>
    public static string Text(byte[] bytes, string? contentType)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        var text = Encoding.UTF8.GetString(bytes);
        if (contentType is not null && (contentType.Contains("html", StringComparison.OrdinalIgnoreCase) || contentType.Contains("xml", StringComparison.OrdinalIgnoreCase)))
        {
            text = WebUtility.HtmlDecode(Tags().Replace(Blocks().Replace(text, "\n"), string.Empty));
        }

        return Blank().Replace(text, "\n\n").Trim();
    }

    [GeneratedRegex("<(br|/p|/div|/li|/h[1-6]|/tr)\\b[^>]*>", RegexOptions.IgnoreCase)]
    private static partial Regex Blocks();

    [GeneratedRegex("<[^>]*>")]
    private static partial Regex Tags();

    [GeneratedRegex("\\n\\s*\\n\\s*(\\n\\s*)+")]
    private static partial Regex Blank();
}
