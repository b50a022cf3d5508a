using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Vardbro.Tests.Peers;

/// <summary>
/// The Cliniko API imitation of <c>tests/cliniko-peer</c> (plain Node), started on a free port for the
/// life of a test class, with its control endpoints: reset, faults, delays, the request log, the
/// rate-limit report, settings, and changes made "directly in Cliniko".
/// </summary>
public sealed class ClinikoPeer : IAsyncDisposable
{
    public const string ApiKey = "MS0xLXZhcmRicm8tcGVlci1hbm5h-eu1";
    public const string ReceptionKey = "MS0yLXZhcmRicm8tcGVlci1yZWNlcHRpb24-eu1";
    public const string UserAgent = "Vardbro tests (tests@vardbro.example)";
    public const string Business = "1100000000000000001";
    public const string Anna = "1200000000000000001";
    public const string Erik = "1200000000000000002";
    public const string Maria = "1200000000000000003";
    public const string NotAtBusiness = "1200000000000000004";
    public const string Nybesok = "1300000000000000001";
    public const string Aterbesok = "1300000000000000002";
    public const string Intern = "1300000000000000003";
    public const string StandardTemplate = "1600000000000000001";
    public const string FollowUpTemplate = "1600000000000000002";
    public const string Tolvan = "1400000000000000001";
    public const string TolvanPersonalNumber = "191212121212";

    /// <summary>The seeded appointments (all in the past) and treatment note.</summary>
    public static readonly string[] SeededAppointments = ["1800000000000000001", "1800000000000000002", "1800000000000000003"];
    public const string SeededNote = "1900000000000000001";

    private readonly PeerProcess peer;

    private ClinikoPeer(PeerProcess peer) => this.peer = peer;

    public int Port => peer.Port;

    public string BaseUrl => $"http://127.0.0.1:{Port}/v1";

    private HttpClient Control => peer.Control;

    public static async Task<ClinikoPeer> StartAsync() =>
        new(await PeerProcess.StartAsync("cliniko-peer", "cliniko-peer listening", readyWithin: TimeSpan.FromSeconds(30)));

    /// <summary>Back to the seed: data, uploads, log, faults, rate windows and runtime settings.</summary>
    public Task ResetAsync() => PostAsync("__control/reset", null);

    /// <summary>The next <paramref name="count"/> requests (of <paramref name="method"/> under <paramref name="path"/>) answer <paramref name="status"/>.</summary>
    public Task FailAsync(int status, int count = 1, string? method = null, string? path = null, IReadOnlyDictionary<string, string>? headers = null, string? action = null, JsonNode? body = null)
    {
        var fault = new JsonObject { ["status"] = status, ["count"] = count };
        if (body is not null)
        {
            fault["body"] = body;
        }

        if (method is not null)
        {
            fault["method"] = method;
        }

        if (path is not null)
        {
            fault["path"] = path;
        }

        if (action is not null)
        {
            fault["action"] = action;
        }

        if (headers is not null)
        {
            var h = new JsonObject();
            foreach (var (k, v) in headers)
            {
                h[k] = v;
            }

            fault["headers"] = h;
        }

        return PostAsync("__control/fail", fault);
    }

    public Task DelayAsync(int milliseconds, int count = 1, string? method = null, string? path = null)
    {
        var body = new JsonObject { ["ms"] = milliseconds, ["count"] = count };
        if (method is not null)
        {
            body["method"] = method;
        }

        if (path is not null)
        {
            body["path"] = path;
        }

        return PostAsync("__control/delay", body);
    }

    public Task ClearFaultsAsync() => PostAsync("__control/clear-faults", null);

    public Task ClearRequestsAsync() => PostAsync("__control/requests/clear", null);

    /// <summary>Runtime settings (rpm, windowMs, retryAfter, strictUserAgent, processingMs, contentMode).</summary>
    public Task SettingsAsync(JsonObject settings) => PostAsync("__control/settings", settings);

    public Task SetRateLimitAsync(int rpm, int windowMs = 60_000, bool retryAfter = false) =>
        PostAsync("__control/rate-limit", new JsonObject { ["rpm"] = rpm, ["windowMs"] = windowMs, ["retryAfter"] = retryAfter });

    public Task ClearRateLimitAsync() => PostAsync("__control/rate-limit/clear", null);

    /// <summary>The rate-limit report: the most requests any window of any key saw, and how many were refused.</summary>
    public async Task<(int Rpm, int MaxCount, int TotalRejected)> RateLimitAsync()
    {
        using var document = JsonDocument.Parse(await Control.GetStringAsync(new Uri("__control/rate-limit", UriKind.Relative)));
        var root = document.RootElement;
        return (root.GetProperty("rpm").GetInt32(), root.GetProperty("maxCount").GetInt32(), root.GetProperty("totalRejected").GetInt32());
    }

    public sealed record LoggedRequest(string Method, string Path, string Query, int? Status, string? UserAgent, bool AuthValid, bool AcceptJson, bool RateLimited);

    /// <summary>The API and S3 requests the peer received since the last reset or clear.</summary>
    public async Task<IReadOnlyList<LoggedRequest>> RequestsAsync()
    {
        using var document = JsonDocument.Parse(await Control.GetStringAsync(new Uri("__control/requests", UriKind.Relative)));
        return document.RootElement.EnumerateArray().Select(r => new LoggedRequest(
            r.GetProperty("method").GetString()!,
            r.GetProperty("path").GetString()!,
            r.TryGetProperty("query", out var q) ? q.ToString() : string.Empty,
            r.TryGetProperty("status", out var s) && s.ValueKind == JsonValueKind.Number ? s.GetInt32() : null,
            r.TryGetProperty("user_agent", out var ua) && ua.ValueKind == JsonValueKind.String ? ua.GetString() : null,
            r.TryGetProperty("auth_valid", out var a) && a.ValueKind == JsonValueKind.True,
            r.TryGetProperty("accept_json", out var j) && j.ValueKind == JsonValueKind.True,
            r.TryGetProperty("rate_limited", out var rl) && rl.ValueKind == JsonValueKind.True)).ToList();
    }

    /// <summary>Books "directly in Cliniko", as the clinic's own UI would (no API, no rate limit).</summary>
    public async Task<string> BookDirectlyAsync(DateTimeOffset start, string patient, string practitioner, string type)
    {
        var body = new JsonObject
        {
            ["starts_at"] = start.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture),
            ["patient_id"] = patient,
            ["practitioner_id"] = practitioner,
            ["appointment_type_id"] = type,
            ["business_id"] = Business,
        };
        using var response = await Control.PostAsync(new Uri("__control/individual_appointments", UriKind.Relative), Json(body));
        response.EnsureSuccessStatusCode();
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return document.RootElement.GetProperty("id").GetString()!;
    }

    public Task ChangeAppointmentDirectlyAsync(string id, JsonObject fields) => PostAsync($"__control/individual_appointments/{id}", fields);

    public Task ChangePatientDirectlyAsync(string id, JsonObject fields) => PostAsync($"__control/patients/{id}", fields);

    /// <summary>A call to the peer's API as a client with the admin key (for arranging test data).</summary>
    public async Task<JsonElement?> ApiAsync(HttpMethod method, string path, JsonObject? body = null)
    {
        using var request = new HttpRequestMessage(method, $"{BaseUrl}/{path}");
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(ApiKey + ":")));
        request.Headers.TryAddWithoutValidation("User-Agent", UserAgent);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        if (body is not null)
        {
            request.Content = Json(body);
        }

        using var response = await Control.SendAsync(request);
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"Cliniko peer {method} {path}: HTTP {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }

        var text = await response.Content.ReadAsStringAsync();
        return text.Length == 0 ? null : JsonDocument.Parse(text).RootElement.Clone();
    }

    /// <summary>Stops the server (SIGKILL), as an unreachable Cliniko.</summary>
    public Task StopAsync() => peer.StopAsync();

    public ValueTask DisposeAsync() => peer.DisposeAsync();

    private Task PostAsync(string path, JsonObject? body) => peer.PostAsync(path, body is null ? null : Json(body));

    private static StringContent Json(JsonObject body) => new(body.ToJsonString(), Encoding.UTF8, "application/json");
}
