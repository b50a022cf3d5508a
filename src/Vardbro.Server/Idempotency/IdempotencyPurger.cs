using Vardbro.Server.Storage;

namespace Vardbro.Server.Idempotency;

/// <summary>
/// Deletes idempotency records older than <see cref="IdempotencyMiddleware.Retention"/> every ten
/// minutes. (The middleware already treats them as absent; this only keeps the table small.) Several
/// instances may purge at once: each delete is one statement and deleting twice is harmless.
/// </summary>
public sealed partial class IdempotencyPurger(IdempotencyStore store, TimeProvider time, ILogger<IdempotencyPurger> logger) : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromMinutes(10);

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        BackgroundRounds.EveryAsync(
            Interval,
            time,
            async cancellationToken =>
            {
                if (await store.PurgeAsync(time.GetUtcNow() - IdempotencyMiddleware.Retention, cancellationToken) is > 0 and var purged)
                {
                    LogPurged(logger, purged);
                }
            },
            ex => LogPurgeFailed(logger, ex),
            stoppingToken);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Purged {Count} expired idempotency records")]
    private static partial void LogPurged(ILogger logger, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Purging expired idempotency records failed; the next round retries")]
    private static partial void LogPurgeFailed(ILogger logger, Exception exception);
}
