using Microsoft.Extensions.Http.Resilience;
using Polly;

namespace Vardbro.Connectors;

/// <summary>What every connector that reaches its EHR over HTTP shares.</summary>
public static class ConnectorHttp
{
    /// <summary>
    /// Up to <paramref name="attempts"/> retries of a read that failed transiently, with exponential
    /// backoff from 200 ms and jitter. A write is sent once: the EHR may have acted on a request whose
    /// answer was lost.
    /// </summary>
    public static HttpRetryStrategyOptions ReadRetries(int attempts)
    {
        var retry = new HttpRetryStrategyOptions
        {
            MaxRetryAttempts = attempts,
            BackoffType = DelayBackoffType.Exponential,
            Delay = TimeSpan.FromMilliseconds(200),
            UseJitter = true,
        };
        retry.DisableForUnsafeHttpMethods();
        return retry;
    }
}
