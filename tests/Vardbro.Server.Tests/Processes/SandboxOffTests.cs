using System.Net;
using Vardbro.Server.Tests.Infrastructure;

namespace Vardbro.Server.Tests.Processes;

[Collection(ProcessTestGroup.Name)]
[Trait("Category", "Process")]
public sealed class SandboxOffTests
{
    [Fact]
    public async Task Sandbox_credentials_stop_working_when_the_sandbox_is_turned_off()
    {
        using var database = TestDatabase.Create();
        var settings = database.Settings();
        settings["Sandbox:Enabled"] = "true";
        await using (var seeded = await ServerProcess.StartAsync(settings))
        {
            using var client = seeded.Sandbox();
            await client.GetJsonAsync("/api/emrs/webdoc/care-units/L0_1/patients/se_personal_number:191212121212");
            await seeded.StopAsync();
        }

        settings["Sandbox:Enabled"] = "false";
        await using var production = await ServerProcess.StartAsync(settings);
        using var again = production.Sandbox();
        await again.GetProblemAsync("/api/emrs", HttpStatusCode.Unauthorized, "UNAUTHORIZED");
        Assert.DoesNotContain("Sandbox mode is on", production.Output, StringComparison.Ordinal);
    }
}
