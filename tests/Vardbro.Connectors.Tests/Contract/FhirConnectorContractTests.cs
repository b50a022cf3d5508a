using Vardbro.Connectors.Fhir;
using Vardbro.Connectors.Fhir.Auth;
using Vardbro.Tests.Peers;

namespace Vardbro.Connectors.Tests.Contract;

/// <summary>One FHIR peer for the class; reset to its seed before each test.</summary>
public sealed class FhirPeerFixture : IAsyncLifetime
{
    public FhirPeer Peer { get; private set; } = null!;

    public HttpClient Client { get; private set; } = null!;

    public FhirSettings Settings { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Peer = await FhirPeer.StartAsync();
        // Medplum sorts by _sort without declaring it in its CapabilityStatement.
        Settings = FhirSettings.Read("fhir", key => key switch { "BaseUrl" => Peer.BaseUrl, "Sort" => "always", _ => null }).Settings!;
        Client = FhirTransport.Create(Settings, new FhirAuthSettings(), TimeProvider.System);
    }

    public async Task DisposeAsync()
    {
        Client.Dispose();
        await Peer.DisposeAsync();
    }
}

/// <summary>The FHIR connector against the independent peer (Medplum): the same contract as the built-in EHR.</summary>
public sealed class FhirConnectorContractTests(FhirPeerFixture fixture) : ConnectorContractTests, IClassFixture<FhirPeerFixture>
{
    protected override Task ResetAsync() => fixture.Peer.ResetAsync();

    protected override Task<ConnectorUnderTest> OpenAsync() =>
        Task.FromResult(new ConnectorUnderTest(new FhirConnector(fixture.Client, fixture.Settings, TimeProvider.System)));
}
