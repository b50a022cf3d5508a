using System.Net;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Vardbro.Connectors;
using Vardbro.Server.Tests.Infrastructure;

namespace Vardbro.Server.Tests.Emrs;

/// <summary>
/// A connector kind defined here, outside the server's code, serves an EMR once registered and
/// configured: the seam looks kinds up by name and names none itself (ADR 6).
/// </summary>
public sealed class ConnectorKindTests(ConnectorKindTests.ToyFactory factory) : IClassFixture<ConnectorKindTests.ToyFactory>
{
    [Fact]
    public async Task An_emr_is_served_by_a_kind_registered_from_outside_the_server()
    {
        var created = await factory.Admin().PostJsonAsync("/api/admin/clients", new { name = "toy app", grants = new[] { new { emr = "ledger", care_units = new[] { "*" } } } }, HttpStatusCode.Created);
        using var client = factory.WithCredentials(created["client_id"]!.GetValue<string>(), created["client_secret"]!.GetValue<string>());

        var emrs = await client.GetJsonAsync("/api/emrs");
        var ledger = Assert.Single(emrs.AsArray(), e => e!["code"]!.GetValue<string>() == "ledger")!;
        Assert.Equal("toy", ledger["connector"]!.GetValue<string>());
        Assert.Equal("Ledger EHR", ledger["name"]!.GetValue<string>());
        Assert.Equal(["care_units", "resources", "healthcare_services"], ledger["capabilities"]!.AsArray().Select(c => c!.GetValue<string>()));

        // The kind read and checked its own setting, and hands it to the connector it creates.
        var units = await client.GetJsonAsync("/api/emrs/ledger/care-units");
        var unit = Assert.Single(units.AsArray())!;
        Assert.Equal("desk-7", unit["id"]!.GetValue<string>());
        Assert.Equal("Front desk 7", unit["name"]!.GetValue<string>());

        var resources = await client.GetJsonAsync("/api/emrs/ledger/care-units/desk-7/resources");
        Assert.Equal("clerk", Assert.Single(resources.AsArray())!["id"]!.GetValue<string>());

        // What the kind's connectors do not implement is NOT_SUPPORTED, not a 500.
        await client.GetProblemAsync("/api/emrs/ledger/care-units/desk-7/patients?last_name=a", HttpStatusCode.BadRequest, ErrorCodes.NotSupported);
        await client.GetProblemAsync("/api/emrs/ledger/care-units/desk-7/timeslots", HttpStatusCode.BadRequest, ErrorCodes.NotSupported);
        await client.GetProblemAsync("/api/emrs/ledger/care-units/desk-7/events", HttpStatusCode.BadRequest, ErrorCodes.NotSupported);
    }

    [Fact]
    public void A_kind_refuses_a_bad_setting_of_its_own_and_the_start_names_the_key()
    {
        using var bad = new ToyFactory { Desk = "" };
        var error = StartupError(bad);
        Assert.Contains("Emrs:ledger:Desk is required for a toy EMR", error, StringComparison.Ordinal);
    }

    [Fact]
    public void An_emr_naming_no_registered_kind_stops_the_start_listing_the_known_ones()
    {
        using var bad = new ToyFactory { Kind = "abacus" };
        var error = StartupError(bad);
        Assert.Contains("Emrs:ledger:Connector 'abacus' is not a known connector (known: cliniko, fhir, local, toy)", error, StringComparison.Ordinal);
    }

    /// <summary>
    /// The one line a start refused for its settings writes to stderr (the process then exits with 1;
    /// <c>StartupTests</c> shows that on the built server). The tests of this class run one at a time.
    /// </summary>
    private static string StartupError(ToyFactory bad)
    {
        var original = Console.Error;
        using var captured = new StringWriter();
        Console.SetError(captured);
        try
        {
            Assert.ThrowsAny<Exception>(() => bad.CreateClient());
        }
        finally
        {
            Console.SetError(original);
        }

        var line = Assert.Single(captured.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries), l => l.StartsWith("Configuration error: ", StringComparison.Ordinal));
        return line;
    }

    public sealed class ToyFactory : VardbroFactory
    {
        public string Kind { get; init; } = "toy";

        public string Desk { get; init; } = "desk-7";

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.ConfigureAppConfiguration(c => c.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Emrs:ledger:Connector"] = Kind,
                ["Emrs:ledger:Name"] = "Ledger EHR",
                ["Emrs:ledger:Desk"] = Desk,
            }));
            builder.ConfigureServices(s => s.AddSingleton<IConnectorKind, ToyKind>());
        }
    }

    /// <summary>The smallest useful kind: one setting, one care unit, read-only master data.</summary>
    private sealed class ToyKind : IConnectorKind
    {
        public string Name => "toy";

        public Type ConnectorType => typeof(ToyConnector);

        public object? ReadSettings(string code, Func<string, string?> setting, ICollection<string> problems)
        {
            var desk = setting("Desk");
            if (string.IsNullOrEmpty(desk))
            {
                problems.Add($"Emrs:{code}:Desk is required for a toy EMR.");
            }

            return desk;
        }

        public object Create(EmrDefinition emr, IServiceProvider services) => new ToyConnector((string)emr.Settings!);
    }

    private sealed class ToyConnector(string desk) : ICareUnitDirectory
    {
        private readonly CareUnit unit = new(desk, "Front desk 7", "Europe/Stockholm", null, false);

        public Task<IReadOnlyList<CareUnit>> ListCareUnitsAsync(CancellationToken cancellationToken) => Task.FromResult<IReadOnlyList<CareUnit>>([unit]);

        public Task<CareUnit?> GetCareUnitAsync(string careUnitId, CancellationToken cancellationToken) => Task.FromResult(careUnitId == desk ? unit : null);

        public Task<IReadOnlyList<Resource>> ListResourcesAsync(string careUnitId, CancellationToken cancellationToken) =>
            Task.FromResult<IReadOnlyList<Resource>>([new Resource("clerk", desk, "Clerk", null, ResourceKinds.Practitioner, null, null)]);

        public Task<Resource?> FindResourceAsync(string careUnitId, TypedId resourceId, CancellationToken cancellationToken) =>
            Task.FromResult(resourceId.Value == "clerk" ? new Resource("clerk", desk, "Clerk", null, ResourceKinds.Practitioner, null, null) : null);

        public Task<IReadOnlyList<HealthcareService>> ListHealthcareServicesAsync(string careUnitId, CancellationToken cancellationToken) =>
            Task.FromResult<IReadOnlyList<HealthcareService>>([]);
    }
}
