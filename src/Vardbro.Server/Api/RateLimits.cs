using System.ComponentModel.DataAnnotations;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;
using Vardbro.Connectors;
using Vardbro.Server.Emrs;

namespace Vardbro.Server.Api;

/// <summary>
/// <c>RateLimits:*</c>. Each limit is a token bucket: <c>Burst</c> requests at once, refilled evenly at
/// <c>RequestsPerMinute</c>. Kept in this process's memory: several instances behind one load balancer
/// each allow the full amount.
/// </summary>
public sealed class RateLimitsOptions : IValidatableObject
{
    public const string Section = "RateLimits";

    /// <summary>The largest rate: a token every 60 ns would be below the limiter's 100 ns tick.</summary>
    public const int MaxPerMinute = 60_000_000;

    public const int MaxBurst = 10_000_000;

    /// <summary>Off: no request is limited and failed authentication is not throttled.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Every authenticated API client's requests, except those to an EMR of <see cref="Emrs"/>.</summary>
    public ClientRateLimit PerClient { get; set; } = new();

    /// <summary>Per EMR code: a client's requests to that EMR have a bucket of their own with these limits.</summary>
    public Dictionary<string, EmrRateLimit> Emrs { get; set; } = new(StringComparer.Ordinal);

    public FailedAuthLimits FailedAuth { get; set; } = new();

    /// <summary>The limit of a client's requests to <paramref name="emr"/>, or null when they count against <see cref="PerClient"/>.</summary>
    public ClientRateLimit? ForEmr(string emr) =>
        Emrs.TryGetValue(emr, out var limit)
            ? new ClientRateLimit { RequestsPerMinute = limit.RequestsPerMinute ?? PerClient.RequestsPerMinute, Burst = limit.Burst ?? PerClient.Burst }
            : null;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        var checks = new List<(string Key, int? Value, int Max)>
        {
            ("PerClient:RequestsPerMinute", PerClient.RequestsPerMinute, MaxPerMinute),
            ("PerClient:Burst", PerClient.Burst, MaxBurst),
            ("FailedAuth:PerAddressPerMinute", FailedAuth.PerAddressPerMinute, MaxPerMinute),
            ("FailedAuth:PerClientPerMinute", FailedAuth.PerClientPerMinute, MaxPerMinute),
        };
        foreach (var (code, limit) in Emrs.OrderBy(e => e.Key, StringComparer.Ordinal))
        {
            checks.Add(($"Emrs:{code}:RequestsPerMinute", limit.RequestsPerMinute, MaxPerMinute));
            checks.Add(($"Emrs:{code}:Burst", limit.Burst, MaxBurst));
        }

        foreach (var (key, value, max) in checks)
        {
            if (value is < 1 || value > max)
            {
                yield return new ValidationResult(string.Create(CultureInfo.InvariantCulture, $"must be a whole number from 1 to {max:N0}, not {value}."), [key]);
            }
        }
    }

    /// <summary>Refuses a per-EMR limit for a code no EMR has (a misspelt code would silently limit nothing).</summary>
    public void CheckEmrs(EmrCatalog catalog)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        var (code, limit) = Emrs.Where(e => catalog.Find(e.Key) is null).OrderBy(e => e.Key, StringComparer.Ordinal).FirstOrDefault();
        if (code is not null)
        {
            var key = limit.RequestsPerMinute is null ? nameof(EmrRateLimit.Burst) : nameof(EmrRateLimit.RequestsPerMinute);
            throw new InvalidOperationException($"{Section}:Emrs:{code}:{key} names no configured EMR (configured: {string.Join(", ", catalog.All.Select(e => e.Code))}).");
        }
    }
}

/// <summary>A token bucket's size (<c>Burst</c>) and refill rate (<c>RequestsPerMinute</c>).</summary>
public sealed class ClientRateLimit
{
    public int RequestsPerMinute { get; set; } = 1200;

    public int Burst { get; set; } = 100;
}

/// <summary><c>RateLimits:Emrs:&lt;code&gt;:*</c>: what is not set is taken from <c>RateLimits:PerClient</c>.</summary>
public sealed class EmrRateLimit
{
    public int? RequestsPerMinute { get; set; }

    public int? Burst { get; set; }
}

/// <summary>
/// <c>RateLimits:FailedAuth:*</c>: how many failed authentications a source address, and a client id,
/// may have per minute (also the bucket's size) before its requests are refused unchecked.
/// </summary>
public sealed class FailedAuthLimits
{
    public int PerAddressPerMinute { get; set; } = 30;

    public int PerClientPerMinute { get; set; } = 60;
}

/// <summary>
/// The per-client limits, on ASP.NET Core's rate limiter: after authentication, each client's requests
/// draw from its bucket (a bucket per client and EMR for the EMRs of <c>RateLimits:Emrs</c>); requests
/// that carry no client (health, metrics, the OpenAPI document, the admin API) are not limited.
/// </summary>
public static class RateLimits
{
    public static IServiceCollection AddVardbroRateLimits(this IServiceCollection services)
    {
        services.AddSettings<RateLimitsOptions>(RateLimitsOptions.Section);
        services.AddSingleton<FailedAuthThrottle>();
        services.AddRateLimiter(_ => { });
        services.AddOptions<RateLimiterOptions>().Configure<IOptions<RateLimitsOptions>>((options, limits) =>
        {
            options.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            options.OnRejected = (rejected, _) => WriteAsync(
                rejected.HttpContext,
                rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : TimeSpan.FromSeconds(1),
                "This client has used up its request rate; retry after the seconds in Retry-After.");
            options.GlobalLimiter = ByClient(limits.Value);
        });
        return services;
    }

    private static PartitionedRateLimiter<HttpContext> ByClient(RateLimitsOptions limits)
    {
        var perClient = BucketOf(limits.PerClient.RequestsPerMinute, limits.PerClient.Burst);
        var perEmr = limits.Emrs.Keys.ToDictionary(code => code, code => limits.ForEmr(code) is { } limit ? BucketOf(limit.RequestsPerMinute, limit.Burst) : perClient, StringComparer.Ordinal);
        return PartitionedRateLimiter.Create<HttpContext, ClientPartition>(context =>
        {
            if (context.Features.Get<ClientContext>() is not { } client)
            {
                return RateLimitPartition.GetNoLimiter(default(ClientPartition));
            }

            if (perEmr.Count > 0 && context.GetRouteValue("emr") is string emr && perEmr.TryGetValue(emr, out var bucket))
            {
                return RateLimitPartition.GetTokenBucketLimiter(new ClientPartition(client.ClientId, emr), _ => bucket);
            }

            return RateLimitPartition.GetTokenBucketLimiter(new ClientPartition(client.ClientId, null), _ => perClient);
        });
    }

    /// <summary>
    /// A bucket of <paramref name="size"/> tokens refilled by one every minute / <paramref name="perMinute"/>.
    /// A partitioned limiter refills its buckets by elapsed time (not a whole period at once), and a
    /// refused lease's Retry-After is the time to the next token.
    /// </summary>
    internal static TokenBucketRateLimiterOptions BucketOf(int perMinute, int size) => new()
    {
        TokenLimit = size,
        TokensPerPeriod = 1,
        ReplenishmentPeriod = TimeSpan.FromTicks(TimeSpan.TicksPerMinute / perMinute),
        QueueLimit = 0,
        AutoReplenishment = false,
    };

    /// <summary>The 429 in the envelope, with <c>Retry-After</c> in whole seconds (at least 1).</summary>
    public static async ValueTask WriteAsync(HttpContext context, TimeSpan retryAfter, string detail)
    {
        ArgumentNullException.ThrowIfNull(context);
        context.Response.Headers.RetryAfter = Math.Max(1, (long)Math.Ceiling(retryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        await Problem.WriteAsync(context, StatusCodes.Status429TooManyRequests, detail, [new ApiError(ErrorCodes.RateLimited, detail, null)]);
    }

    private readonly record struct ClientPartition(string? ClientId, string? Emr);
}

/// <summary>
/// Throttles failed authentication per source address and per client id. Only failures draw from the
/// buckets; once either of a request's buckets holds less than one token, the request is refused with
/// 429 before its credentials are looked at (no database read, no hash), so wrong secrets cannot be
/// used to burn CPU. A client id under attack is refused, also with its right secret, until its bucket
/// refills: the price of not verifying anything for it.
/// </summary>
public sealed class FailedAuthThrottle : IDisposable
{
    private static readonly KeyValuePair<string, object?> FailedTag = new("vardbro.outcome", "failed");
    private static readonly KeyValuePair<string, object?> ThrottledTag = new("vardbro.outcome", "throttled");

    private readonly Counter<long> failures;
    private readonly PartitionedRateLimiter<string>? byAddress;
    private readonly PartitionedRateLimiter<string>? byClient;
    private readonly TimeSpan addressWait;
    private readonly TimeSpan clientWait;

    public FailedAuthThrottle(IOptions<RateLimitsOptions> options, IMeterFactory meters)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(meters);
        failures = meters.Create(Telemetry.VardbroMetrics.MeterName).CreateCounter<long>(
            "vardbro.auth.failures", "{request}", "Requests refused for their credentials: failed (checked and wrong) or throttled (refused unchecked, 429).");
        var limits = options.Value;
        if (!limits.Enabled)
        {
            return;
        }

        var address = RateLimits.BucketOf(limits.FailedAuth.PerAddressPerMinute, limits.FailedAuth.PerAddressPerMinute);
        var client = RateLimits.BucketOf(limits.FailedAuth.PerClientPerMinute, limits.FailedAuth.PerClientPerMinute);
        (addressWait, clientWait) = (address.ReplenishmentPeriod, client.ReplenishmentPeriod);
        byAddress = PartitionedRateLimiter.Create<string, string>(key => RateLimitPartition.GetTokenBucketLimiter(key, _ => address));
        byClient = PartitionedRateLimiter.Create<string, string>(key => RateLimitPartition.GetTokenBucketLimiter(key, _ => client));
    }

    /// <summary>
    /// How long to wait when <paramref name="address"/> or <paramref name="clientId"/> has used up its
    /// failures; null when the request may be checked. Draws nothing.
    /// </summary>
    public TimeSpan? Refusal(string address, string? clientId)
    {
        if (byAddress is null || byClient is null)
        {
            return null;
        }

        // Whole tokens only: a bucket refills in fractions, and "any fraction left" would let a
        // steady stream of wrong secrets be checked at the refill timer's pace.
        var wait = byAddress.GetStatistics(address)?.CurrentAvailablePermits < 1 ? addressWait
            : clientId is not null && byClient.GetStatistics(clientId)?.CurrentAvailablePermits < 1 ? clientWait
            : (TimeSpan?)null;
        if (wait is not null)
        {
            failures.Add(1, ThrottledTag);
        }

        return wait;
    }

    /// <summary>Counts a failed authentication against <paramref name="address"/> and <paramref name="clientId"/>.</summary>
    public void Failed(string address, string? clientId)
    {
        failures.Add(1, FailedTag);
        if (byAddress is null || byClient is null)
        {
            return;
        }

        byAddress.AttemptAcquire(address).Dispose();
        if (clientId is not null)
        {
            byClient.AttemptAcquire(clientId).Dispose();
        }
    }

    /// <summary>
    /// The request's source address as a partition key (after the forwarded-headers middleware, the
    /// client's own behind a trusted proxy): an IPv6 address by its /64, the block one subscriber
    /// usually holds whole.
    /// </summary>
    public static string AddressOf(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var address = context.Connection.RemoteIpAddress;
        if (address is null)
        {
            return "-";
        }

        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        if (address.AddressFamily == AddressFamily.InterNetworkV6)
        {
            Span<byte> bytes = stackalloc byte[16];
            address.TryWriteBytes(bytes, out _);
            bytes[8..].Clear();
            return new IPAddress(bytes).ToString() + "/64";
        }

        return address.ToString();
    }

    public void Dispose()
    {
        byAddress?.Dispose();
        byClient?.Dispose();
    }
}
