using System.Net;
using Vardbro.Server.Tests.Infrastructure;

namespace Vardbro.Server.Tests.Auth;

/// <summary>Routing ignores the case of paths, so authentication must too.</summary>
public sealed class PathCaseTests(VardbroFactory factory) : IClassFixture<VardbroFactory>
{
    [Theory]
    [InlineData("/API/admin/clients")]
    [InlineData("/Api/Admin/audit")]
    [InlineData("/api/ADMIN/outbox")]
    public async Task Admin_paths_in_any_case_need_the_admin_key(string path)
    {
        using var anonymous = factory.CreateClient();
        await anonymous.GetProblemAsync(path, HttpStatusCode.Unauthorized, "UNAUTHORIZED");
        using var client = factory.Sandbox();
        await client.GetProblemAsync(path, HttpStatusCode.Unauthorized, "UNAUTHORIZED");
        await anonymous.PostProblemAsync(path.Replace("audit", "clients", StringComparison.OrdinalIgnoreCase), """{"name":"x","grants":[{"emr":"webdoc","care_units":["*"]}]}""", HttpStatusCode.Unauthorized);
    }

    [Theory]
    [InlineData("/API/emrs")]
    [InlineData("/Api/Emrs/webdoc/care-units/L0_1/patients?first_name=tolvan")]
    public async Task Client_paths_in_any_case_need_credentials(string path)
    {
        using var anonymous = factory.CreateClient();
        await anonymous.GetProblemAsync(path, HttpStatusCode.Unauthorized, "UNAUTHORIZED");
    }
}
