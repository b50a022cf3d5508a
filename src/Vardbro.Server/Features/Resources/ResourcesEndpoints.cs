using System.ComponentModel.DataAnnotations;
using Vardbro.Connectors;
using Vardbro.Server.Api;

namespace Vardbro.Server.Features.Resources;

public sealed record ResourceResponse(
    string Id,
    string EmrId,
    string CareUnitId,
    string Name,
    string? Title,
    [property: AllowedValues(ResourceKinds.Practitioner, ResourceKinds.Room, ResourceKinds.Equipment)] string Kind,
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

    public static async Task<Ok<ResourceResponse[]>> ListResources([AsParameters] CareUnitScope scope)
    {
        var (_, resources) = await ListAsync(scope);
        return TypedResults.Ok(resources.Select(ResourceResponse.From).ToArray());
    }

    /// <summary>The care unit's resources (JSON and FHIR routes).</summary>
    internal static async Task<(CareUnit Unit, IReadOnlyList<Resource> Resources)> ListAsync(CareUnitScope scope)
    {
        var unit = scope.Unit;
        var resources = await scope.Require<ICareUnitDirectory>().ListResourcesAsync(scope.CareUnitId, scope.CancellationToken);
        return (unit, resources);
    }

    public static async Task<Ok<ResourceResponse>> GetResource([AsParameters] CareUnitScope scope, string resource_id)
    {
        var resource = await RequireAsync(scope, resource_id);
        return TypedResults.Ok(ResourceResponse.From(resource));
    }

    /// <summary>A resource of the care unit by a typed id; a malformed id is refused on <paramref name="path"/>, an unknown one is null.</summary>
    public static Task<Resource?> FindAsync(CareUnitScope scope, string rawId, string path)
    {
        ArgumentNullException.ThrowIfNull(scope);
        return FindAsync(scope, Ids.Resource(scope.Definition, rawId, scope.Today, path));
    }

    /// <summary>A resource of the care unit by a parsed typed id; null when unknown.</summary>
    public static Task<Resource?> FindAsync(CareUnitScope scope, TypedId id)
    {
        ArgumentNullException.ThrowIfNull(scope);
        return scope.Require<ICareUnitDirectory>().FindResourceAsync(scope.Unit.Id, id, scope.CancellationToken);
    }

    /// <summary>The resource a <c>resource_id</c> names, by any typed id the EMR accepts; 404 when absent.</summary>
    public static async Task<Resource> RequireAsync(CareUnitScope scope, string rawId) =>
        await FindAsync(scope, rawId, "resource_id") ?? throw NotFound();

    /// <summary>The resource a parsed <c>resource_id</c> names; 404 when absent.</summary>
    public static async Task<Resource> RequireAsync(CareUnitScope scope, TypedId id) =>
        await FindAsync(scope, id) ?? throw NotFound();

    /// <summary><c>created_by_id</c>: a resource of this care unit, by any typed id; else <c>INVALID_CREATED_BY_ID</c> in <paramref name="errors"/>.</summary>
    public static async Task<string?> CreatedByAsync(CareUnitScope scope, string? raw, List<ApiError> errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        if (string.IsNullOrEmpty(raw))
        {
            errors.Add(new ApiError(ErrorCodes.MissingRequiredField, "created_by_id is required: a resource id of this care unit.", "created_by_id"));
            return null;
        }

        try
        {
            if (await FindAsync(scope, raw, "created_by_id") is { } resource)
            {
                return resource.Id;
            }
        }
        catch (VardbroException)
        {
        }

        errors.Add(new ApiError(ErrorCodes.InvalidCreatedById, "created_by_id must name a resource of this care unit (GET …/resources).", "created_by_id"));
        return null;
    }

    private static VardbroException NotFound() => new(ErrorCodes.NotFound, "No resource with that id at this care unit.", "resource_id");
}
