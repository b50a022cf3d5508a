using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Hl7.Fhir.Serialization;
using Polly.Timeout;
using F = Hl7.Fhir.Model;

namespace Vardbro.Connectors.Fhir;

/// <summary>
/// The FHIR REST calls the connector makes, and the one place that turns the server's failures into
/// the outcomes of DESIGN.md: down → unavailable (503), too slow → timed out (504), an answer that
/// makes no sense → bad answer (502), a refusal → BAD_INPUT with the server's message in emr_error.
/// Retries of reads live in the HttpClient's pipeline; writes are sent once.
/// </summary>
internal sealed partial class FhirHttp(HttpClient client, FhirSettings settings)
{
    public const string FhirJson = "application/fhir+json";

    /// <summary>Lenient: a real server's extra or odd elements must not break a read.</summary>
    internal static readonly JsonSerializerOptions Json = new JsonSerializerOptions().ForFhir(F.ModelInfo.ModelInspector).UsingMode(DeserializationMode.Ostrich);

    /// <summary>The resource at <paramref name="path"/>, or null when the server has none (404/410).</summary>
    public async Task<T?> ReadAsync<T>(string path, CancellationToken cancellationToken)
        where T : F.Resource
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        using var response = await SendAsync(request, cancellationToken);
        if (response.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.Gone)
        {
            return null;
        }

        await EnsureSuccessAsync(response, cancellationToken);
        return await ParseAsync<T>(response, cancellationToken);
    }

    /// <summary>
    /// Every match of <paramref name="query"/> (<c>Type?param=…</c>), following the server's <c>next</c>
    /// links to the end. A search that runs past <see cref="FhirSettings.MaxPages"/> pages is a bad
    /// answer naming that setting: never a silent cut.
    /// </summary>
    public async Task<List<T>> SearchAllAsync<T>(string query, CancellationToken cancellationToken)
        where T : F.Resource
    {
        var results = new List<T>();
        string? next = query;
        for (var page = 0; next is not null; page++)
        {
            if (page == settings.MaxPages)
            {
                throw new EmrBadAnswerException($"The EMR's answer to a {typeof(T).Name} search runs past {settings.MaxPages} pages; raise Emrs:{settings.Code}:MaxPages if that is expected.");
            }

            var bundle = await SearchAsync(next, cancellationToken);
            results.AddRange(Matches<T>(bundle));
            next = NextLink(bundle);
        }

        return results;
    }

    /// <summary>The first page's matches only: for lookups that want one match (a national id).</summary>
    public async Task<List<T>> SearchFirstPageAsync<T>(string query, CancellationToken cancellationToken)
        where T : F.Resource => Matches<T>(await SearchAsync(query, cancellationToken));

    /// <summary>The resources a search page matched (not those it included).</summary>
    public static List<T> Matches<T>(F.Bundle bundle)
        where T : F.Resource
    {
        ArgumentNullException.ThrowIfNull(bundle);
        return bundle.Entry.Where(e => e.Search?.Mode is null or F.Bundle.SearchEntryMode.Match).Select(e => e.Resource).OfType<T>().ToList();
    }

    /// <summary>
    /// The page's <c>next</c> link, relative to the server's base; null on the last page. A link to
    /// anywhere but this server's base is a bad answer: Vardbro never follows a server elsewhere.
    /// </summary>
    public string? NextLink(F.Bundle bundle)
    {
        ArgumentNullException.ThrowIfNull(bundle);
        var url = bundle.Link.FirstOrDefault(l => l.Relation == "next")?.Url;
        return string.IsNullOrEmpty(url) ? null : Relative(url) ?? throw new EmrBadAnswerException("The EMR's next-page link points away from its base URL.");
    }

    /// <summary><paramref name="url"/> relative to the server's base; null when it is not below it.</summary>
    public string? Relative(string url)
    {
        ArgumentNullException.ThrowIfNull(url);
        if (!Uri.TryCreate(settings.BaseUrl, url, out var absolute) || absolute.UserInfo.Length > 0)
        {
            return null;
        }

        var bases = settings.BaseUrl.AbsoluteUri;
        var text = absolute.AbsoluteUri;
        return text.StartsWith(bases, StringComparison.Ordinal) && text.Length > bases.Length && absolute.Fragment.Length == 0
            ? text[bases.Length..]
            : null;
    }

    /// <summary>One page of a search.</summary>
    public async Task<F.Bundle> SearchAsync(string query, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, query);
        using var response = await SendAsync(request, cancellationToken);
        await EnsureSuccessAsync(response, cancellationToken);
        return await ParseAsync<F.Bundle>(response, cancellationToken);
    }

    /// <summary>
    /// POSTs <paramref name="resource"/>; with <paramref name="ifNoneExist"/> a conditional create
    /// that returns the existing match instead (Created is then false).
    /// </summary>
    public async Task<(T Resource, bool Created)> CreateAsync<T>(T resource, string? ifNoneExist, CancellationToken cancellationToken)
        where T : F.Resource
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, resource.TypeName) { Content = Body(resource) };
        request.Headers.Add("Prefer", "return=representation");
        if (ifNoneExist is not null)
        {
            request.Headers.TryAddWithoutValidation("If-None-Exist", ifNoneExist);
        }

        using var response = await SendAsync(request, cancellationToken);
        await EnsureSuccessAsync(response, cancellationToken);
        var created = response.StatusCode == HttpStatusCode.Created;
        var body = await ParseOrNullAsync<T>(response, cancellationToken);
        if (body is not null)
        {
            return (body, created);
        }

        // A server that answers "return=minimal" anyway says where the resource is.
        var location = response.Headers.Location?.ToString()
            ?? throw new EmrBadAnswerException($"The EMR created a {resource.TypeName} but returned neither it nor its location.");
        return (await ReadAsync<T>(location, cancellationToken) ?? throw new EmrBadAnswerException($"The EMR's new {resource.TypeName} could not be read back."), created);
    }

    /// <summary>
    /// PUTs <paramref name="resource"/>. With <paramref name="ifMatchVersion"/> the update only happens
    /// if the server's version is still that one; otherwise <see cref="FhirVersionConflictException"/>.
    /// </summary>
    public async Task<T> UpdateAsync<T>(T resource, string? ifMatchVersion, CancellationToken cancellationToken)
        where T : F.Resource
    {
        using var request = new HttpRequestMessage(HttpMethod.Put, $"{resource.TypeName}/{resource.Id}") { Content = Body(resource) };
        return await SendVersionedAsync<T>(request, ifMatchVersion, $"{resource.TypeName}/{resource.Id}", cancellationToken);
    }

    /// <summary>
    /// Applies a JSON Patch (RFC 6902) to <paramref name="path"/> if the server's version is still
    /// <paramref name="ifMatchVersion"/> (<see cref="FhirVersionConflictException"/> otherwise), and
    /// returns the resource as it is afterwards (read back where the answer has no body).
    /// </summary>
    public async Task<T> PatchAsync<T>(string path, IEnumerable<object> operations, string? ifMatchVersion, CancellationToken cancellationToken)
        where T : F.Resource
    {
        using var request = new HttpRequestMessage(HttpMethod.Patch, path)
        {
            Content = new StringContent(JsonSerializer.Serialize(operations), Encoding.UTF8),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json-patch+json");
        return await SendVersionedAsync<T>(request, ifMatchVersion, path, cancellationToken);
    }

    /// <summary>
    /// Sends a change conditional on <paramref name="ifMatchVersion"/> (a stale version is
    /// <see cref="FhirVersionConflictException"/>) and returns the resource as it is afterwards, read
    /// back from <paramref name="path"/> where the answer has no body.
    /// </summary>
    private async Task<T> SendVersionedAsync<T>(HttpRequestMessage request, string? ifMatchVersion, string path, CancellationToken cancellationToken)
        where T : F.Resource
    {
        request.Headers.Add("Prefer", "return=representation");
        if (ifMatchVersion is not null)
        {
            request.Headers.TryAddWithoutValidation("If-Match", $"W/\"{ifMatchVersion}\"");
        }

        using var response = await SendAsync(request, cancellationToken);
        if (response.StatusCode is HttpStatusCode.PreconditionFailed or HttpStatusCode.Conflict)
        {
            throw new FhirVersionConflictException();
        }

        await EnsureSuccessAsync(response, cancellationToken);
        return await ParseOrNullAsync<T>(response, cancellationToken)
            ?? await ReadAsync<T>(path, cancellationToken)
            ?? throw new EmrBadAnswerException($"The EMR's changed {typeof(T).Name} could not be read back.");
    }

    /// <summary>Invokes an operation (<c>Appointment/$find</c>, <c>Appointment/$book</c>) with a Parameters body; the answer as a Bundle.</summary>
    public async Task<F.Bundle> OperationAsync(string path, F.Parameters parameters, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = Body(parameters) };
        using var response = await SendAsync(request, cancellationToken);
        await EnsureSuccessAsync(response, cancellationToken);
        return await ParseOrNullAsync<F.Resource>(response, cancellationToken) switch
        {
            F.Bundle bundle => bundle,
            F.Resource single => new F.Bundle { Type = F.Bundle.BundleType.Collection, Entry = [new F.Bundle.EntryComponent { Resource = single }] },
            null => response.Headers.Location is { } location && await ReadAsync<F.Resource>(location.ToString(), cancellationToken) is { } made
                ? new F.Bundle { Type = F.Bundle.BundleType.Collection, Entry = [new F.Bundle.EntryComponent { Resource = made }] }
                : throw new EmrBadAnswerException($"The EMR answered {path} with nothing."),
        };
    }

    /// <summary>Deletes the resource; false when the server has none.</summary>
    public async Task<bool> DeleteAsync(string path, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Delete, path);
        using var response = await SendAsync(request, cancellationToken);
        if (response.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.Gone)
        {
            return false;
        }

        await EnsureSuccessAsync(response, cancellationToken);
        return true;
    }

    /// <summary>Creates every resource with one <c>batch</c> Bundle; any entry refused is a bad answer.</summary>
    public async Task BatchCreateAsync(IEnumerable<F.Resource> resources, CancellationToken cancellationToken)
    {
        var batch = new F.Bundle { Type = F.Bundle.BundleType.Batch };
        foreach (var resource in resources)
        {
            batch.Entry.Add(new F.Bundle.EntryComponent
            {
                Resource = resource,
                Request = new F.Bundle.RequestComponent { Method = F.Bundle.HTTPVerb.POST, Url = resource.TypeName },
            });
        }

        using var request = new HttpRequestMessage(HttpMethod.Post, string.Empty) { Content = Body(batch) };
        using var response = await SendAsync(request, cancellationToken);
        await EnsureSuccessAsync(response, cancellationToken);
        var answer = await ParseAsync<F.Bundle>(response, cancellationToken);
        if (answer.Entry.Count != batch.Entry.Count || answer.Entry.Any(e => e.Response?.Status is not { } status || !status.StartsWith('2')))
        {
            throw new EmrBadAnswerException("The EMR did not create every resource of a batch.");
        }
    }

    /// <summary>The server's CapabilityStatement; null when it serves none (any refusal of <c>metadata</c>).</summary>
    public async Task<F.CapabilityStatement?> CapabilityStatementAsync(CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "metadata");
        using var response = await SendAsync(request, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            return (int)response.StatusCode >= 500 ? throw new EmrBadAnswerException($"The EMR answered HTTP {(int)response.StatusCode} to metadata.") : null;
        }

        return await ParseOrNullAsync<F.CapabilityStatement>(response, cancellationToken);
    }

    /// <summary>The server's capability statement, as a readiness probe.</summary>
    public async Task<bool> PingAsync(CancellationToken cancellationToken)
    {
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "metadata");
            using var response = await SendAsync(request, cancellationToken);
            return response.IsSuccessStatusCode;
        }
        catch (EmrUnavailableException)
        {
            return false;
        }
        catch (EmrBadAnswerException)
        {
            return false;
        }
    }

    private async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(FhirJson));
        try
        {
            return await client.SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (TimeoutRejectedException ex)
        {
            throw new EmrUnavailableException("The EMR did not answer in time.", ex) { TimedOut = true };
        }
        catch (TaskCanceledException ex)
        {
            throw new EmrUnavailableException("The EMR did not answer in time.", ex) { TimedOut = true };
        }
        catch (HttpRequestException ex)
        {
            throw new EmrUnavailableException("The EMR cannot be reached.", ex);
        }
    }

    private static StringContent Body(F.Resource resource)
    {
        var content = new StringContent(JsonSerializer.Serialize(resource, Json), Encoding.UTF8);
        content.Headers.ContentType = new MediaTypeHeaderValue(FhirJson) { CharSet = "utf-8" };
        return content;
    }

    private async Task EnsureSuccessAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (response.IsSuccessStatusCode)
        {
            return;
        }

        var status = (int)response.StatusCode;
        if (status is 401 or 403 or 407)
        {
            // Vardbro's own credentials or grants at the EHR: the operator's to fix, not the client's.
            throw new EmrBadAnswerException($"The EMR refused Vardbro's credentials (HTTP {status}); check Emrs:{settings.Code}:Auth and what the EMR grants Vardbro.");
        }

        if (status >= 500 && status != 501 || status is 408 or 429)
        {
            throw new EmrBadAnswerException($"The EMR answered HTTP {status}.");
        }

        var (text, codes) = await OutcomeAsync(response, cancellationToken);

        // A capability the server lacks is nothing the client can fix by changing its request.
        if (status is 405 or 501 || codes.Contains("not-supported"))
        {
            throw new VardbroException(
                [new ApiError(ErrorCodes.NotSupported, $"The EMR does not offer this operation (HTTP {status}); emr_error has its reason.", "emr", text)]);
        }

        throw new VardbroException(
            [new ApiError(ErrorCodes.BadInput, $"The EMR refused the request (HTTP {status}); emr_error has its reason.", null, text)]);
    }

    /// <summary>The OperationOutcome's issue texts, with anything that looks like a personal number removed.</summary>
    private static async Task<(string Text, HashSet<string> Codes)> OutcomeAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var fallback = $"HTTP {(int)response.StatusCode}";
        try
        {
            var outcome = await ParseOrNullAsync<F.OperationOutcome>(response, cancellationToken);
            var text = outcome is null
                ? null
                : string.Join("; ", outcome.Issue.Select(i => i.Details?.Text ?? i.Diagnostics ?? i.Code?.ToString()).Where(t => !string.IsNullOrWhiteSpace(t)));
            var codes = outcome?.Issue.Select(i => i.CodeElement?.JsonValue as string).OfType<string>().ToHashSet(StringComparer.Ordinal) ?? [];
            return (Redact(string.IsNullOrWhiteSpace(text) ? fallback : text), codes);
        }
        catch (EmrBadAnswerException)
        {
            return (fallback, []);
        }
    }

    /// <summary>Personal numbers of any of the supported kinds (6–12 digits with an optional separator) become "[redacted]".</summary>
    internal static string Redact(string text) => PersonalNumberLike().Replace(text, "[redacted]");

    [GeneratedRegex(@"(?<!\d)(\d{6}|\d{8})[-+ ]?\d{4}(?!\d)|(?<!\d)\d{3}[ -]?\d{3}[ -]?\d{4}(?!\d)|(?<!\d)\d{6}[ ]?\d{5}(?!\d)")]
    private static partial Regex PersonalNumberLike();

    private static async Task<T> ParseAsync<T>(HttpResponseMessage response, CancellationToken cancellationToken)
        where T : F.Resource =>
        await ParseOrNullAsync<T>(response, cancellationToken)
            ?? throw new EmrBadAnswerException($"The EMR answered without a {typeof(T).Name}.");

    private static async Task<T?> ParseOrNullAsync<T>(HttpResponseMessage response, CancellationToken cancellationToken)
        where T : F.Resource
    {
        var bytes = await response.Content.ReadAsByteArrayAsync(cancellationToken);
        if (bytes.Length == 0)
        {
            return null;
        }

        F.Resource? resource;
        try
        {
            resource = JsonSerializer.Deserialize<F.Resource>(bytes, Json);
        }
        catch (JsonException ex)
        {
            throw new EmrBadAnswerException("The EMR's answer is not FHIR JSON.", ex);
        }
        catch (FormatException ex)
        {
            throw new EmrBadAnswerException("The EMR's answer is not FHIR JSON.", ex);
        }

        return resource switch
        {
            T match => match,
            null => null,
            _ => throw new EmrBadAnswerException($"The EMR answered with a {resource.TypeName} where a {typeof(T).Name} was expected."),
        };
    }
}

/// <summary>The resource changed since it was read (HTTP 409/412 on a versioned update).</summary>
internal sealed class FhirVersionConflictException : Exception
{
    public FhirVersionConflictException()
        : base("The resource was changed by someone else.")
    {
    }
}
