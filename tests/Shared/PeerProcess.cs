using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Vardbro.Tests.Peers;

/// <summary>
/// A test peer's process (<c>tests/&lt;name&gt;/start.sh PORT [ARGS]</c>) on a free loopback port, ready
/// when it prints its "listening" line, with an HTTP client for its control endpoints. Shared by
/// every peer harness.
/// </summary>
public sealed class PeerProcess : IAsyncDisposable
{
    private readonly Process process;

    private PeerProcess(Process process, int port)
    {
        this.process = process;
        Port = port;
        Control = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/"), Timeout = TimeSpan.FromSeconds(30) };
    }

    public int Port { get; }

    /// <summary>A client on the peer's root, for its control endpoints.</summary>
    public HttpClient Control { get; }

    public bool IsRunning => !process.HasExited;

    /// <summary>
    /// Starts <c>tests/<paramref name="folder"/>/start.sh</c>; a port found free can be taken (by another
    /// server, or as the local end of an outgoing connection) before the peer binds it: then it starts
    /// again on another.
    /// </summary>
    public static async Task<PeerProcess> StartAsync(
        string folder, string readyLine, IEnumerable<string>? args = null, IReadOnlyDictionary<string, string>? environment = null, TimeSpan? readyWithin = null)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await StartOnAsync(FreePort(), folder, readyLine, args ?? [], environment, readyWithin ?? TimeSpan.FromMinutes(3));
            }
            catch (PortTakenException) when (attempt < 5)
            {
            }
        }
    }

    private static async Task<PeerProcess> StartOnAsync(
        int port, string folder, string readyLine, IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment, TimeSpan readyWithin)
    {
        var script = Path.Combine(RepositoryRoot(), "tests", folder, "start.sh");
        var info = new ProcessStartInfo("bash", [script, port.ToString(System.Globalization.CultureInfo.InvariantCulture), .. args])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[key] = value;
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException($"Could not start the {folder}.");
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var errors = new System.Collections.Concurrent.ConcurrentQueue<string>();
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data?.StartsWith(readyLine, StringComparison.Ordinal) == true)
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
                : new InvalidOperationException($"The {folder} exited: " + output));
        };
        process.EnableRaisingEvents = true;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        // The first start may install the peer's npm packages.
        try
        {
            await ready.Task.WaitAsync(readyWithin);
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

        return new PeerProcess(process, port);
    }

    /// <summary>POSTs to a control endpoint; anything but 200/204 is a failed test setup.</summary>
    public async Task PostAsync(string path, HttpContent? body = null)
    {
        using var response = await Control.PostAsync(new Uri(path, UriKind.Relative), body);
        if (response.StatusCode != HttpStatusCode.OK && response.StatusCode != HttpStatusCode.NoContent)
        {
            throw new InvalidOperationException($"Peer control {path}: HTTP {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }
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
        Control.Dispose();
    }

    private sealed class PortTakenException(string message) : Exception(message);

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
