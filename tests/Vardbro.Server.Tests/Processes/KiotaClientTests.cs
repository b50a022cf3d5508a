using System.Diagnostics;
using System.Text;
using Vardbro.Server.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Vardbro.Server.Tests.Processes;

/// <summary>
/// A developer's path: generate a C# client with Kiota (the .NET tool of <c>.config/dotnet-tools.json</c>)
/// from the document the server serves, build it with Leyr's quickstarts (tests/kiota-quickstart) and run
/// them against the server: find and create a patient, list timeslots, book, cancel — a taken slot and
/// a cancel-twice caught as typed 409 errors, a reused idempotency key as a typed 422. Generated once.
/// </summary>
[Collection(ProcessTestGroup.Name)]
[Trait("Category", "Process")]
public sealed class KiotaClientTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_kiota_generated_client_runs_the_quickstarts_with_typed_errors()
    {
        var root = ServerProcess.RepositoryRoot;
        using var database = TestDatabase.Create();
        var settings = database.Settings();
        settings["Sandbox:Enabled"] = "true";
        await using var server = await ServerProcess.StartAsync(settings);
        var scratch = Directory.CreateTempSubdirectory("vardbro-kiota-");
        try
        {
            using (var client = server.Client())
            {
                await File.WriteAllTextAsync(Path.Combine(scratch.FullName, "openapi.json"), await client.GetStringAsync(new Uri("/openapi/v1.json", UriKind.Relative)));
            }

            foreach (var file in new[] { "KiotaQuickstart.csproj", "Program.cs" })
            {
                File.Copy(Path.Combine(root, "tests", "kiota-quickstart", file), Path.Combine(scratch.FullName, file));
            }

            await RunAsync(root, "dotnet", ["tool", "restore"]);
            await RunAsync(root, "dotnet",
            [
                "tool", "run", "kiota", "generate", "--language", "CSharp", "--openapi", Path.Combine(scratch.FullName, "openapi.json"),
                "--output", Path.Combine(scratch.FullName, "Client"), "--namespace-name", "Vardbro.Client", "--class-name", "VardbroClient",
                "--exclude-backward-compatible", "--clean-output", "--log-level", "Warning",
            ]);
            await RunAsync(scratch.FullName, "dotnet", ["build", "-c", "Release", "-o", Path.Combine(scratch.FullName, "out"), "-nologo", "-v", "q"]);
            var run = await RunAsync(scratch.FullName, "dotnet",
                [Path.Combine(scratch.FullName, "out", "KiotaQuickstart.dll"), server.BaseAddress.ToString(), ServerProcess.SandboxClientId, ServerProcess.SandboxSecret]);
            Assert.Contains("ok: taken slot: typed 409 NO_TIMESLOTS_AVAILABLE", run, StringComparison.Ordinal);
            Assert.Contains("ok: reused key: typed 422 IDEMPOTENCY_KEY_REUSED", run, StringComparison.Ordinal);
            Assert.Contains("ok: cancel twice: typed 409", run, StringComparison.Ordinal);
            Assert.Contains("QUICKSTART OK", run, StringComparison.Ordinal);
        }
        finally
        {
            scratch.Delete(recursive: true);
        }
    }

    private async Task<string> RunAsync(string directory, string command, IEnumerable<string> arguments)
    {
        var start = new ProcessStartInfo(command, arguments) { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true };

        // Kiota's check for a newer release needs the internet; the generation does not.
        start.Environment["KIOTA_UPDATE__DISABLED"] = "true";
        start.Environment["KIOTA_TUTORIAL_ENABLED"] = "false";
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        await process.WaitForExitAsync(timeout.Token);
        var text = new StringBuilder().Append(await stdout).Append(await stderr).ToString();
        output.WriteLine($"$ {command} {string.Join(' ', start.ArgumentList)} (exit {process.ExitCode})");
        output.WriteLine(text.Length > 4000 ? text[^4000..] : text);
        Assert.True(process.ExitCode == 0, $"{command} {string.Join(' ', start.ArgumentList)} failed ({process.ExitCode}):\n{text}");
        return text;
    }
}
