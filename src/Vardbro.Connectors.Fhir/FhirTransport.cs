using Microsoft.Extensions.Http.Resilience;
using Polly;
using Vardbro.Connectors.Fhir.Auth;

namespace Vardbro.Connectors.Fhir;

/// <summary>
/// The HttpClient one FHIR EMR is reached with, built once per EMR and kept for the server's life
/// (so its token cache and connections are shared): a total time limit, retries with backoff for
/// reads only, the EMR's authentication, pooled connections renewed every few minutes.
/// </summary>
public static class FhirTransport
{
    /// <param name="emr">The EMR code its calls are measured under (<see cref="ConnectorTelemetry"/>).</param>
    public static HttpClient Create(FhirSettings settings, FhirAuthSettings auth, TimeProvider time, string emr = "fhir")
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(auth);
        ArgumentNullException.ThrowIfNull(time);

        var pipeline = new ResiliencePipelineBuilder<HttpResponseMessage> { TimeProvider = time }
            .AddTimeout(settings.Timeout);
        if (settings.ReadRetries > 0)
        {
            pipeline.AddRetry(ConnectorHttp.ReadRetries(settings.ReadRetries));
        }

        var network = new SocketsHttpHandler
        {
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            ConnectTimeout = settings.Timeout,
            AutomaticDecompression = System.Net.DecompressionMethods.All,
        };
        var tokenTransport = new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) }) { Timeout = settings.Timeout };
        var authentication = new FhirAuthHandler(auth, tokenTransport, time) { InnerHandler = network };
        var resilience = new ResilienceHandler(pipeline.Build()) { InnerHandler = authentication };
        var measured = ConnectorTelemetry.Handler(FhirConnectorKind.KindName, emr, settings.BaseUrl);
        measured.InnerHandler = resilience;
        return new HttpClient(measured)
        {
            BaseAddress = settings.BaseUrl,

            // The pipeline's own limit applies; HttpClient's would surface as a different exception.
            Timeout = Timeout.InfiniteTimeSpan,
        };
    }
}
