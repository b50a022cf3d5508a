using Vardbro.Connectors.Fhir;
using Vardbro.Connectors.Fhir.Auth;
using Vardbro.Storage;
using Vardbro.Tests.Peers;

namespace Vardbro.Connectors.Tests.Contract;

/// <summary>
/// One FHIR peer in one profile for the class, the EMR's settings for it, one transport, and a store
/// like the server's (patient creation on a server without conditional create is serialized through
/// it); the peer is reset to its seed before each test.
/// </summary>
public abstract class FhirProfileFixture : IAsyncLifetime
{
    private readonly LockStoreFile locks = new();

    public FhirPeer Peer { get; private set; } = null!;

    public HttpClient Client { get; private set; } = null!;

    public FhirSettings Settings { get; private set; } = null!;

    /// <summary>The peer's profile (tests/fhir-peer/README.md "Profiles").</summary>
    protected abstract string Profile { get; }

    /// <summary>The EMR's settings beyond its base URL.</summary>
    protected abstract string? Setting(string key);

    public async Task InitializeAsync()
    {
        Peer = await FhirPeer.StartAsync(Profile);
        Settings = FhirSettings.Read("fhir", key => key == "BaseUrl" ? Peer.BaseUrl : Setting(key)).Settings!;
        Client = FhirTransport.Create(Settings, new FhirAuthSettings(), TimeProvider.System);
    }

    public async Task DisposeAsync()
    {
        Client.Dispose();
        await Peer.DisposeAsync();
        locks.Delete();
    }

    /// <summary>A context on the store, for one connector (disposed with it).</summary>
    public StoreDb NewStore() => locks.NewStore();
}

/// <summary>The peer's default profile (Medplum as it is).</summary>
public sealed class FhirPeerFixture : FhirProfileFixture
{
    protected override string Profile => "default";

    // Medplum sorts by _sort without declaring it in its CapabilityStatement.
    protected override string? Setting(string key) => key == "Sort" ? "always" : null;
}

/// <summary>The peer as Oracle Health Millennium documents its FHIR R4 API.</summary>
public sealed class OracleContractFixture : FhirProfileFixture
{
    protected override string Profile => "oracle";

    // Millennium lists Locations only by type or physical type (location.md "Search") and takes
    // only document content types (document-reference.md "Create").
    protected override string? Setting(string key) => key switch
    {
        "CareUnitQuery" => "Location?-physicalType=bu",
        "NoteFields" => "text",
        _ => null,
    };
}

/// <summary>The peer as an Epic-style Argonaut scheduling server (<c>$find</c>/<c>$book</c>); Medplum otherwise.</summary>
public sealed class EpicContractFixture : FhirProfileFixture
{
    protected override string Profile => "epic";

    protected override string? Setting(string key) => key == "Sort" ? "always" : null;
}

/// <summary>The FHIR connector against one profile of the peer: the same contract as the built-in EHR.</summary>
public abstract class FhirProfileContractTests(FhirProfileFixture fixture) : ConnectorContractTests
{
    protected FhirProfileFixture Fixture => fixture;

    protected override Task ResetAsync() => fixture.Peer.ResetAsync();

    protected override Task<ConnectorUnderTest> OpenAsync()
    {
        var store = fixture.NewStore();
        return Task.FromResult(new ConnectorUnderTest(new FhirConnector(fixture.Client, fixture.Settings, TimeProvider.System, store: store), store));
    }
}

/// <summary>The FHIR connector against the independent peer (Medplum): the same contract as the built-in EHR.</summary>
public sealed class FhirConnectorContractTests(FhirPeerFixture fixture) : FhirProfileContractTests(fixture), IClassFixture<FhirPeerFixture>;

/// <summary>
/// The FHIR connector against the peer as Oracle Health Millennium: appointment-with-slot booking, no
/// conditional create (creates serialized through Vardbro's store), no <c>_sort</c> (a paged search
/// comes in the server's order), master data kept in the EHR (Location read and search only).
/// </summary>
public sealed class OracleFhirConnectorContractTests(OracleContractFixture fixture) : FhirProfileContractTests(fixture), IClassFixture<OracleContractFixture>
{
    protected override bool HasMasterDataAdmin => false;

    // Millennium's Patient offers read, search, create and patch (r4/base/individuals/patient.md), no update.
    protected override bool HasPatientUpdates => false;

    protected override bool SortsAcrossPages => false;
}

/// <summary>The FHIR connector against the peer as an Epic-style server (find-book booking).</summary>
public sealed class EpicFhirConnectorContractTests(EpicContractFixture fixture) : FhirProfileContractTests(fixture), IClassFixture<EpicContractFixture>;
