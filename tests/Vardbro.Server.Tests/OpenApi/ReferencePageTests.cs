using System.Net;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Hosting;
using Vardbro.Server.Tests.Infrastructure;

namespace Vardbro.Server.Tests.OpenApi;

/// <summary>The same server in the Production environment (the sandbox still on, as the base factory has it).</summary>
public sealed class ProductionFactory : VardbroFactory
{
    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.UseEnvironment("Production");
    }
}

/// <summary>
/// The Scalar reference page's configuration as served (<c>/docs/reference/</c>): nothing that calls a
/// third party, and the sandbox credentials filled in only in Development.
/// </summary>
public sealed partial class ReferencePageTests(VardbroFactory development) : IClassFixture<VardbroFactory>
{
    [Fact]
    public async Task The_page_has_no_agent_mcp_telemetry_developer_tools_or_external_fonts()
    {
        var configuration = await ConfigurationAsync(development.CreateClient());

        Assert.True((bool)configuration["agent"]!["disabled"]!);
        Assert.True((bool)configuration["mcp"]!["disabled"]!);
        Assert.False((bool)configuration["telemetry"]!);
        Assert.False((bool)configuration["withDefaultFonts"]!);
        Assert.Equal("never", (string?)configuration["showDeveloperTools"]);
        Assert.Null(configuration["proxyUrl"]);
    }

    [Fact]
    public async Task In_Development_the_sandbox_credentials_are_filled_in()
    {
        var configuration = await ConfigurationAsync(development.CreateClient());

        var schemes = configuration["authentication"]!["securitySchemes"]!;
        Assert.Equal("sandbox-client", (string?)schemes["x-leyr-client-id"]!["value"]);
        Assert.Equal("sandbox-secret", (string?)schemes["x-leyr-client-secret"]!["value"]);
        Assert.Equal(["x-leyr-client-id", "x-leyr-client-secret"], configuration["authentication"]!["preferredSecurityScheme"]!.AsArray().Select(x => (string)x!));
    }

    [Fact]
    public async Task Outside_Development_no_credentials_are_filled_in()
    {
        using var production = new ProductionFactory();
        var configuration = await ConfigurationAsync(production.CreateClient());

        Assert.Null(configuration["authentication"]);
        Assert.DoesNotContain("sandbox-secret", configuration.ToJsonString(), StringComparison.Ordinal);
        Assert.True((bool)configuration["agent"]!["disabled"]!);
        Assert.False((bool)configuration["telemetry"]!);
    }

    private static async Task<JsonNode> ConfigurationAsync(HttpClient client)
    {
        using (client)
        {
            using var response = await client.GetAsync(new Uri("/docs/reference/", UriKind.Relative));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var html = await response.Content.ReadAsStringAsync();

            // initialize('<base path>', <dynamic base URL>, {configuration}, '<nonce>')
            var match = Configuration().Match(html);
            Assert.True(match.Success, html);
            return JsonNode.Parse(match.Groups[1].Value)!;
        }
    }

    [GeneratedRegex(@"initialize\(\s*'[^']*',\s*\w+,\s*(\{.*\}),\s*'", RegexOptions.Singleline)]
    private static partial Regex Configuration();
}
