using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Vardbro.Server.Tests.Infrastructure;
using Vardbro.Tests.Peers;

namespace Vardbro.Server.Tests.Cliniko;

/// <summary>
/// The server with its <c>webdoc</c> EMR served by the Cliniko connector from the Cliniko peer: the
/// sandbox client and the quickstart paths unchanged, only the back end differs.
/// </summary>
public sealed class ClinikoEmrFactory(ClinikoPeer peer, IReadOnlyDictionary<string, string?>? overrides = null) : VardbroFactory
{
    public const string Unit = "/api/emrs/webdoc/care-units/" + ClinikoPeer.Business;

    public ClinikoPeer Peer => peer;

    public static Dictionary<string, string?> EmrSettings(ClinikoPeer peer)
    {
        ArgumentNullException.ThrowIfNull(peer);
        return new()
        {
            ["Emrs:webdoc:Connector"] = "cliniko",
            ["Emrs:webdoc:Name"] = "Cliniko (peer)",
            ["Emrs:webdoc:ApiKey"] = ClinikoPeer.ApiKey,
            ["Emrs:webdoc:UserAgent"] = ClinikoPeer.UserAgent,
            ["Emrs:webdoc:BaseUrl"] = peer.BaseUrl,
            ["Emrs:webdoc:TimeoutSeconds"] = "5",
            ["Emrs:webdoc:NoteTemplates:leyr_unstructured"] = ClinikoPeer.StandardTemplate,
            ["Emrs:webdoc:PatientIdTypes:0"] = "emr_id",
            ["Emrs:webdoc:PatientIdTypes:1"] = "se_personal_number",
            ["Emrs:webdoc:PatientIdFields:se_personal_number"] = "old_reference_id",

            // No change polling but where a test asks for it: the peer's request log stays the test's own.
            ["Emrs:webdoc:ChangePollSeconds"] = "0",
        };
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        var settings = EmrSettings(peer);
        foreach (var (key, value) in overrides ?? new Dictionary<string, string?>())
        {
            settings[key] = value;
        }

        builder.ConfigureAppConfiguration(c => c.AddInMemoryCollection(settings));
    }
}

/// <summary>A peer and a server over it, for one test class; the peer is reset before each test.</summary>
public sealed class ClinikoEmrFixture : IAsyncLifetime
{
    public ClinikoEmrFactory Factory { get; private set; } = null!;

    public ClinikoPeer Peer => Factory.Peer;

    public async Task InitializeAsync()
    {
        var peer = await ClinikoPeer.StartAsync();
        Factory = new ClinikoEmrFactory(peer);
    }

    public async Task DisposeAsync()
    {
        var peer = Factory.Peer;
        await Factory.DisposeAsync();
        await peer.DisposeAsync();
    }
}
