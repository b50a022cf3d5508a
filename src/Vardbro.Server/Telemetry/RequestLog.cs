using System.Diagnostics;

namespace Vardbro.Server.Telemetry;

/// <summary>
/// One line per request under category <c>Vardbro.Requests</c> (off unless set to Information):
/// method, route template, status, time and request id. It stands in for ASP.NET Core's
/// "Request starting/finished" lines, which carry the raw path and query (typed patient ids, names,
/// phones) and are therefore kept below Warning whatever the settings say.
/// </summary>
public sealed partial class RequestLogMiddleware(RequestDelegate next, ILoggerFactory loggers)
{
    public const string Category = "Vardbro.Requests";

    /// <summary>ASP.NET Core's own request lines; filtered to Warning in <see cref="TelemetrySetup"/>.</summary>
    public const string HostingCategory = "Microsoft.AspNetCore.Hosting.Diagnostics";

    private readonly ILogger logger = loggers.CreateLogger(Category);

    public async Task InvokeAsync(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (!logger.IsEnabled(LogLevel.Information))
        {
            await next(context);
            return;
        }

        var started = Stopwatch.GetTimestamp();
        try
        {
            await next(context);
        }
        finally
        {
            var route = (context.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText ?? "(unrouted)";
            var elapsedMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            LogRequest(logger, context.Request.Method, route, context.Response.StatusCode, elapsedMs, context.TraceIdentifier);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "{Method} {Route} answered {Status} in {ElapsedMs:0.0} ms (request {RequestId})")]
    private static partial void LogRequest(ILogger logger, string method, string route, int status, double elapsedMs, string requestId);
}
