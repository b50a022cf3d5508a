using System.Net;
using Vardbro.Server.Tests.Infrastructure;

namespace Vardbro.Server.Tests.Processes;

/// <summary>
/// <c>dotnet /opt/vardbro/Vardbro.Server.dll</c> started from another directory (a service unit
/// without a working directory, a script, cron) must run with the settings shipped beside the
/// assembly, not with none.
/// </summary>
[Collection(ProcessTestGroup.Name)]
[Trait("Category", "Process")]
public sealed class WorkingDirectoryTests
{
    [Fact]
    public async Task Started_from_another_directory_the_server_reads_its_own_settings()
    {
        using var database = TestDatabase.Create();
        var settings = database.Settings();
        settings["Sandbox:Enabled"] = "true";
        await using var server = await ServerProcess.StartAsync(settings, contentRootIsServerDirectory: false);
        using var client = server.Sandbox();

        var emrs = (await client.GetJsonAsync("/api/emrs")).AsArray().Select(e => (string?)e!["code"]).ToList();
        Assert.Contains("webdoc", emrs);
        await client.GetJsonAsync("/api/emrs/webdoc/care-units/L0_1/patients/se_personal_number:191212121212");

        await server.StopAsync();
        Assert.DoesNotContain("191212121212", server.Output, StringComparison.Ordinal);
    }
}
