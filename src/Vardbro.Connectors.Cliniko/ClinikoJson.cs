namespace Vardbro.Connectors.Cliniko;

/// <summary>Reading Cliniko's JSON leniently: a missing or null field is null, never an exception.</summary>
internal static class ClinikoJson
{
    public static string? Str(this JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value)
            ? value.ValueKind switch
            {
                JsonValueKind.String => value.GetString(),
                JsonValueKind.Number => value.GetRawText(),
                _ => null,
            }
            : null;

    /// <summary>A non-blank string field, trimmed.</summary>
    public static string? Text(this JsonElement element, string name) =>
        element.Str(name) is { } s && !string.IsNullOrWhiteSpace(s) ? s.Trim() : null;

    public static bool Bool(this JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.True;

    public static int? Int(this JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var n) ? n : null;

    public static DateTimeOffset? Instant(this JsonElement element, string name) =>
        element.Str(name) is { } s && DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var value) ? value : null;

    public static DateOnly? Date(this JsonElement element, string name) =>
        element.Str(name) is { } s && DateOnly.TryParseExact(s, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var value) ? value : null;

    /// <summary>The id of a linked record: <c>"practitioner": {"links": {"self": ".../practitioners/123"}}</c>.</summary>
    public static string? LinkedId(this JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var link) && link.ValueKind == JsonValueKind.Object
        && link.TryGetProperty("links", out var links) && links.ValueKind == JsonValueKind.Object
            ? ClinikoIds.OfLink(links.Str("self"))
            : null;

    public static string Id(this JsonElement element) =>
        element.Str("id") is { } id && ClinikoIds.IsValid(id) ? id : throw new EmrBadAnswerException("The EMR answered a record without a usable id.");

    /// <summary>A UTC instant as Cliniko expects it (readme.md "Dates and Times").</summary>
    public static string Utc(DateTimeOffset value) => value.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    public static string Day(DateOnly value) => value.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    /// <summary>A <c>q[]</c> filter, escaped for the query string.</summary>
    public static string Q(string filter) => "q%5B%5D=" + Uri.EscapeDataString(filter);
}
