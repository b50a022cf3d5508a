using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
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

    private readonly Process process;
    private readonly HttpClient control;

    private FhirPeer(Process process, int port)
    {
        this.process = process;
        Port = port;
        control = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/"), Timeout = TimeSpan.FromSeconds(30) };
    }

    public int Port { get; }

    public string BaseUrl => $"http://127.0.0.1:{Port}/fhir/R4";

    public bool IsRunning => !process.HasExited;

    /// <summary>
    /// Starts the peer with one of its profiles (tests/fhir-peer/README.md): <c>default</c> (lenient,
    /// Medplum's own behaviour), <c>oracle</c> (Oracle Health Millennium as documented) or <c>epic</c>
    /// (an Argonaut <c>$find</c>/<c>$book</c> scheduling server); <paramref name="maxCount"/> caps every
    /// page the oracle profile returns.
    /// </summary>
    public static async Task<FhirPeer> StartAsync(string profile = "default", int? maxCount = null)
    {
        // A port found free can be taken (by another server, or as the local end of an outgoing
        // connection) before the peer binds it: then start again on another.
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await StartOnAsync(FreePort(), profile, maxCount);
            }
            catch (PortTakenException) when (attempt < 5)
            {
            }
        }
    }

    private static async Task<FhirPeer> StartOnAsync(int port, string profile, int? maxCount)
    {
        var script = Path.Combine(RepositoryRoot(), "tests", "fhir-peer", "start.sh");
        var info = new ProcessStartInfo("bash", [script, port.ToString(System.Globalization.CultureInfo.InvariantCulture), profile])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (maxCount is { } cap)
        {
            info.Environment["FHIR_PEER_MAX_COUNT"] = cap.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        var process = Process.Start(info) ?? throw new InvalidOperationException("Could not start the FHIR peer.");
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var errors = new System.Collections.Concurrent.ConcurrentQueue<string>();
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data?.StartsWith("fhir-peer listening", StringComparison.Ordinal) == true)
            {
                ready.TrySetResult();
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                errors.Enqueue(e.Data);
            }
        };
        process.Exited += (_, _) =>
        {
            if (ready.Task.IsCompleted)
            {
                return; // stopped after it was ready (or given up on): nothing waits for this
            }

            try
            {
                process.WaitForExit(); // lets the error stream drain, for the message below
            }
            catch (Exception ex) when (ex is InvalidOperationException or ObjectDisposedException)
            {
            }

            var output = string.Join('\n', errors);
            ready.TrySetException(output.Contains("EADDRINUSE", StringComparison.Ordinal)
                ? new PortTakenException(output)
                : new InvalidOperationException("The FHIR peer exited: " + output));
        };
        process.EnableRaisingEvents = true;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        // The first start may install the peer's npm packages.
        try
        {
            await ready.Task.WaitAsync(TimeSpan.FromMinutes(3));
        }
        catch
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }

            process.Dispose();
            throw;
        }

        return new FhirPeer(process, port);
    }

    private sealed class PortTakenException(string message) : Exception(message);

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
        using var document = JsonDocument.Parse(await control.GetStringAsync(new Uri("__control/requests", UriKind.Relative)));
        return document.RootElement.EnumerateArray()
            .Select(r => (r.GetProperty("method").GetString()!, r.GetProperty("url").GetString()!, r.GetProperty("status").ValueKind == JsonValueKind.Number ? r.GetProperty("status").GetInt32() : (int?)null))
            .ToList();
    }

    /// <summary>Stops the server (SIGKILL), as a crashed or unreachable EHR.</summary>
    public async Task StopAsync()
    {
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        process.Dispose();
        control.Dispose();
    }

    private async Task PostAsync(string path)
    {
        using var response = await control.PostAsync(new Uri(path, UriKind.Relative), null);
        if (response.StatusCode != HttpStatusCode.OK && response.StatusCode != HttpStatusCode.NoContent)
        {
            throw new InvalidOperationException($"FHIR peer control {path}: HTTP {(int)response.StatusCode}");
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Vardbro.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Vardbro.slnx not found above " + AppContext.BaseDirectory);
    }
}
