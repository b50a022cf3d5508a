using System.Threading.RateLimiting;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Logging;
using Polly;

namespace Vardbro.Connectors.Cliniko;

/// <summary>
/// The HTTP clients one Cliniko EMR is reached with, built once per EMR and kept for the server's
/// life so that every request of that EMR in this process shares one rate budget and one pool of
/// connections. <see cref="Api"/>: retries with backoff for reads only, then the rate gate, then
/// Cliniko's headers; redirects are not followed (an attachment's content answers with a presigned
/// URL that must be fetched without Cliniko's credentials). <see cref="Storage"/>: the plain client
/// for those presigned S3 URLs.
/// </summary>
public sealed class ClinikoTransport : IDisposable
{
    /// <summary>Cliniko counts requests per 60 seconds (readme.md "Rate limits").</summary>
    internal static readonly TimeSpan Window = TimeSpan.FromSeconds(60);

    private ClinikoTransport(ClinikoSettings settings, HttpClient api, HttpClient storage, ClinikoRateGate gate)
    {
        Settings = settings;
        Api = api;
        Storage = storage;
        Gate = gate;
    }

    public ClinikoSettings Settings { get; }

    public HttpClient Api { get; }

    public HttpClient Storage { get; }

    internal ClinikoRateGate Gate { get; }

    public static ClinikoTransport Create(ClinikoSettings settings, TimeProvider time, ILogger logger) =>
        Create(settings, time, logger, Window);

    /// <param name="window">The rate window; tests shorten it (the peer's window can be shortened too).</param>
    internal static ClinikoTransport Create(ClinikoSettings settings, TimeProvider time, ILogger logger, TimeSpan window)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(logger);
        var gate = new ClinikoRateGate(settings.RequestsPerMinute, window, time);
        HttpMessageHandler handler = new ClinikoRateLimitHandler(settings, gate, time, logger)
        {
            InnerHandler = new ClinikoHeadersHandler(settings)
            {
                InnerHandler = new SocketsHttpHandler
                {
                    PooledConnectionLifetime = TimeSpan.FromMinutes(5),
                    ConnectTimeout = settings.Timeout,
                    AllowAutoRedirect = false,
                    AutomaticDecompression = DecompressionMethods.All,
                },
            },
        };

        if (settings.ReadRetries > 0)
        {
            var retry = ConnectorHttp.ReadRetries(settings.ReadRetries);

            // A 429 is waited out by the rate gate below; what reaches the retry is final.
            retry.ShouldRetryAfterHeader = false;
            var pipeline = new ResiliencePipelineBuilder<HttpResponseMessage> { TimeProvider = time }.AddRetry(retry).Build();
            handler = new ResilienceHandler(pipeline) { InnerHandler = handler };
        }

        var measured = ConnectorTelemetry.Handler(ClinikoConnectorKind.KindName, settings.Code, settings.BaseUrl);
        measured.InnerHandler = handler;
        var api = new HttpClient(measured)
        {
            BaseAddress = settings.BaseUrl,

            // Each call's deadline is kept by the rate gate (ClinikoHttp sets it); HttpClient's own
            // limit would surface as a different exception.
            Timeout = Timeout.InfiniteTimeSpan,
        };
        var storage = new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5), ConnectTimeout = settings.Timeout })
        {
            Timeout = settings.Timeout,
        };
        storage.DefaultRequestHeaders.UserAgent.ParseAdd("Vardbro");
        return new ClinikoTransport(settings, api, storage, gate);
    }

    public void Dispose()
    {
        Api.Dispose();
        Storage.Dispose();
        Gate.Dispose();
    }
}

/// <summary>What every Cliniko request carries (readme.md "Authentication", "Identifying your application").</summary>
internal sealed class ClinikoHeadersHandler(ClinikoSettings settings) : DelegatingHandler
{
    private readonly AuthenticationHeaderValue authorization =
        new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(settings.ApiKey + ":")));

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        request.Headers.Authorization = authorization;
        request.Headers.Remove("User-Agent");
        request.Headers.TryAddWithoutValidation("User-Agent", settings.UserAgent);
        request.Headers.Accept.Clear();
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        return base.SendAsync(request, cancellationToken);
    }
}

/// <summary>
/// The EMR's request budget in this process: at most <c>RequestsPerMinute</c> requests reach Cliniko
/// in any window. Each request holds a permit of a <see cref="ConcurrencyLimiter"/> from before it is
/// sent until one window after its answer came back (by then it had surely arrived), so the requests
/// arriving in any window-long interval all held their permits at once — whatever the network's
/// delays, and wherever Cliniko's window opens (at its first request). A fixed or segmented sliding
/// window would let twice the limit through across a boundary. After a 429 every request of the EMR
/// waits for Cliniko's reset.
/// </summary>
internal sealed class ClinikoRateGate(int permits, TimeSpan window, TimeProvider time) : IDisposable
{
    // A little over the window, for clocks that tick in milliseconds on both sides.
    private readonly TimeSpan hold = window + TimeSpan.FromMilliseconds(20);

    private readonly ConcurrencyLimiter limiter = new(new ConcurrencyLimiterOptions
    {
        PermitLimit = permits,
        QueueLimit = int.MaxValue,
        QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
    });

    private long pausedUntilTicks;

    public DateTimeOffset PausedUntil => new(Interlocked.Read(ref pausedUntilTicks), TimeSpan.Zero);

    public void PauseUntil(DateTimeOffset until)
    {
        long seen;
        do
        {
            seen = Interlocked.Read(ref pausedUntilTicks);
            if (until.UtcTicks <= seen)
            {
                return;
            }
        }
        while (Interlocked.CompareExchange(ref pausedUntilTicks, until.UtcTicks, seen) != seen);
    }

    /// <summary>A permit for one request (give it to <see cref="Release"/> once the answer is in), or null when none comes before <paramref name="deadline"/>.</summary>
    public async Task<RateLimitLease?> TakeAsync(DateTimeOffset deadline, CancellationToken cancellationToken)
    {
        var pause = PausedUntil - time.GetUtcNow();
        if (pause > TimeSpan.Zero)
        {
            if (time.GetUtcNow() + pause >= deadline)
            {
                return null;
            }

            await Task.Delay(pause, time, cancellationToken);
        }

        var left = deadline - time.GetUtcNow();
        if (left <= TimeSpan.Zero)
        {
            return null;
        }

        using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        wait.CancelAfter(left);
        RateLimitLease lease;
        try
        {
            lease = await limiter.AcquireAsync(1, wait.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return null;
        }

        if (!lease.IsAcquired)
        {
            lease.Dispose();
            return null;
        }

        return lease;
    }

    /// <summary>Gives the permit back one window after the request's answer (or failure) came in.</summary>
    public void Release(RateLimitLease lease) => _ = ReleaseLaterAsync(lease);

    private async Task ReleaseLaterAsync(RateLimitLease lease)
    {
        try
        {
            await Task.Delay(hold, time);
        }
        finally
        {
            lease.Dispose();
        }
    }

    public void Dispose() => limiter.Dispose();
}

/// <summary>
/// Takes a permit of the EMR's <see cref="ClinikoRateGate"/> for every request (retries included),
/// keeps the call's deadline, and waits out a 429 until Cliniko's <c>X-RateLimit-Reset</c> (or a
/// <c>Retry-After</c>) when that comes before the deadline; otherwise the EMR is unavailable (503).
/// </summary>
internal sealed class ClinikoRateLimitHandler(ClinikoSettings settings, ClinikoRateGate gate, TimeProvider time, ILogger logger) : DelegatingHandler
{
    public static readonly HttpRequestOptionsKey<DateTimeOffset> Deadline = new("Vardbro.Cliniko.Deadline");

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var deadline = request.Options.TryGetValue(Deadline, out var given) ? given : time.GetUtcNow() + settings.Timeout;
        while (true)
        {
            var lease = await gate.TakeAsync(deadline, cancellationToken);
            if (lease is null)
            {
                ClinikoLog.RateBudgetSpent(logger, settings.Code, settings.RequestsPerMinute);
                throw new EmrUnavailableException("The EMR's request budget is spent for now; try again shortly.");
            }

            using var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            attempt.CancelAfter(deadline - time.GetUtcNow() is { } left && left > TimeSpan.Zero ? left : TimeSpan.FromMilliseconds(1));
            HttpResponseMessage response;
            try
            {
                response = await base.SendAsync(request, attempt.Token);
            }
            catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
            {
                throw new EmrUnavailableException("The EMR did not answer in time.", ex) { TimedOut = true };
            }
            finally
            {
                gate.Release(lease);
            }

            if (response.StatusCode != HttpStatusCode.TooManyRequests)
            {
                return response;
            }

            var reset = ResetOf(response);
            response.Dispose();
            gate.PauseUntil(reset);
            ClinikoLog.RateLimited(logger, settings.Code, (reset - time.GetUtcNow()).TotalSeconds);
            if (reset >= deadline)
            {
                throw new EmrUnavailableException("The EMR's rate limit is reached; try again after its reset.");
            }
        }
    }

    /// <summary>When Cliniko lets requests through again: <c>Retry-After</c>, else <c>X-RateLimit-Reset</c> (Unix seconds), else in a second.</summary>
    private DateTimeOffset ResetOf(HttpResponseMessage response)
    {
        var now = time.GetUtcNow();
        if (response.Headers.RetryAfter is { } retryAfter)
        {
            if (retryAfter.Delta is { } delta)
            {
                return now + delta;
            }

            if (retryAfter.Date is { } date)
            {
                return date;
            }
        }

        if (response.Headers.TryGetValues("X-RateLimit-Reset", out var values)
            && long.TryParse(values.FirstOrDefault(), NumberStyles.None, CultureInfo.InvariantCulture, out var unix))
        {
            // Cliniko's reset is in whole seconds; the window may end just before that second's start.
            return DateTimeOffset.FromUnixTimeSeconds(unix) + TimeSpan.FromMilliseconds(100);
        }

        return now + TimeSpan.FromSeconds(1);
    }
}

/// <summary>Operator log lines: the EMR code and the problem, never personal data.</summary>
internal static partial class ClinikoLog
{
    [LoggerMessage(EventId = 1701, Level = LogLevel.Warning, Message = "EMR {Emr}: Cliniko answered 429 (rate limit); requests pause for {Seconds:F1} s.")]
    public static partial void RateLimited(ILogger logger, string emr, double seconds);

    [LoggerMessage(EventId = 1702, Level = LogLevel.Warning, Message = "EMR {Emr}: the budget of {RequestsPerMinute} requests per minute is spent; a request gave up waiting.")]
    public static partial void RateBudgetSpent(ILogger logger, string emr, int requestsPerMinute);

    [LoggerMessage(EventId = 1703, Level = LogLevel.Error, Message = "EMR {Emr}: Cliniko answered HTTP {Status} to {Method} {Resource}.")]
    public static partial void BadAnswer(ILogger logger, string emr, int status, string method, string resource);

    [LoggerMessage(EventId = 1704, Level = LogLevel.Error, Message = "EMR {Emr}: Cliniko answered HTTP {Status} to {Method} {Resource}: the API key or its user's role is refused.")]
    public static partial void Refused(ILogger logger, string emr, int status, string method, string resource);

    [LoggerMessage(EventId = 1705, Level = LogLevel.Warning, Message = "EMR {Emr}: Cliniko cannot be reached ({Problem}).")]
    public static partial void Unreachable(ILogger logger, string emr, string problem);
}
