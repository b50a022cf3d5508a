using Microsoft.Extensions.Logging;

namespace Vardbro.Connectors.Cliniko;

/// <summary>
/// The REST calls the connector makes, and the one place that turns Cliniko's failures into the
/// outcomes of DESIGN.md: unreachable → 503, too slow → 504, 5xx/401/403 or an answer that makes no
/// sense → 502 (with an operator log line), 400/422 → BAD_INPUT with Cliniko's messages in
/// emr_error (personal numbers removed). Every call carries one deadline of TimeoutSeconds.
/// </summary>
internal sealed partial class ClinikoHttp(ClinikoTransport transport, TimeProvider time, ILogger logger)
{
    /// <summary>Cliniko's largest page (readme.md "Pagination").</summary>
    public const int MaxPerPage = 100;

    private string Emr => transport.Settings.Code;

    /// <summary>The record at <paramref name="path"/>, or null when Cliniko has none (404).</summary>
    public async Task<JsonElement?> GetAsync(string path, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(HttpMethod.Get, path, null, cancellationToken);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }

        await EnsureSuccessAsync(response, HttpMethod.Get, path, cancellationToken);
        return await ParseAsync(response, cancellationToken);
    }

    /// <summary>
    /// Every item of a list (<paramref name="key"/> in Cliniko's envelope), following <c>links.next</c>
    /// up to <paramref name="maxPages"/> pages of <see cref="MaxPerPage"/>; a 404 (the parent is gone) is an empty list.
    /// </summary>
    public async Task<List<JsonElement>> ListAsync(string path, string key, CancellationToken cancellationToken, int maxPages = 50)
    {
        var items = new List<JsonElement>();
        string? next = WithQuery(path, "per_page=" + MaxPerPage);
        for (var page = 0; next is not null && page < maxPages; page++)
        {
            var answer = await GetAsync(next, cancellationToken);
            if (answer is not { } body)
            {
                break;
            }

            items.AddRange(Items(body, key));
            next = NextLink(body);
        }

        return items;
    }

    /// <summary>One page: its items, the total Cliniko reports and whether another page follows.</summary>
    public async Task<(List<JsonElement> Items, int Total, bool More)> PageAsync(string path, string key, int page, int perPage, CancellationToken cancellationToken)
    {
        var body = await GetAsync(WithQuery(path, $"page={page}&per_page={perPage}"), cancellationToken);
        if (body is not { } answer)
        {
            return ([], 0, false);
        }

        var total = answer.TryGetProperty("total_entries", out var t) && t.TryGetInt32(out var n) ? n : 0;
        return (Items(answer, key).ToList(), total, NextLink(answer) is not null);
    }

    public async Task<JsonElement> PostAsync(string path, JsonObject body, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(HttpMethod.Post, path, body, cancellationToken);
        await EnsureSuccessAsync(response, HttpMethod.Post, path, cancellationToken);
        return await ParseAsync(response, cancellationToken);
    }

    /// <summary>PATCHes <paramref name="path"/>; the record Cliniko returns, or null for a 204.</summary>
    public async Task<JsonElement?> PatchAsync(string path, JsonObject body, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(HttpMethod.Patch, path, body, cancellationToken);
        await EnsureSuccessAsync(response, HttpMethod.Patch, path, cancellationToken);
        return response.StatusCode == HttpStatusCode.NoContent ? null : await ParseAsync(response, cancellationToken);
    }

    /// <summary>False when Cliniko has no such record.</summary>
    public async Task<bool> DeleteAsync(string path, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(HttpMethod.Delete, path, null, cancellationToken);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }

        await EnsureSuccessAsync(response, HttpMethod.Delete, path, cancellationToken);
        return true;
    }

    /// <summary>
    /// The bytes at <paramref name="path"/>: served directly, or (as Cliniko serves attachments) a
    /// redirect to a presigned URL that is fetched without Cliniko's credentials. Null on 404.
    /// </summary>
    public async Task<byte[]?> DownloadAsync(string path, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(HttpMethod.Get, path, null, cancellationToken);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }

        if (response.StatusCode is HttpStatusCode.Found or HttpStatusCode.SeeOther or HttpStatusCode.TemporaryRedirect or HttpStatusCode.MovedPermanently)
        {
            var location = response.Headers.Location ?? throw Bad(HttpMethod.Get, path, (int)response.StatusCode, "a redirect without a location");
            if (!location.IsAbsoluteUri)
            {
                location = new Uri(transport.Settings.BaseUrl, location);
            }

            return await StorageAsync(() => transport.Storage.GetByteArrayAsync(location, cancellationToken), cancellationToken);
        }

        await EnsureSuccessAsync(response, HttpMethod.Get, path, cancellationToken);
        return await response.Content.ReadAsByteArrayAsync(cancellationToken);
    }

    /// <summary>A call to the file store (S3) an upload or download is handed to, with the same failure mapping.</summary>
    public async Task<T> StorageAsync<T>(Func<Task<T>> call, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(call);
        try
        {
            return await call();
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (TaskCanceledException ex)
        {
            throw new EmrUnavailableException("The EMR's file store did not answer in time.", ex) { TimedOut = true };
        }
        catch (HttpRequestException ex) when (ex.StatusCode is null)
        {
            ClinikoLog.Unreachable(logger, Emr, "file store: " + ex.HttpRequestError);
            throw new EmrUnavailableException("The EMR's file store cannot be reached.", ex);
        }
        catch (HttpRequestException ex)
        {
            ClinikoLog.BadAnswer(logger, Emr, (int)ex.StatusCode!.Value, "file store", "object");
            throw new EmrBadAnswerException($"The EMR's file store answered HTTP {(int)ex.StatusCode!.Value}.", ex);
        }
    }

    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, JsonObject? body, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, path);
        request.Options.Set(ClinikoRateLimitHandler.Deadline, time.GetUtcNow() + transport.Settings.Timeout);
        if (body is not null)
        {
            request.Content = new StringContent(body.ToJsonString(), Encoding.UTF8, new MediaTypeHeaderValue("application/json"));
        }

        try
        {
            return await transport.Api.SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (TaskCanceledException ex)
        {
            throw new EmrUnavailableException("The EMR did not answer in time.", ex) { TimedOut = true };
        }
        catch (HttpRequestException ex)
        {
            ClinikoLog.Unreachable(logger, Emr, ex.HttpRequestError.ToString());
            throw new EmrUnavailableException("The EMR cannot be reached.", ex);
        }
    }

    private async Task EnsureSuccessAsync(HttpResponseMessage response, HttpMethod method, string path, CancellationToken cancellationToken)
    {
        if (response.IsSuccessStatusCode)
        {
            return;
        }

        var status = (int)response.StatusCode;
        if (status is 400 or 422 or 409)
        {
            var message = await MessageAsync(response, cancellationToken);
            throw new VardbroException([new ApiError(ErrorCodes.BadInput, $"The EMR refused the request (HTTP {status}); emr_error has its reason.", null, message)]);
        }

        if (status is 401 or 403)
        {
            ClinikoLog.Refused(logger, Emr, status, method.Method, ResourceOf(path));
        }
        else
        {
            ClinikoLog.BadAnswer(logger, Emr, status, method.Method, ResourceOf(path));
        }

        throw new EmrBadAnswerException($"The EMR answered HTTP {status}.");
    }

    private EmrBadAnswerException Bad(HttpMethod method, string path, int status, string what)
    {
        ClinikoLog.BadAnswer(logger, Emr, status, method.Method, ResourceOf(path));
        return new EmrBadAnswerException($"The EMR answered with {what}.");
    }

    /// <summary>The kind of record a path names, e.g. <c>individual_appointments</c>: no ids, no query (ids can be personal).</summary>
    private static string ResourceOf(string path)
    {
        var bare = path.Split('?', 2)[0];
        if (Uri.TryCreate(bare, UriKind.Absolute, out var absolute))
        {
            bare = absolute.AbsolutePath;
        }

        return string.Join('/', bare.Split('/', StringSplitOptions.RemoveEmptyEntries).Where(s => !s.All(char.IsAsciiDigit) && s != "v1").Select(s => s.Length > 40 ? "…" : s));
    }

    /// <summary>Cliniko's refusal: <c>{"message"}</c> and/or <c>{"errors": {field: text}}</c>, personal numbers removed.</summary>
    private static async Task<string> MessageAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var fallback = $"HTTP {(int)response.StatusCode}";
        try
        {
            var text = await response.Content.ReadAsStringAsync(cancellationToken);
            using var document = JsonDocument.Parse(text);
            var parts = new List<string>();
            if (document.RootElement.ValueKind == JsonValueKind.Object)
            {
                if (document.RootElement.TryGetProperty("errors", out var errors) && errors.ValueKind == JsonValueKind.Object)
                {
                    foreach (var error in errors.EnumerateObject())
                    {
                        var value = error.Value.ValueKind == JsonValueKind.Array
                            ? string.Join(", ", error.Value.EnumerateArray().Select(v => v.ToString()))
                            : error.Value.ToString();
                        parts.Add($"{error.Name} {value}");
                    }
                }

                if (document.RootElement.TryGetProperty("message", out var message) && message.ValueKind == JsonValueKind.String)
                {
                    parts.Insert(0, message.GetString()!);
                }
            }

            return Redact(parts.Count == 0 ? fallback : string.Join("; ", parts));
        }
        catch (JsonException)
        {
            return fallback;
        }
    }

    private async Task<JsonElement> ParseAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        try
        {
            var bytes = await response.Content.ReadAsByteArrayAsync(cancellationToken);
            using var document = JsonDocument.Parse(bytes);
            return document.RootElement.Clone();
        }
        catch (JsonException ex)
        {
            ClinikoLog.BadAnswer(logger, Emr, (int)response.StatusCode, "parse", "not JSON");
            throw new EmrBadAnswerException("The EMR's answer is not JSON.", ex);
        }
    }

    private static JsonElement.ArrayEnumerator Items(JsonElement body, string key) =>
        body.ValueKind == JsonValueKind.Object && body.TryGetProperty(key, out var items) && items.ValueKind == JsonValueKind.Array
            ? items.EnumerateArray()
            : throw new EmrBadAnswerException($"The EMR answered a list without '{key}'.");

    private static string? NextLink(JsonElement body) =>
        body.TryGetProperty("links", out var links) && links.ValueKind == JsonValueKind.Object
        && links.TryGetProperty("next", out var next) && next.ValueKind == JsonValueKind.String
            ? next.GetString()
            : null;

    private static string WithQuery(string path, string query) => path + (path.Contains('?', StringComparison.Ordinal) ? "&" : "?") + query;

    /// <summary>Personal numbers of any of the supported kinds (6–12 digits with an optional separator) become "[redacted]".</summary>
    internal static string Redact(string text) => PersonalNumberLike().Replace(text, "[redacted]");

    [GeneratedRegex(@"(?<!\d)(\d{6}|\d{8})[-+ ]?\d{4}(?!\d)|(?<!\d)\d{3}[ -]?\d{3}[ -]?\d{4}(?!\d)|(?<!\d)\d{6}[ ]?\d{5}(?!\d)")]
    private static partial Regex PersonalNumberLike();
}
