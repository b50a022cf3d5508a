using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Vardbro.Connectors;

/// <summary>
/// A span and a duration measurement for every call a connector makes to its EHR. Names and tags
/// carry the EMR code, the connector kind, the method and the kind of resource called (the first
/// path segment under the EHR's base URL: <c>Patient</c>, <c>appointments</c>), never a URL, an id
/// or a query, which can hold personal numbers and names.
/// </summary>
public static class ConnectorTelemetry
{
    public const string Name = "Vardbro.Connectors";

    public static readonly ActivitySource Source = new(Name);

    private static readonly Meter Meter = new(Name);

    private static readonly Histogram<double> Duration = Meter.CreateHistogram(
        "vardbro.connector.call.duration",
        "s",
        "Calls from a connector to its EHR, by EMR, connector, resource and outcome.",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10] });

    private static readonly Counter<long> Errors = Meter.CreateCounter<long>(
        "vardbro.connector.call.errors", "{call}", "Connector calls that failed: no answer, or an answer of 5xx, 429, 401 or 403.");

    /// <summary>The outermost handler of a connector's HTTP client: one span and one measurement per call, retries inside it.</summary>
    public static DelegatingHandler Handler(string connector, string emr, Uri baseUrl) => new CallHandler(connector, emr, baseUrl);

    /// <summary>The first path segment of <paramref name="uri"/> under <paramref name="baseUrl"/>, if it is a name; else <c>other</c>.</summary>
    public static string ResourceOf(Uri? uri, Uri baseUrl)
    {
        ArgumentNullException.ThrowIfNull(baseUrl);
        if (uri is null || !uri.IsAbsoluteUri || !string.Equals(uri.Authority, baseUrl.Authority, StringComparison.OrdinalIgnoreCase))
        {
            return "other";
        }

        var basePath = baseUrl.AbsolutePath.TrimEnd('/');
        var path = uri.AbsolutePath;
        if (!path.StartsWith(basePath, StringComparison.Ordinal))
        {
            return "other";
        }

        var rest = path[basePath.Length..].TrimStart('/');
        var segment = rest.Split('/', 2)[0];
        if (segment.Length == 0)
        {
            return "root";
        }

        // A name of the API (Patient, $find, appointment_types), never an id: ids have digits.
        return segment.Length <= 40 && segment.All(c => char.IsAsciiLetter(c) || c is '_' or '-' or '$') ? segment : "other";
    }

    private sealed class CallHandler(string connector, string emr, Uri baseUrl) : DelegatingHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var resource = ResourceOf(request.RequestUri, baseUrl);
            var method = request.Method.Method;
            using var activity = Source.StartActivity($"{connector} {method} {resource}", ActivityKind.Client);
            activity?.SetTag("vardbro.emr", emr);
            activity?.SetTag("vardbro.connector", connector);
            activity?.SetTag("vardbro.connector.resource", resource);
            activity?.SetTag("http.request.method", method);
            var started = Stopwatch.GetTimestamp();
            string outcome;
            try
            {
                var response = await base.SendAsync(request, cancellationToken);
                var status = (int)response.StatusCode;
                activity?.SetTag("http.response.status_code", status);
                outcome = status >= 500 || status is 429 or 401 or 403 ? "error" : "ok";
                if (outcome == "error")
                {
                    activity?.SetStatus(ActivityStatusCode.Error, $"HTTP {status}");
                }

                Record(started, resource, method, outcome, status.ToString(System.Globalization.CultureInfo.InvariantCulture));
                return response;
            }
            catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException or TimeoutException)
            {
                var type = ex.GetType().Name;
                activity?.SetStatus(ActivityStatusCode.Error, type);
                activity?.SetTag("error.type", type);
                Record(started, resource, method, "error", type);
                throw;
            }
        }

        private void Record(long started, string resource, string method, string outcome, string result)
        {
            var tags = new TagList
            {
                { "vardbro.emr", emr },
                { "vardbro.connector", connector },
                { "vardbro.connector.resource", resource },
                { "http.request.method", method },
                { "vardbro.outcome", outcome },
            };
            Duration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, tags);
            if (outcome == "error")
            {
                tags.Add("error.type", result);
                Errors.Add(1, tags);
            }
        }
    }
}
