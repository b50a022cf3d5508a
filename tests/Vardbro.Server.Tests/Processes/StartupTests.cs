using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Npgsql;
using Vardbro.Server.Tests.Infrastructure;

namespace Vardbro.Server.Tests.Processes;

/// <summary>
/// The start as an operator meets it (ADR 8): a bad setting ends it at once with one line naming the
/// key and exit code 1; a database that is not up yet is waited for; the server listens where the
/// standard ASP.NET Core settings say.
/// </summary>
[Collection(ProcessTestGroup.Name)]
[Trait("Category", "Process")]
public sealed class StartupTests
{
    private static readonly TimeSpan ExitTimeout = TimeSpan.FromSeconds(60);

    [Theory]
    [InlineData("Storage:Provider", "postgress", "must be 'sqlite' or 'postgres', not 'postgress'")]
    [InlineData("Documents:MaxSizeBytes", "-5", "must be a whole number of bytes from 1")]
    [InlineData("Documents:MaxSizeBytes", "lots", "")]
    [InlineData("Audit:MaxWaitSeconds", "0", "must be a number of seconds")]
    [InlineData("Storage:StartupRetrySeconds", "-1", "must be a whole number of seconds")]
    [InlineData("Storage:Provder", "postgres", "is not a setting")]
    [InlineData("Sandbox:Enabled", "perhaps", "")]
    [InlineData("Cursors:Key", "c2hvcnQ=", "must be base64 of at least 32 bytes")]
    [InlineData("Notifications:Sender", "carrier-pigeon", "must be 'outbox' or 'http'")]
    [InlineData("Health:EmrTimeoutSeconds", "600", "must be a number of seconds from 0.1 to 60")]
    [InlineData("ForwardedHeaders:KnownProxies:0", "proxy.example", "is not an IP address")]
    [InlineData("Emrs:webdoc:Connector", "nope", "is not a known connector")]
    [InlineData("Emrs:webdoc:ChangePollSeconds", "-1", "must be a whole number of seconds from 0 (never) to 86400")]
    [InlineData("RateLimits:PerClient:Burst", "0", "must be a whole number from 1")]
    [InlineData("RateLimits:Emrs:nosuch:Burst", "5", "names no configured EMR")]
    public async Task A_bad_setting_ends_the_start_with_one_line_naming_it_and_exit_code_1(string key, string value, string reason)
    {
        using var database = TestDatabase.Create();
        var settings = database.Settings();
        settings[key] = value;

        var (exitCode, output) = await ServerProcess.RunUntilExitAsync(settings, ExitTimeout);

        Assert.Equal(1, exitCode);
        var line = Assert.Single(output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        Assert.StartsWith("Configuration error: ", line, StringComparison.Ordinal);
        Assert.Contains(key.EndsWith(":0", StringComparison.Ordinal) ? key[..^2] : key, line, StringComparison.Ordinal);
        Assert.Contains(reason, line, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_PostgreSQL_server_that_comes_up_late_is_waited_for_and_each_wait_logged()
    {
        using var database = TestDatabase.CreatePostgres();
        var real = new NpgsqlConnectionStringBuilder(database.ConnectionString);
        var port = FreePort();
        var settings = database.Settings();
        settings["Storage:Provider"] = "postgres";
        settings["Storage:StartupRetrySeconds"] = "60";
        settings["ConnectionStrings:Vardbro"] = new NpgsqlConnectionStringBuilder(database.ConnectionString) { Host = "127.0.0.1", Port = port }.ToString();

        // Nothing listens on the port until the server has waited twice; then it forwards to the real server.
        await using var server = ServerProcess.Launch(settings);
        var clock = Stopwatch.StartNew();
        static int Waits(string output) => output.Split('\n').Count(l => l.Contains("The database cannot be reached yet", StringComparison.Ordinal));
        while (Waits(server.Output) < 2)
        {
            Assert.False(server.HasExited, server.Output);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), server.Output);
            await Task.Delay(100);
        }

        using var stop = new CancellationTokenSource();
        var proxy = Task.Run(() => ForwardAsync(port, real.Host!, real.Port, stop.Token));
        await server.WaitUntilHealthyAsync();

        var waits = server.Output.Split('\n').Where(l => l.Contains("The database cannot be reached yet", StringComparison.Ordinal)).ToList();
        Assert.Contains("trying again in 1 s", waits[0], StringComparison.Ordinal);
        Assert.Contains("trying again in 2 s", waits[1], StringComparison.Ordinal);

        using var client = server.Client();
        var ready = await client.GetJsonAsync("/readyz");
        Assert.Equal("Healthy", (string?)ready["status"]);

        await server.StopAsync();
        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => proxy);
    }

    [Fact]
    public async Task A_database_that_never_comes_up_ends_the_start_after_the_retry_time_with_one_line()
    {
        using var database = TestDatabase.Create();
        var settings = database.Settings();
        settings["Storage:Provider"] = "postgres";
        settings["Storage:StartupRetrySeconds"] = "6";
        settings["ConnectionStrings:Vardbro"] = $"Host=127.0.0.1;Port={FreePort()};Username=postgres;Password=postgres;Database=vardbro";

        var (exitCode, output) = await ServerProcess.RunUntilExitAsync(settings, ExitTimeout);

        Assert.Equal(1, exitCode);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.True(lines.Any(l => l.Contains("trying again in 2 s", StringComparison.Ordinal)), output);
        Assert.Contains(lines, l => l.StartsWith("The database could not be reached within Storage:StartupRetrySeconds (6 s)", StringComparison.Ordinal));
        Assert.DoesNotContain("   at ", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ASPNETCORE_HTTP_PORTS_is_where_the_server_listens()
    {
        using var database = TestDatabase.Create();
        await using var server = await ServerProcess.StartAsync(
            database.Settings(), listenOn: port => new Dictionary<string, string?> { ["ASPNETCORE_HTTP_PORTS"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture) });

        using var client = server.Client();
        Assert.Equal("Healthy", (string?)(await client.GetJsonAsync("/healthz"))["status"]);
        await server.StopAsync();
        Assert.DoesNotContain("Overriding", server.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_Kestrel_endpoint_setting_is_where_the_server_listens()
    {
        using var database = TestDatabase.Create();
        await using var server = await ServerProcess.StartAsync(
            database.Settings(), listenOn: port => new Dictionary<string, string?> { ["Kestrel:Endpoints:Http:Url"] = $"http://127.0.0.1:{port}" });

        using var client = server.Client();
        Assert.Equal("Healthy", (string?)(await client.GetJsonAsync("/healthz"))["status"]);
    }

    [Fact]
    public async Task Behind_a_proxy_the_forwarded_scheme_is_believed_only_when_configured()
    {
        const string Resources = "/api/fhir/emrs/webdoc/care-units/L0_1/resources";
        using var database = TestDatabase.Create();
        var settings = database.Settings();
        settings["Sandbox:Enabled"] = "true";

        foreach (var (enabled, expected) in new[] { ("true", "https://"), ("false", "http://") })
        {
            settings["ForwardedHeaders:Enabled"] = enabled;
            await using var server = await ServerProcess.StartAsync(settings);
            using var client = server.Sandbox();
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(Resources, UriKind.Relative));
            request.Headers.Add("X-Forwarded-Proto", "https");
            using var response = await client.SendAsync(request);
            var bundle = await response.JsonAsync(HttpStatusCode.OK);
            var self = (string)bundle["link"]!.AsArray().Single(l => (string?)l!["relation"] == "self")!["url"]!;
            Assert.StartsWith(expected, self, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Without_a_data_directory_setting_SQLite_keeps_its_files_in_the_users_data_directory()
    {
        Assert.False(Directory.Exists("/var/lib/vardbro"), "/var/lib/vardbro exists on this machine, so it would be the default");
        var home = Path.Combine(Path.GetTempPath(), "vardbro-xdg", Guid.NewGuid().ToString("N"));
        try
        {
            await using var server = await ServerProcess.StartAsync(new Dictionary<string, string?>
            {
                ["Storage:Provider"] = "sqlite",
                ["XDG_DATA_HOME"] = home,
            });
            await server.StopAsync();
            Assert.True(File.Exists(Path.Combine(home, "vardbro", "vardbro.db")), server.Output);
            Assert.False(Directory.Exists(Path.Combine(Path.GetDirectoryName(ServerProcess.ServerAssembly)!, "data")));
        }
        finally
        {
            Directory.Delete(home, recursive: true);
        }
    }

    [Fact]
    public async Task A_published_server_ships_no_development_settings()
    {
        var output = Path.Combine(Path.GetTempPath(), "vardbro-publish", Guid.NewGuid().ToString("N"));
        try
        {
            var configuration = new DirectoryInfo(Path.GetDirectoryName(ServerProcess.ServerAssembly)!).Parent!.Name;
            var publish = new ProcessStartInfo(ServerProcess.DotnetHost())
            {
                UseShellExecute = false,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            foreach (var argument in new[] { "publish", Path.Combine(ServerProcess.RepositoryRoot, "src", "Vardbro.Server"), "-c", configuration, "--no-build", "-o", output, "-nologo" })
            {
                publish.ArgumentList.Add(argument);
            }

            using var process = Process.Start(publish)!;
            var log = process.StandardOutput.ReadToEndAsync();
            var errors = process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync();
            Assert.True(process.ExitCode == 0, await log + await errors);

            Assert.True(File.Exists(Path.Combine(output, "Vardbro.Server.dll")));
            Assert.True(File.Exists(Path.Combine(output, "appsettings.json")));
            Assert.False(File.Exists(Path.Combine(output, "appsettings.Development.json")));
            Assert.DoesNotContain("\"Urls\"", await File.ReadAllTextAsync(Path.Combine(output, "appsettings.json")), StringComparison.Ordinal);
        }
        finally
        {
            if (Directory.Exists(output))
            {
                Directory.Delete(output, recursive: true);
            }
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Accepts on <paramref name="port"/> and copies bytes both ways to the target, until cancelled.</summary>
    private static async Task ForwardAsync(int port, string host, int targetPort, CancellationToken cancellationToken)
    {
        using var listener = new TcpListener(IPAddress.Loopback, port);
        listener.Start();
        while (true)
        {
            var client = await listener.AcceptTcpClientAsync(cancellationToken);
            _ = Task.Run(
                async () =>
                {
                    using (client)
                    using (var target = new TcpClient())
                    {
                        await target.ConnectAsync(host, targetPort, cancellationToken);
                        var up = client.GetStream().CopyToAsync(target.GetStream(), cancellationToken);
                        var down = target.GetStream().CopyToAsync(client.GetStream(), cancellationToken);
                        await Task.WhenAny(up, down);
                    }
                },
                cancellationToken);
        }
    }
}
