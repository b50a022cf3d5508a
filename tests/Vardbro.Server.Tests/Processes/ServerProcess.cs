using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Vardbro.Server.Tests.Processes;

/// <summary>
/// The built server (<c>src/Vardbro.Server/bin/{configuration}/{tfm}/Vardbro.Server.dll</c>) as a
/// child process on a loopback port, for what <c>WebApplicationFactory</c> cannot show: a real
/// socket, a restart, a SIGKILL, several processes sharing one database. Its stdout and stderr are
/// kept for assertions. Several can run at once; each has its own port and working directory.
/// </summary>
public sealed class ServerProcess : IAsyncDisposable
{
    public const string AdminKey = "process-admin-key";
    public const string SandboxClientId = "sandbox-client";
    public const string SandboxSecret = "sandbox-secret";

    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(20);

    // Variables that would change how the child host behaves if they leaked from the test host
    // (launch settings, startup hooks, profilers/coverage collectors, GC and runtime knobs).
    private static readonly string[] DroppedPrefixes = ["ASPNETCORE_", "DOTNET_", "CORECLR_", "COMPlus_"];

    private readonly Process process;
    private readonly StringBuilder output = new();
    private readonly Lock outputLock = new();
    private readonly string workingDirectory;
    private readonly List<HttpClient> clients = [];

    private ServerProcess(Process process, string workingDirectory, Uri baseAddress)
    {
        this.process = process;
        this.workingDirectory = workingDirectory;
        BaseAddress = baseAddress;
    }

    public Uri BaseAddress { get; }

    public int ProcessId => process.Id;

    public bool HasExited => process.HasExited;

    /// <summary>The exit code once the process has ended.</summary>
    public int ExitCode => process.ExitCode;

    /// <summary>Everything the process wrote to stdout and stderr so far.</summary>
    public string Output
    {
        get
        {
            lock (outputLock)
            {
                return output.ToString();
            }
        }
    }

    /// <summary>The repository root: the first directory above the test assembly holding <c>Vardbro.slnx</c>.</summary>
    public static string RepositoryRoot => FindRepositoryRoot();

    /// <summary>The server assembly built with the same configuration (and target framework) as the tests.</summary>
    public static string ServerAssembly => FindServerAssembly();

    /// <summary>
    /// Starts the server with <paramref name="settings"/> (configuration keys such as
    /// <c>Storage:Provider</c>, passed as <c>Storage__Provider</c> environment variables; a null value
    /// is left out) in the Production environment, and waits until <c>/healthz</c> answers.
    /// The working directory is always a fresh scratch directory. With
    /// <paramref name="contentRootIsServerDirectory"/> (the default) <c>--contentRoot</c> names the
    /// server's output directory, as a deployment that runs from the application directory has it;
    /// without it the server is left to find its own settings (<c>appsettings.json</c>).
    /// </summary>
    /// <para>
    /// The port is passed as <c>--urls</c>, unless <paramref name="listenOn"/> gives the settings that
    /// make the server listen on it (e.g. <c>ASPNETCORE_HTTP_PORTS</c>), as a deployment would.
    /// </para>
    public static async Task<ServerProcess> StartAsync(
        IReadOnlyDictionary<string, string?> settings, bool contentRootIsServerDirectory = true, Func<int, IReadOnlyDictionary<string, string?>>? listenOn = null)
    {
        ArgumentNullException.ThrowIfNull(settings);

        // A port read from a released listener can be taken by someone else before the server binds
        // it; start again on a new one when that happens.
        for (var attempt = 1; ; attempt++)
        {
            var server = Launch(settings, FreePort(), contentRootIsServerDirectory, listenOn);
            try
            {
                await server.WaitUntilHealthyAsync();
                return server;
            }
            catch (InvalidOperationException) when (attempt < 3 && server.Output.Contains("address already in use", StringComparison.OrdinalIgnoreCase))
            {
                await server.DisposeAsync();
            }
            catch
            {
                await server.DisposeAsync();
                throw;
            }
        }
    }

    /// <summary>
    /// Starts the server with <paramref name="settings"/> as <see cref="StartAsync"/> does, for a start
    /// that must fail: waits for the process to end by itself (it is killed, and the call fails, after
    /// <paramref name="timeout"/>) and returns its exit code and everything it wrote.
    /// </summary>
    public static async Task<(int ExitCode, string Output)> RunUntilExitAsync(IReadOnlyDictionary<string, string?> settings, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(settings);
        await using var server = Launch(settings, FreePort(), contentRootIsServerDirectory: true, listenOn: null);
        using var wait = new CancellationTokenSource(timeout);
        try
        {
            await server.process.WaitForExitAsync(wait.Token);
        }
        catch (OperationCanceledException)
        {
            throw new InvalidOperationException($"The server did not exit within {timeout.TotalSeconds} s.\n{server.Output}");
        }

        await server.process.WaitForExitAsync();
        return (server.process.ExitCode, server.Output);
    }

    /// <summary>
    /// Launches the server as <see cref="StartAsync"/> does without waiting for it; the caller awaits
    /// <see cref="WaitUntilHealthyAsync"/> when it is ready for the server to be up.
    /// </summary>
    public static ServerProcess Launch(IReadOnlyDictionary<string, string?> settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        return Launch(settings, FreePort(), contentRootIsServerDirectory: true, listenOn: null);
    }

    /// <summary>A client with the server's base address and no credentials.</summary>
    public HttpClient Client()
    {
        var client = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
        lock (clients)
        {
            clients.Add(client);
        }

        return client;
    }

    /// <summary>A client that sends API client credentials.</summary>
    public HttpClient WithCredentials(string clientId, string secret)
    {
        var client = Client();
        client.DefaultRequestHeaders.Add("x-leyr-client-id", clientId);
        client.DefaultRequestHeaders.Add("x-leyr-client-secret", secret);
        return client;
    }

    public HttpClient Sandbox() => WithCredentials(SandboxClientId, SandboxSecret);

    public HttpClient Admin(string adminKey = AdminKey)
    {
        var client = Client();
        client.DefaultRequestHeaders.Add("x-admin-key", adminKey);
        return client;
    }

    /// <summary>Graceful stop: SIGTERM, then up to 20 s for the host to shut down (SIGKILL after that, and the call fails).</summary>
    public async Task StopAsync()
    {
        if (process.HasExited)
        {
            return;
        }

        SendSigterm();
        using var timeout = new CancellationTokenSource(StopTimeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            Kill();
            throw new InvalidOperationException($"The server (pid {process.Id}) did not stop within {StopTimeout.TotalSeconds} s of SIGTERM.\n{Output}");
        }

        // Let the asynchronous stdout/stderr readers drain what the process wrote last.
        await process.WaitForExitAsync();
    }

    /// <summary>SIGKILL: the process ends at once, with no chance to flush or clean up.</summary>
    public void Kill()
    {
        if (process.HasExited)
        {
            return;
        }

        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // It ended by itself in the meantime.
        }

        process.WaitForExit(StopTimeout);
    }

    public async ValueTask DisposeAsync()
    {
        lock (clients)
        {
            foreach (var client in clients)
            {
                client.Dispose();
            }

            clients.Clear();
        }

        try
        {
            Kill();
            if (process.HasExited)
            {
                await process.WaitForExitAsync();
            }
        }
        catch (InvalidOperationException)
        {
            // Never started.
        }

        process.Dispose();
        try
        {
            Directory.Delete(workingDirectory, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    public override string ToString() => $"Vardbro.Server pid {process.Id} at {BaseAddress}";

    private static ServerProcess Launch(
        IReadOnlyDictionary<string, string?> settings, int port, bool contentRootIsServerDirectory, Func<int, IReadOnlyDictionary<string, string?>>? listenOn)
    {
        var workingDirectory = Path.Combine(Path.GetTempPath(), "vardbro-process-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(workingDirectory);
        var baseAddress = new Uri($"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}");
        var serverDirectory = Path.GetDirectoryName(ServerAssembly)!;

        var start = new ProcessStartInfo(DotnetHost())
        {
            WorkingDirectory = workingDirectory,
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        start.ArgumentList.Add(ServerAssembly);
        if (listenOn is null)
        {
            start.ArgumentList.Add("--urls");
            start.ArgumentList.Add(baseAddress.ToString().TrimEnd('/'));
        }

        // The working directory is a scratch directory, as for a service started from anywhere; the
        // content root (appsettings.json) is the server's own output directory, as in a deployment
        // whose working directory is the application directory.
        if (contentRootIsServerDirectory)
        {
            start.ArgumentList.Add("--contentRoot");
            start.ArgumentList.Add(serverDirectory);
        }

        var environment = start.Environment;
        foreach (var key in environment.Keys.ToList())
        {
            if (DroppedPrefixes.Any(p => key.StartsWith(p, StringComparison.OrdinalIgnoreCase)) && !key.StartsWith("DOTNET_ROOT", StringComparison.OrdinalIgnoreCase))
            {
                environment.Remove(key);
            }
            else if (key.Contains("__", StringComparison.Ordinal) || key.Equals("URLS", StringComparison.OrdinalIgnoreCase))
            {
                // Hierarchical configuration (Logging__…, Storage__…) meant for someone else.
                environment.Remove(key);
            }
        }

        environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        environment["DOTNET_NOLOGO"] = "1";
        environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        foreach (var (key, value) in listenOn is null ? settings : settings.Concat(listenOn(port)))
        {
            if (value is not null)
            {
                environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
            }
        }

        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var server = new ServerProcess(process, workingDirectory, baseAddress);
        process.OutputDataReceived += (_, e) => server.Append(e.Data);
        process.ErrorDataReceived += (_, e) => server.Append(e.Data);
        if (!process.Start())
        {
            throw new InvalidOperationException($"Could not start {start.FileName} {ServerAssembly}.");
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return server;
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (outputLock)
        {
            output.AppendLine(line);
        }
    }

    /// <summary>Waits until <c>/healthz</c> answers 200 (60 s at most); fails when the process ends first.</summary>
    public async Task WaitUntilHealthyAsync()
    {
        using var client = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(5) };
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < StartTimeout)
        {
            if (process.HasExited)
            {
                await process.WaitForExitAsync();
                throw new InvalidOperationException($"The server exited with code {process.ExitCode} before /healthz answered.\n{Output}");
            }

            try
            {
                using var response = await client.GetAsync(new Uri("/healthz", UriKind.Relative));
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException)
            {
            }

            await Task.Delay(100);
        }

        throw new InvalidOperationException($"/healthz did not answer within {StartTimeout.TotalSeconds} s.\n{Output}");
    }

    private void SendSigterm()
    {
        if (OperatingSystem.IsWindows())
        {
            // No SIGTERM on Windows; the nearest is to end the process.
            process.Kill(entireProcessTree: true);
            return;
        }

        var kill = new ProcessStartInfo("kill") { UseShellExecute = false, RedirectStandardError = true };
        kill.ArgumentList.Add("-TERM");
        kill.ArgumentList.Add(process.Id.ToString(CultureInfo.InvariantCulture));
        using var killer = Process.Start(kill) ?? throw new InvalidOperationException("Could not run kill(1).");
        killer.WaitForExit();
    }

    private static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        try
        {
            return ((IPEndPoint)listener.LocalEndpoint).Port;
        }
        finally
        {
            listener.Stop();
        }
    }

    /// <summary>The dotnet host that runs the tests (so the same runtime runs the server), else the one on PATH.</summary>
    public static string DotnetHost()
    {
        var current = Environment.ProcessPath;
        if (current is not null && Path.GetFileNameWithoutExtension(current).Equals("dotnet", StringComparison.OrdinalIgnoreCase))
        {
            return current;
        }

        var hostPath = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        return !string.IsNullOrEmpty(hostPath) && File.Exists(hostPath) ? hostPath : "dotnet";
    }

    private static string FindRepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Vardbro.slnx")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"No Vardbro.slnx above {AppContext.BaseDirectory}.");
    }

    private static string FindServerAssembly()
    {
        // The test assembly lives in …/bin/{configuration}/{tfm}/; the server was built next to it
        // with the same configuration and target framework.
        var testDirectory = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar));
        var targetFramework = testDirectory.Name;
        var configuration = testDirectory.Parent?.Name
            ?? throw new InvalidOperationException($"Cannot tell the build configuration from {AppContext.BaseDirectory}.");
        var path = Path.Combine(RepositoryRoot, "src", "Vardbro.Server", "bin", configuration, targetFramework, "Vardbro.Server.dll");
        return File.Exists(path)
            ? path
            : throw new InvalidOperationException($"The server is not built at {path}; build Vardbro.slnx with -c {configuration} first.");
    }
}
