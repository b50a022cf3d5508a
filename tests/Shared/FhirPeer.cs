using System.Text.Json;

namespace Vardbro.Tests.Peers;

/// <summary>
/// The independent FHIR server of <c>tests/fhir-peer</c> (Medplum over memory), started on a free
/// port for the life of a test class, with its control endpoints for faults, delays and the log.
/// </summary>
public sealed class FhirPeer : IAsyncDisposable
{
    public const string CareUnit = "tolvan";
    public const string Anna = "anna-lindqvist";
    public const string Erik = "erik-sandberg";
    public const string GeneralService = "tolvan-general";
    public const string Tolvan = "tolvan-tolvansson";
    public const string TolvanPersonalNumber = "191212121212";

    private readonly PeerProcess peer;

    private FhirPeer(PeerProcess peer) => this.peer = peer;

    public int Port => peer.Port;

    public string BaseUrl => $"http://127.0.0.1:{Port}/fhir/R4";

    public bool IsRunning => peer.IsRunning;

    private HttpClient Control => peer.Control;

    /// <summary>
    /// Starts the peer with one of its profiles (tests/fhir-peer/README.md): <c>default</c> (lenient,
    /// Medplum's own behaviour), <c>oracle</c> (Oracle Health Millennium as documented) or <c>epic</c>
    /// (an Argonaut <c>$find</c>/<c>$book</c> scheduling server); <paramref name="maxCount"/> caps every
    /// page the oracle profile returns.
    /// </summary>
    public static async Task<FhirPeer> StartAsync(string profile = "default", int? maxCount = null) =>
        new(await PeerProcess.StartAsync(
            "fhir-peer", "fhir-peer listening", [profile],
            maxCount is { } cap ? new Dictionary<string, string> { ["FHIR_PEER_MAX_COUNT"] = cap.ToString(System.Globalization.CultureInfo.InvariantCulture) } : null));

    public Task ResetAsync() => PostAsync("__control/reset");

    /// <summary>The next <paramref name="count"/> requests (of <paramref name="method"/>, or any) answer <paramref name="status"/>.</summary>
    public Task FailAsync(string? method, int status, int count) =>
        PostAsync($"__control/fail?status={status}&count={count}" + (method is null ? string.Empty : "&method=" + method));

    public Task DelayAsync(int milliseconds, int count) => PostAsync($"__control/delay?ms={milliseconds}&count={count}");

    public Task ClearFaultsAsync() => PostAsync("__control/clear-faults");

    public Task ClearRequestsAsync() => PostAsync("__control/requests/clear");

    /// <summary>The FHIR requests the peer received since the last reset or clear.</summary>
    public async Task<IReadOnlyList<(string Method, string Url, int? Status)>> RequestsAsync()
    {
        using var document = JsonDocument.Parse(await Control.GetStringAsync(new Uri("__control/requests", UriKind.Relative)));
        return document.RootElement.EnumerateArray()
            .Select(r => (r.GetProperty("method").GetString()!, r.GetProperty("url").GetString()!, r.GetProperty("status").ValueKind == JsonValueKind.Number ? r.GetProperty("status").GetInt32() : (int?)null))
            .ToList();
    }

    /// <summary>
    /// The clinic books a free slot in its own EHR, outside the FHIR API (README "Control endpoints"):
    /// a booked Appointment with a new <c>meta.lastUpdated</c>; its id.
    /// </summary>
    public async Task<string> BookDirectlyAsync(string slotId, string patientId)
    {
        using var response = await Control.PostAsync(new Uri($"__control/ehr/book?slot={Uri.EscapeDataString(slotId)}&patient={Uri.EscapeDataString(patientId)}", UriKind.Relative), null);
        var text = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"Peer control ehr/book: HTTP {(int)response.StatusCode} {text}");
        }

        using var document = JsonDocument.Parse(text);
        return document.RootElement.GetProperty("appointment").GetString()!;
    }

    /// <summary>The clinic sets an appointment's FHIR status in its own EHR (a new version, a new <c>meta.lastUpdated</c>).</summary>
    public Task SetAppointmentStatusDirectlyAsync(string appointmentId, string status) =>
        PostAsync($"__control/ehr/appointment-status?id={Uri.EscapeDataString(appointmentId)}&status={Uri.EscapeDataString(status)}");

    /// <summary>The id of the seed's 30-minute slot of <paramref name="practitionerId"/> at <paramref name="localDay"/> <paramref name="hhmm"/> Stockholm time (README "Seed data").</summary>
    public static string SlotId(string practitionerId, DateOnly localDay, string hhmm) =>
        $"slot-{practitionerId}-{localDay:yyyyMMdd}-{hhmm}";

    /// <summary>Stops the server (SIGKILL), as a crashed or unreachable EHR.</summary>
    public Task StopAsync() => peer.StopAsync();

    public ValueTask DisposeAsync() => peer.DisposeAsync();

    private Task PostAsync(string path) => peer.PostAsync(path);
}
