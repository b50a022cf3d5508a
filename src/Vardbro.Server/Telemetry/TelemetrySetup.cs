using System.Diagnostics;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Vardbro.Connectors;

namespace Vardbro.Server.Telemetry;

/// <summary>
/// OpenTelemetry for the server (docs/adr/0009): traces of requests, connector calls and database
/// commands; metrics of requests, bookings, the audit writer, the outbox and connector calls. OTLP
/// export when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set (the standard variables configure it),
/// a Prometheus scrape endpoint when <c>Telemetry:Prometheus</c> is true.
/// </summary>
public static class TelemetrySetup
{
    public static WebApplicationBuilder AddVardbroTelemetry(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var otlp = !string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]);

        builder.Services.AddSingleton<OutboxBacklog>();
        builder.Services.AddSingleton<VardbroMetrics>();

        // Every log line written inside a request carries its trace and span ids in its scope; the
        // request's x-request-id is its TraceIdentifier, which ASP.NET Core puts there as RequestId.
        builder.Logging.Configure(o => o.ActivityTrackingOptions = ActivityTrackingOptions.TraceId | ActivityTrackingOptions.SpanId);

        // Added after the settings' rules and more specific than "Microsoft.AspNetCore", so it wins:
        // those lines hold raw paths and queries. RequestLogMiddleware logs the route instead.
        builder.Logging.AddFilter(RequestLogMiddleware.HostingCategory, LogLevel.Warning);

        var telemetry = builder.Services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService("vardbro", serviceVersion: typeof(TelemetrySetup).Assembly.GetName().Version?.ToString()))
            .WithTracing(t =>
            {
                t.AddSource(ConnectorTelemetry.Name)
                    .AddAspNetCoreInstrumentation(o => o.Filter = context => !IsProbe(context.Request.Path))
                    .AddHttpClientInstrumentation()
                    .AddEntityFrameworkCoreInstrumentation()

                    // First among the processors, so that no exporter sees a raw path or query.
                    .AddProcessor(new PersonalDataScrubber())

                    // Recording a span costs a request tens of microseconds: only where traces go somewhere.
                    .SetSampler(sp => new SettingSampler(sp.GetRequiredService<IConfiguration>().GetValue("Telemetry:Tracing", otlp)));
                if (otlp)
                {
                    t.AddOtlpExporter();
                }
            })
            .WithMetrics(m =>
            {
                // The rate limiter's own meter named outright: its 429s are the per-client limits at work.
                m.AddMeter(VardbroMetrics.MeterName, ConnectorTelemetry.Name, "Microsoft.AspNetCore.RateLimiting")
                    .AddAspNetCoreInstrumentation()
                    .AddHttpClientInstrumentation();
                if (otlp)
                {
                    m.AddOtlpExporter();
                }

                // Always there, cheap while nobody scrapes; whether /metrics is served is decided
                // from the settings when the app is built (MapVardbroMetrics).
                m.AddPrometheusExporter();
            });
        _ = telemetry;
        return builder;
    }

    /// <summary>Maps <c>GET /metrics</c> (Prometheus text format) when <c>Telemetry:Prometheus</c> is true.</summary>
    public static WebApplication MapVardbroMetrics(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        if (app.Configuration.GetValue("Telemetry:Prometheus", false))
        {
            app.MapPrometheusScrapingEndpoint("/metrics");
        }

        return app;
    }

    private static bool IsProbe(PathString path) =>
        path.StartsWithSegments("/healthz", StringComparison.OrdinalIgnoreCase) || path.StartsWithSegments("/readyz", StringComparison.OrdinalIgnoreCase);
}

/// <summary>
/// Records every span when <c>Telemetry:Tracing</c> is true (the default when an OTLP endpoint is
/// set), none otherwise; read when the app is built, so a test host's settings count.
/// </summary>
public sealed class SettingSampler(bool on) : Sampler
{
    private static readonly SamplingResult Record = new(SamplingDecision.RecordAndSample);
    private static readonly SamplingResult Skip = new(SamplingDecision.Drop);

    public override SamplingResult ShouldSample(in SamplingParameters samplingParameters) => on ? Record : Skip;
}

/// <summary>
/// Takes raw paths and queries out of every span before an exporter sees it: a server span keeps its
/// route template (<c>/api/emrs/{emr}/care-units/{care_unit_id}/patients/{patient_id}</c>) in place of
/// the path, a client span the scheme and host of the URL it called. Paths and queries carry typed
/// patient ids (personal numbers), names and phones.
/// </summary>
public sealed class PersonalDataScrubber : BaseProcessor<Activity>
{
    public override void OnEnd(Activity data)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (data.GetTagItem("url.path") is not null)
        {
            data.SetTag("url.path", data.GetTagItem("http.route") as string ?? "(unrouted)");
        }

        if (data.GetTagItem("url.query") is not null)
        {
            data.SetTag("url.query", null);
        }

        if (data.GetTagItem("url.full") is string full)
        {
            data.SetTag("url.full", Uri.TryCreate(full, UriKind.Absolute, out var uri) ? uri.GetLeftPart(UriPartial.Authority) + "/" : null);
        }

        if (data.Kind == ActivityKind.Server && data.GetTagItem("http.route") is null)
        {
            // An unrouted request's name would otherwise be nothing but its method; keep it so.
            data.DisplayName = data.GetTagItem("http.request.method") as string ?? data.DisplayName;
        }
    }
}
