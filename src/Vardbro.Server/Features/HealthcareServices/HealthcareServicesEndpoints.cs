using Vardbro.Connectors;
using Vardbro.Server.Api;
using Vardbro.Server.Emrs;

namespace Vardbro.Server.Features.HealthcareServices;

public sealed record HealthcareServiceResponse(string Id, string EmrId, string CareUnitId, string Name, string? Description, int DurationMinutes)
{
    public static HealthcareServiceResponse From(HealthcareService x) => new(x.Id, x.Id, x.CareUnitId, x.Name, x.Description, x.DurationMinutes);
}

public static class HealthcareServicesEndpoints
{
    public static void MapHealthcareServices(this IEndpointRouteBuilder careUnit)
    {
        careUnit.MapGet("/healthcare-services", ListHealthcareServices)
            .WithTags("Discovery")
            .WithName("ListHealthcareServices")
            .WithSummary("The healthcare services (visit types) a care unit offers, with their length.");
    }

    public static async Task<Ok<HealthcareServiceResponse[]>> ListHealthcareServices(string emr, string care_unit_id, EmrConnectors connectors, CancellationToken cancellationToken)
    {
        var (_, services) = await ListAsync(emr, care_unit_id, connectors, cancellationToken);
        return TypedResults.Ok(services.Select(HealthcareServiceResponse.From).ToArray());
    }

    /// <summary>The care unit's healthcare services (JSON and FHIR routes).</summary>
    internal static async Task<(CareUnit Unit, IReadOnlyList<HealthcareService> Services)> ListAsync(
        string emr, string care_unit_id, EmrConnectors connectors, CancellationToken cancellationToken)
    {
        var unit = await CareUnits.RequireAsync(connectors, emr, care_unit_id, cancellationToken);
        var services = await connectors.Require<ICareUnitDirectory>(emr).ListHealthcareServicesAsync(care_unit_id, cancellationToken);
        return (unit, services);
    }
}
