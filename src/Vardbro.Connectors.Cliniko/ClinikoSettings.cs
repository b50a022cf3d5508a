namespace Vardbro.Connectors.Cliniko;

/// <summary>One Cliniko EMR's settings, from <c>Emrs:&lt;code&gt;:…</c>.</summary>
/// <param name="Code">The EMR code (named in operator log lines).</param>
/// <param name="BaseUrl">The API base, e.g. <c>https://api.uk1.cliniko.com/v1/</c> (always ends with '/').</param>
/// <param name="ApiKey">The account's API key (HTTP basic user name).</param>
/// <param name="UserAgent">The application's <c>NAME (EMAIL)</c>, which Cliniko requires.</param>
/// <param name="RequestsPerMinute">The most requests this process sends for this EMR in any 60 seconds.</param>
/// <param name="Timeout">The longest one call may take: retries, rate-limit waits and all.</param>
/// <param name="ReadRetries">How many times a failed read is retried (writes never are).</param>
/// <param name="NoteTemplates">Leyr note template id → Cliniko treatment note template id.</param>
/// <param name="NationalIdType">The national id type kept in the patient's <c>old_reference_id</c>, if any.</param>
public sealed partial record ClinikoSettings(
    string Code,
    Uri BaseUrl,
    string ApiKey,
    string UserAgent,
    int RequestsPerMinute,
    TimeSpan Timeout,
    int ReadRetries,
    IReadOnlyDictionary<string, string> NoteTemplates,
    IdType? NationalIdType)
{
    /// <summary>The one patient field Cliniko lets a client search by that can hold a national id.</summary>
    public const string OldReferenceIdField = "old_reference_id";

    /// <summary>Hides the key from logs and exception messages that print the record.</summary>
    public override string ToString() => $"ClinikoSettings {{ Code = {Code}, BaseUrl = {BaseUrl} }}";

    /// <summary>Reads the settings through <paramref name="get"/> (a key below <c>Emrs:&lt;code&gt;</c>); problems are listed, not thrown.</summary>
    public static (ClinikoSettings? Settings, IReadOnlyList<string> Problems) Read(string code, Func<string, string?> get)
    {
        ArgumentNullException.ThrowIfNull(get);
        var problems = new List<string>();
        var key = get("ApiKey");
        var keyPath = get("ApiKeyPath");
        if (string.IsNullOrWhiteSpace(key) && !string.IsNullOrWhiteSpace(keyPath))
        {
            try
            {
                key = File.ReadAllText(keyPath).Trim();
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
            {
                problems.Add($"Emrs:{code}:ApiKeyPath cannot be read ({ex.GetType().Name}).");
            }
        }

        if (string.IsNullOrWhiteSpace(key))
        {
            if (string.IsNullOrWhiteSpace(keyPath))
            {
                problems.Add($"Emrs:{code}:ApiKey (or Emrs:{code}:ApiKeyPath, a file holding it) is required for a cliniko EMR.");
            }
            else if (problems.Count == 0)
            {
                problems.Add($"Emrs:{code}:ApiKeyPath names an empty file.");
            }
        }
        else if (key.Any(c => char.IsControl(c) || c == ':'))
        {
            problems.Add($"Emrs:{code}:ApiKey contains characters an API key cannot have.");
        }

        var userAgent = get("UserAgent");
        if (string.IsNullOrWhiteSpace(userAgent))
        {
            problems.Add($"Emrs:{code}:UserAgent is required for a cliniko EMR: Cliniko asks for \"NAME (EMAIL)\", e.g. \"Vardbro at Example Clinic (it@example.com)\".");
        }
        else if (userAgent.Any(char.IsControl))
        {
            problems.Add($"Emrs:{code}:UserAgent must be one line.");
        }

        Uri? baseUrl = null;
        var rawBase = get("BaseUrl");
        if (!string.IsNullOrWhiteSpace(rawBase))
        {
            if (!Uri.TryCreate(rawBase.EndsWith('/') ? rawBase : rawBase + "/", UriKind.Absolute, out baseUrl) || baseUrl.Scheme is not ("http" or "https"))
            {
                problems.Add($"Emrs:{code}:BaseUrl must be an absolute http(s) URL.");
            }
        }
        else if (!string.IsNullOrWhiteSpace(key))
        {
            baseUrl = DefaultBaseUrl(key);
        }

        var rpm = ConnectorSettings.Number(code, get, "RequestsPerMinute", 200, 1, 100_000, problems);
        var timeout = ConnectorSettings.Number(code, get, "TimeoutSeconds", 10, 1, 600, problems);
        var retries = ConnectorSettings.Number(code, get, "ReadRetries", 2, 0, 10, problems);
        var templates = ReadTemplates(code, get, problems);
        var nationalIdType = ReadNationalIdType(code, get, problems);

        return problems.Count > 0 || baseUrl is null || key is null || userAgent is null
            ? (null, problems)
            : (new ClinikoSettings(code, baseUrl, key, userAgent.Trim(), rpm, TimeSpan.FromSeconds(timeout), retries, templates, nationalIdType), problems);
    }

    /// <summary>
    /// guides/sharding.md: a key ends with its shard (<c>-uk1</c> → <c>https://api.uk1.cliniko.com</c>);
    /// a key without one is an <c>au1</c> key.
    /// </summary>
    internal static Uri DefaultBaseUrl(string apiKey)
    {
        var match = ShardSuffix().Match(apiKey);
        var shard = match.Success ? match.Groups[1].Value : "au1";
        return new Uri($"https://api.{shard}.cliniko.com/v1/");
    }

    [GeneratedRegex("-([a-z]{2}[0-9]{1,2})$")]
    private static partial Regex ShardSuffix();

    private static Dictionary<string, string> ReadTemplates(string code, Func<string, string?> get, List<string> problems)
    {
        var templates = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var template in Vardbro.Connectors.NoteTemplates.All)
        {
            var value = get("NoteTemplates:" + template.Id);
            if (string.IsNullOrWhiteSpace(value))
            {
                continue;
            }

            if (!ClinikoIds.IsValid(value))
            {
                problems.Add($"Emrs:{code}:NoteTemplates:{template.Id} must be a Cliniko treatment note template id (digits).");
                continue;
            }

            templates[template.Id] = value;
        }

        return templates;
    }

    /// <summary>
    /// Cliniko has no national id field. Patients are searchable by <c>old_reference_id</c> (a free
    /// text "reference from a previous system"), so an operator whose clinics keep the national id
    /// there maps one id type to it; custom patient fields cannot be searched and are not offered.
    /// </summary>
    private static IdType? ReadNationalIdType(string code, Func<string, string?> get, List<string> problems)
    {
        IdType? mapped = null;
        foreach (var type in IdTypes.National)
        {
            var field = get("PatientIdFields:" + IdTypes.Name(type));
            if (field is null)
            {
                continue;
            }

            if (field != OldReferenceIdField)
            {
                problems.Add($"Emrs:{code}:PatientIdFields:{IdTypes.Name(type)} can only be '{OldReferenceIdField}' (the one patient field Cliniko searches by).");
            }
            else if (mapped is not null)
            {
                problems.Add($"Emrs:{code}:PatientIdFields: only one id type can be kept in '{OldReferenceIdField}'.");
            }
            else
            {
                mapped = type;
            }
        }

        for (var i = 0; get($"PatientIdTypes:{i}") is { } name; i++)
        {
            if (IdTypes.TryParseName(name, out var type) && IdTypes.IsNational(type) && type != mapped)
            {
                problems.Add($"Emrs:{code}:PatientIdTypes lists {name}, which Cliniko does not hold; set Emrs:{code}:PatientIdFields:{name} = {OldReferenceIdField} if the clinics keep it there.");
            }
        }

        return mapped;
    }

}

/// <summary>Cliniko's ids: strings of digits (19 of them today), never numbers that a double would round.</summary>
internal static class ClinikoIds
{
    public static bool IsValid(string? id) => id is { Length: > 0 and <= 24 } && id.All(char.IsAsciiDigit);

    /// <summary>The last path segment of a link such as <c>…/practitioners/123</c>.</summary>
    public static string? OfLink(string? url)
    {
        if (string.IsNullOrEmpty(url))
        {
            return null;
        }

        var path = url.Split('?', 2)[0].TrimEnd('/');
        var id = path[(path.LastIndexOf('/') + 1)..];
        return IsValid(id) ? id : null;
    }
}
