using Vardbro.Connectors;
using Vardbro.Server.Api;
using Vardbro.Server.Emrs;

namespace Vardbro.Server.Features.Resources;

public sealed record ResourceResponse(
    string Id,
    string EmrId,
    string CareUnitId,
    string Name,
    string? Title,
    string Kind,
    string? HsaId,
    string? SePersonalNumber)
{
    public static ResourceResponse From(Resource x) => new(x.Id, x.Id, x.CareUnitId, x.Name, x.Title, x.Kind, x.HsaId, x.SePersonalNumber);
}

public static class ResourcesEndpoints
{
    public static void MapResources(this IEndpointRouteBuilder careUnit)
    {
        var group = careUnit.MapGroup("/resources").WithTags("Discovery");
        group.MapGet("/", ListResources).WithName("ListResources").WithSummary("The practitioners, rooms and equipment of a care unit.");
        group.MapGet("/{resource_id}", GetResource).WithName("GetResource").WithSummary("One resource, by any typed id the EMR accepts (emr_id, hsa_id, …).");
    }

    public static async Task<Ok<ResourceResponse[]>> ListResources(string emr, string care_unit_id, EmrConnectors connectors, CancellationToken cancellationToken)
    {
        var (_, resources) = await ListAsync(emr, care_unit_id, connectors, cancellationToken);
        return TypedResults.Ok(resources.Select(ResourceResponse.From).ToArray());
    }

    /// <summary>The care unit's resources (JSON and FHIR routes).</summary>
    internal static async Task<(CareUnit Unit, IReadOnlyList<Resource> Resources)> ListAsync(string emr, string care_unit_id, EmrConnectors connectors, CancellationToken cancellationToken)
    {
        var unit = await CareUnits.RequireAsync(connectors, emr, care_unit_id, cancellationToken);
        var resources = await connectors.Require<ICareUnitDirectory>(emr).ListResourcesAsync(care_unit_id, cancellationToken);
        return (unit, resources);
    }

    public static async Task<Ok<ResourceResponse>> GetResource(
        string emr, string care_unit_id, string resource_id, EmrConnectors connectors, TimeProvider time, CancellationToken cancellationToken)
    {
        var (_, resource) = await ReadAsync(emr, care_unit_id, resource_id, connectors, time, cancellationToken);
        return TypedResults.Ok(ResourceResponse.From(resource));
    }

    /// <summary>One resource by a path's typed id; 404 when absent (JSON and FHIR routes).</summary>
    internal static async Task<(CareUnit Unit, Resource Resource)> ReadAsync(
        string emr, string care_unit_id, string resource_id, EmrConnectors connectors, TimeProvider time, CancellationToken cancellationToken)
    {
        var unit = await CareUnits.RequireAsync(connectors, emr, care_unit_id, cancellationToken);
        var resource = await FindAsync(connectors, emr, unit, resource_id, time, "resource_id", cancellationToken)
            ?? throw new VardbroException(ErrorCodes.NotFound, "No resource with that id at this care unit.", "resource_id");
        return (unit, resource);
    }

    /// <summary>A resource of the care unit by a typed id; a malformed id is refused, an unknown one is null.</summary>
    public static Task<Resource?> FindAsync(EmrConnectors connectors, string emr, CareUnit unit, string rawId, TimeProvider time, string path, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connectors);
        ArgumentNullException.ThrowIfNull(unit);
        var id = Ids.Resource(connectors.Definition(emr), rawId, Http.Today(time, unit.TimeZone), path);
        return connectors.Require<ICareUnitDirectory>(emr).FindResourceAsync(unit.Id, id, cancellationToken);
    }
}
