using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Vardbro.Connectors;
using Vardbro.Server.Api;
using Vardbro.Server.Emrs;
using Vardbro.Server.Storage;

namespace Vardbro.Server.Features.Health;

/// <summary>One check of a report: <c>Healthy</c>, <c>Degraded</c> or <c>Unhealthy</c>, and how long it took.</summary>
public sealed record HealthCheckEntry(string Name, string Status, double DurationMs, string? Description);

/// <summary>The report: the worst status of its checks, and every check.</summary>
public sealed record HealthResponse(string Status, IReadOnlyList<HealthCheckEntry> Checks);

/// <summary><c>Health:*</c>.</summary>
public sealed class HealthOptions
{
    public const string Section = "Health";

    /// <summary>How long one EMR back end's check may take before it counts as degraded.</summary>
    [Range(0.1, 60, ErrorMessage = "must be a number of seconds from 0.1 to 60.")]
    public double EmrTimeoutSeconds { get; set; } = 5;
}

/// <summary>
/// Liveness and readiness from the standard health checks (ADR 7). <c>/healthz</c> runs no check: the
/// process answers. <c>/readyz</c> runs, at the same time, the <c>database</c> check (Unhealthy → 503:
/// without its database an instance serves nothing) and one <c>emr:&lt;code&gt;</c> check per configured
/// EMR, each limited to <c>Health:EmrTimeoutSeconds</c> and at worst <c>Degraded</c> (still 200): one
/// EHR being down must not take out an instance that serves every other EMR.
/// </summary>
public static class HealthEndpoints
{
    public const string DatabaseCheck = "database";

    public static IServiceCollection AddVardbroHealthChecks(this IServiceCollection services)
    {
        services.AddSettings<HealthOptions>(HealthOptions.Section);
        services.AddHealthChecks().AddDbContextCheck<VardbroDb>(DatabaseCheck, HealthStatus.Unhealthy);
        services.AddSingleton<IConfigureOptions<HealthCheckServiceOptions>, EmrChecks>();
        return services;
    }

    public static void MapHealth(this IEndpointRouteBuilder app)
    {
        app.MapGet("/healthz", Healthz).WithTags("Operations").WithName("Healthz").WithSummary("Liveness: the process answers (no check is run).");
        app.MapGet("/readyz", Readyz).WithTags("Operations").WithName("Readyz")
            .Produces<HealthResponse>(StatusCodes.Status503ServiceUnavailable)
            .WithSummary("Readiness: 200 while the database answers (503 when it does not); every EMR back end's check is listed, and one that is down is Degraded without failing readiness.");
    }

    public static async Task<Ok<HealthResponse>> Healthz(HealthCheckService health, HttpResponse response, CancellationToken cancellationToken)
    {
        var report = await health.CheckHealthAsync(_ => false, cancellationToken);
        NoStore(response);
        return TypedResults.Ok(From(report));
    }

    public static async Task<Results<Ok<HealthResponse>, JsonHttpResult<HealthResponse>>> Readyz(HealthCheckService health, HttpResponse response, CancellationToken cancellationToken)
    {
        var report = await health.CheckHealthAsync(cancellationToken);
        NoStore(response);
        var body = From(report);
        return report.Status == HealthStatus.Unhealthy ? TypedResults.Json(body, statusCode: StatusCodes.Status503ServiceUnavailable) : TypedResults.Ok(body);
    }

    private static void NoStore(HttpResponse response) => response.Headers.CacheControl = "no-store";

    private static HealthResponse From(HealthReport report) => new(
        Name(report.Status),
        report.Entries.OrderBy(e => e.Key, StringComparer.Ordinal)
            .Select(e => new HealthCheckEntry(e.Key, Name(e.Value.Status), Math.Round(e.Value.Duration.TotalMilliseconds, 1), Describe(e.Value)))
            .ToList());

    // A check that threw is described by kind only: the exception's text stays in the log.
    private static string? Describe(HealthReportEntry entry) => entry.Exception switch
    {
        null => entry.Description,
        OperationCanceledException => "No answer within the check's time limit.",
        _ => "The check failed; the server log has the reason.",
    };

    // The framework's own names, as every health check tool reads them.
    private static string Name(HealthStatus status) => status.ToString();

    /// <summary>One check per configured EMR, whatever its connector kind, named <c>emr:&lt;code&gt;</c>.</summary>
    private sealed class EmrChecks(EmrCatalog catalog, IOptions<HealthOptions> options) : IConfigureOptions<HealthCheckServiceOptions>
    {
        public void Configure(HealthCheckServiceOptions checks)
        {
            var timeout = TimeSpan.FromSeconds(options.Value.EmrTimeoutSeconds);
            foreach (var emr in catalog.All)
            {
                var code = emr.Code;
                checks.Registrations.Add(new HealthCheckRegistration(
                    "emr:" + code, sp => new EmrHealthCheck(code, sp.GetRequiredService<EmrConnectors>()), HealthStatus.Degraded, ["emr"], timeout));
            }
        }
    }

    /// <summary>
    /// Asks the EMR's connector whether its back end answers (<see cref="IHealthProbe"/>); a connector
    /// without a probe has nothing to be down. The description never carries the failure's own text
    /// (it may name internal hosts, and <c>/readyz</c> is public); the health check log does.
    /// </summary>
    private sealed class EmrHealthCheck(string emr, EmrConnectors connectors) : IHealthCheck
    {
        public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken)
        {
            if (connectors.Find<IHealthProbe>(emr) is not { } probe)
            {
                return HealthCheckResult.Healthy("The connector has no probe.");
            }

            return await probe.IsReachableAsync(cancellationToken)
                ? HealthCheckResult.Healthy()
                : new HealthCheckResult(context.Registration.FailureStatus, "The EHR back end does not answer.");
        }
    }
}
