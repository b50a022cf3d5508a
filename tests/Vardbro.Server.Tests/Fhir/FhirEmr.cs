using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Vardbro.Server.Tests.Infrastructure;
using Vardbro.Tests.Peers;

namespace Vardbro.Server.Tests.Fhir;

/// <summary>
/// The server with its <c>webdoc</c> EMR served by the FHIR connector from an independent FHIR
/// peer (Medplum): the sandbox client and the quickstart paths unchanged, only the back end differs.
/// </summary>
public sealed class FhirEmrFactory(FhirPeer peer) : VardbroFactory
{
    public const string Unit = "/api/emrs/webdoc/care-units/" + FhirPeer.CareUnit;

    public FhirPeer Peer => peer;

    public static Dictionary<string, string?> EmrSettings(FhirPeer peer)
    {
        ArgumentNullException.ThrowIfNull(peer);
        return new()
        {
            ["Emrs:webdoc:Connector"] = "fhir",
            ["Emrs:webdoc:BaseUrl"] = peer.BaseUrl,
            ["Emrs:webdoc:TimeoutSeconds"] = "2",
            ["Emrs:webdoc:ReadRetries"] = "2",

            // Medplum sorts by _sort without declaring it in its CapabilityStatement.
            ["Emrs:webdoc:Sort"] = "always",
        };
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureAppConfiguration(c => c.AddInMemoryCollection(EmrSettings(peer)));
    }
}

/// <summary>A peer and a server over it, for one test class; the peer is reset before each test.</summary>
public sealed class FhirEmrFixture : IAsyncLifetime
{
    public FhirEmrFactory Factory { get; private set; } = null!;

    public FhirPeer Peer => Factory.Peer;

    public async Task InitializeAsync()
    {
        var peer = await FhirPeer.StartAsync();
        Factory = new FhirEmrFactory(peer);
    }

    public async Task DisposeAsync()
    {
        var peer = Factory.Peer;
        await Factory.DisposeAsync();
        await peer.DisposeAsync();
    }
}
