using Vardbro.Connectors;
using Vardbro.Server.Emrs;
using Vardbro.Server.Storage;

namespace Vardbro.Server.Features.Health;

public sealed record HealthResponse(string Status);

public sealed record ReadinessResponse(string Status, string Database, IReadOnlyDictionary<string, string> Emrs);

public static class HealthEndpoints
{
    public static void MapHealth(this IEndpointRouteBuilder app)
    {
        app.MapGet("/healthz", Healthz).WithTags("Operations").WithName("Healthz").WithSummary("The process is up.");
        app.MapGet("/readyz", Readyz).WithTags("Operations").WithName("Readyz").WithSummary("The database and every EMR back end are reachable.");
    }

    public static Ok<HealthResponse> Healthz() => TypedResults.Ok(new HealthResponse("ok"));

    public static async Task<Results<Ok<ReadinessResponse>, JsonHttpResult<ReadinessResponse>>> Readyz(VardbroDb db, EmrCatalog catalog, EmrConnectors connectors, CancellationToken cancellationToken)
    {
        var database = await CanConnectAsync(() => db.Database.CanConnectAsync(cancellationToken));
        var emrs = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var emr in catalog.All)
        {
            var probe = connectors.Find<IHealthProbe>(emr.Code);
            emrs[emr.Code] = probe is null || await CanConnectAsync(() => probe.IsReachableAsync(cancellationToken)) ? "ok" : "unreachable";
        }

        var ready = database && emrs.Values.All(v => v == "ok");
        var body = new ReadinessResponse(ready ? "ready" : "not_ready", database ? "ok" : "unreachable", emrs);
        return ready ? TypedResults.Ok(body) : TypedResults.Json(body, statusCode: 503);
    }

    private static async Task<bool> CanConnectAsync(Func<Task<bool>> probe)
    {
        try
        {
            return await probe();
        }
#pragma warning disable CA1031 // any failure to reach a dependency means "not ready"
        catch (Exception)
#pragma warning restore CA1031
        {
            return false;
        }
    }
}
