using Vardbro.Server.Tests.Infrastructure;
using Vardbro.Tests.Peers;
using Xunit.Abstractions;
using Task = System.Threading.Tasks.Task;

namespace Vardbro.Server.Tests.Fhir;

/// <summary>
/// Every FHIR route of the built-in EHR (sandbox <c>webdoc</c>, care unit <c>L0_1</c>), with data behind
/// it: each answer, errors included, passes Firely's R4 validator without errors, and every fullUrl,
/// link and reference in it answers 200 with what it names.
/// </summary>
public sealed class FhirConformanceTests(VardbroFactory factory, ITestOutputHelper output) : IClassFixture<VardbroFactory>
{
    private const string Json = "/api/emrs/webdoc/care-units/L0_1";
    private const string Fhir = "/api/fhir/emrs/webdoc/care-units/L0_1";
    private const string Tolvan = "se_personal_number:191212121212";

    [Fact]
    public async Task Every_FHIR_answer_of_the_built_in_EHR_validates_against_R4()
    {
        using var client = factory.Sandbox();
        var answers = await FhirConformance.TourAsync(client, Json, Fhir, Tolvan, "1001");
        Assert.Empty(FhirConformance.Validate(answers, output));
    }

    [Fact]
    public async Task Every_fullUrl_and_reference_of_the_built_in_EHR_resolves()
    {
        using var client = factory.Sandbox();
        var answers = await FhirConformance.TourAsync(client, Json, Fhir, Tolvan, "1001");
        Assert.True(await FhirConformance.FollowAllAsync(client, answers, output) > 20);
    }
}

/// <summary>The same over the FHIR connector (an independent FHIR peer behind <c>webdoc</c>).</summary>
public sealed class FhirConnectorConformanceTests(FhirEmrFixture fixture, ITestOutputHelper output) : IClassFixture<FhirEmrFixture>, IAsyncLifetime
{
    private const string Fhir = "/api/fhir/emrs/webdoc/care-units/" + FhirPeer.CareUnit;
    private const string Tolvan = "se_personal_number:191212121212";

    public Task InitializeAsync() => fixture.Peer.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Every_FHIR_answer_of_the_FHIR_connector_validates_against_R4()
    {
        using var client = fixture.Factory.Sandbox();
        var answers = await FhirConformance.TourAsync(client, FhirEmrFactory.Unit, Fhir, Tolvan, FhirPeer.Anna);
        Assert.Empty(FhirConformance.Validate(answers, output));
    }

    [Fact]
    public async Task Every_fullUrl_and_reference_of_the_FHIR_connector_resolves()
    {
        using var client = fixture.Factory.Sandbox();
        var answers = await FhirConformance.TourAsync(client, FhirEmrFactory.Unit, Fhir, Tolvan, FhirPeer.Anna);
        Assert.True(await FhirConformance.FollowAllAsync(client, answers, output) > 20);
    }
}
