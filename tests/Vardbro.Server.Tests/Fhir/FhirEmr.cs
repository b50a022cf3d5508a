using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Vardbro.Server.Tests.Infrastructure;
using Vardbro.Tests.Peers;

namespace Vardbro.Server.Tests.Fhir;

/// <summary>
/// The server with its <c>webdoc</c> EMR served by the FHIR connector from an independent FHIR
/// peer (Medplum): the sandbox client and the quickstart paths unchanged, only the back end differs.
/// </summary>
public sealed class FhirEmrFactory(FhirPeer peer, IReadOnlyDictionary<string, string?>? extra = null) : VardbroFactory
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

            // No change polling but where a test asks for it: the peer's request log stays the test's own.
            ["Emrs:webdoc:ChangePollSeconds"] = "0",
        };
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        var settings = EmrSettings(peer);
        foreach (var (key, value) in extra ?? new Dictionary<string, string?>())
        {
            settings[key] = value;
        }

        builder.ConfigureAppConfiguration(c => c.AddInMemoryCollection(settings));
    }
}

/// <summary>A peer and a server over it, for one test class; the peer is reset before each test.</summary>
public class FhirEmrFixture : IAsyncLifetime
{
    public FhirEmrFactory Factory { get; private set; } = null!;

    public FhirPeer Peer => Factory.Peer;

    /// <summary>The peer's profile (tests/fhir-peer/README.md).</summary>
    protected virtual string Profile => "default";

    /// <summary>Settings of the EMR beyond <see cref="FhirEmrFactory.EmrSettings"/>.</summary>
    protected virtual Dictionary<string, string?> Settings => [];

    public async Task InitializeAsync()
    {
        var peer = await FhirPeer.StartAsync(Profile);
        Factory = new FhirEmrFactory(peer, Settings);
    }

    public async Task DisposeAsync()
    {
        var peer = Factory.Peer;
        await Factory.DisposeAsync();
        await peer.DisposeAsync();
    }
}

/// <summary>The peer as Oracle Health Millennium documents its FHIR R4 API.</summary>
public sealed class OracleFhirEmrFixture : FhirEmrFixture
{
    protected override string Profile => "oracle";

    protected override Dictionary<string, string?> Settings => Oracle;

    // Millennium refuses _sort and lists Locations only by type or physical type (location.md "Search").
    public static Dictionary<string, string?> Oracle => new()
    {
        ["Emrs:webdoc:Sort"] = "declared",
        ["Emrs:webdoc:CareUnitQuery"] = "Location?-physicalType=bu",

        // Millennium takes only document content types (document-reference.md "Create").
        ["Emrs:webdoc:NoteFields"] = "text",
    };
}

/// <summary>The peer as an Epic-style Argonaut scheduling server ($find/$book).</summary>
public sealed class EpicFhirEmrFixture : FhirEmrFixture
{
    protected override string Profile => "epic";
}
