using Vardbro.Connectors;

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

    public static async Task<Ok<HealthcareServiceResponse[]>> ListHealthcareServices([AsParameters] CareUnitScope scope)
    {
        var (_, services) = await ListAsync(scope);
        return TypedResults.Ok(services.Select(HealthcareServiceResponse.From).ToArray());
    }

    /// <summary>The care unit's healthcare services (JSON and FHIR routes).</summary>
    internal static async Task<(CareUnit Unit, IReadOnlyList<HealthcareService> Services)> ListAsync(CareUnitScope scope)
    {
        var unit = scope.Unit;
        var services = await scope.Require<ICareUnitDirectory>().ListHealthcareServicesAsync(scope.CareUnitId, scope.CancellationToken);
        return (unit, services);
    }

    /// <summary>The care unit's healthcare service <c>healthcare_service_id</c> names; else <c>INVALID_HEALTHCARE_SERVICE_ID</c>.</summary>
    public static async Task<HealthcareService> RequireAsync(CareUnitScope scope, string serviceId)
    {
        ArgumentNullException.ThrowIfNull(scope);
        var services = await scope.Require<ICareUnitDirectory>().ListHealthcareServicesAsync(scope.Unit.Id, scope.CancellationToken);
        return services.FirstOrDefault(s => s.Id == serviceId)
            ?? throw new VardbroException(ErrorCodes.InvalidHealthcareServiceId, "No healthcare service with that id at this care unit.", "healthcare_service_id");
    }
}
