using Scalar.AspNetCore;
using Vardbro.Server.Sandbox;

namespace Vardbro.Server.Api;

/// <summary>
/// The API reference page (<c>/docs/reference</c>, Scalar): nothing leaves the browser for a third
/// party — no AI agent, no MCP, no telemetry, no fonts from Scalar's CDN — and no developer toolbar.
/// Requests from "Test Request" go straight to this server (no proxy). In Development with the sandbox
/// on, the sandbox client's credentials are filled in, so a request works as it stands.
/// </summary>
public static class ReferencePage
{
    public static void Configure(ScalarOptions options, bool presetSandboxCredentials)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.WithTitle("Vardbro API reference")
            .DisableAgent()
            .DisableMcp()
            .DisableTelemetry()
            .DisableDefaultFonts()
            .HideDeveloperTools();
        if (presetSandboxCredentials)
        {
            options.AddPreferredSecuritySchemes([OpenApiSetup.ClientId, OpenApiSetup.ClientSecret])
                .AddApiKeyAuthentication(OpenApiSetup.ClientId, s => s.Value = SandboxSeeder.ClientId)
                .AddApiKeyAuthentication(OpenApiSetup.ClientSecret, s => s.Value = SandboxSeeder.ClientSecret);
        }
    }
}
