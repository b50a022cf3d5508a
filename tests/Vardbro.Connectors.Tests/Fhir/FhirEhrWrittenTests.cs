using Vardbro.Connectors.Fhir;
using Vardbro.Connectors.Fhir.Auth;
using Vardbro.Tests.Peers;

namespace Vardbro.Connectors.Tests.Fhir;

/// <summary>
/// What the EHR wrote itself is visible: Millennium's clinical notes (US Core category
/// <c>clinical-note</c>, text behind a Binary) are listed and read as notes beside Vardbro's own.
/// </summary>
public sealed class FhirEhrWrittenTests(OraclePeerFixture fixture) : IClassFixture<OraclePeerFixture>, IAsyncLifetime
{
    private FhirConnector Connector()
    {
        var settings = FhirSettings.Read("oracle", key => key == "BaseUrl" ? fixture.Peer.BaseUrl : null).Settings!;
        return new FhirConnector(FhirTransport.Create(settings, new FhirAuthSettings(), TimeProvider.System), settings, TimeProvider.System);
    }

    public Task InitializeAsync() => fixture.Peer.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task The_ehrs_own_clinical_notes_are_listed_and_read_with_their_text()
    {
        var connector = Connector();
        var notes = (await connector.ListNotesAsync(FhirPeer.CareUnit, FhirPeer.Tolvan, 10, null, default)).Items;
        Assert.Equal(["198400001", "198400002"], notes.Select(n => n.Id).Order(StringComparer.Ordinal));
        Assert.All(notes, n =>
        {
            Assert.Equal(("leyr_unstructured", FhirPeer.CareUnit, FhirPeer.Tolvan), (n.TemplateId, n.CareUnitId, n.PatientEmrId));
            Assert.False(string.IsNullOrWhiteSpace(n.Content["unstructured"]));
            Assert.DoesNotContain("<", n.Content["unstructured"], StringComparison.Ordinal);
            Assert.False(string.IsNullOrWhiteSpace(n.Title));
        });

        var read = await connector.GetNoteAsync(FhirPeer.CareUnit, FhirPeer.Tolvan, notes[0].Id, default);
        Assert.Equal(notes[0].Content["unstructured"], read?.Content["unstructured"]);

        // Another patient's path does not reach them, and they are not documents.
        Assert.Null(await connector.GetNoteAsync(FhirPeer.CareUnit, "lars-strom", notes[0].Id, default));
        Assert.Empty((await connector.ListDocumentsAsync(FhirPeer.CareUnit, FhirPeer.Tolvan, 10, null, default)).Items);
    }
}
