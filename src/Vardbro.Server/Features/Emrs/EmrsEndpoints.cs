using Vardbro.Connectors;
using Vardbro.Server.Api;
using Vardbro.Server.Emrs;

namespace Vardbro.Server.Features.Emrs;

public sealed record EmrResponse(
    string Code,
    string Name,
    string Connector,
    IReadOnlyList<string> PatientIdTypes,
    IReadOnlyList<string> ResourceIdTypes,
    IReadOnlyList<string> Capabilities);

public sealed record CareUnitResponse(string Id, string Name, string EmrId, string TimeZone, string? Address, bool RequiresConfirmation)
{
    public static CareUnitResponse From(CareUnit x) => new(x.Id, x.Name, x.Id, x.TimeZone, x.Address, x.RequiresConfirmation);
}

public static class EmrsEndpoints
{
    public static void MapEmrs(this IEndpointRouteBuilder api)
    {
        var group = api.MapGroup("/emrs").WithTags("Discovery");
        group.MapGet("/", ListEmrs).WithName("ListEmrs").WithSummary("The EMRs this client may use, with the id types and capabilities of each.");
        group.MapGet("/{emr}/care-units", ListCareUnits).WithName("ListCareUnits").WithSummary("The care units of an EMR that this client may use.");
    }

    public static Ok<EmrResponse[]> ListEmrs(HttpContext http, EmrCatalog catalog)
    {
        var client = ClientContext.Of(http);
        return TypedResults.Ok(catalog.All
            .Where(e => client.MayUse(e.Code))
            .Select(e => new EmrResponse(
                e.Code, e.Name, e.Connector,
                e.PatientIdTypes.Select(IdTypes.Name).ToList(),
                e.ResourceIdTypes.Select(IdTypes.Name).ToList(),
                EmrConnectors.Capabilities(catalog, e)))
            .ToArray());
    }

    public static async Task<Ok<CareUnitResponse[]>> ListCareUnits(string emr, HttpContext http, EmrConnectors connectors, CancellationToken cancellationToken)
    {
        var client = ClientContext.Of(http);
        var units = await connectors.Require<ICareUnitDirectory>(emr).ListCareUnitsAsync(cancellationToken);
        return TypedResults.Ok(units.Where(u => client.MayUse(emr, u.Id)).Select(CareUnitResponse.From).ToArray());
    }
}
