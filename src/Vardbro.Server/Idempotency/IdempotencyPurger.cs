namespace Vardbro.Server.Idempotency;

/// <summary>
/// Deletes idempotency records older than <see cref="IdempotencyMiddleware.Retention"/> every ten
/// minutes. (The middleware already treats them as absent; this only keeps the table small.) Several
/// instances may purge at once: each delete is one statement and deleting twice is harmless.
/// </summary>
public sealed partial class IdempotencyPurger(IdempotencyStore store, TimeProvider time, ILogger<IdempotencyPurger> logger) : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromMinutes(10);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, time);
        try
        {
            do
            {
                try
                {
                    var purged = await store.PurgeAsync(time.GetUtcNow() - IdempotencyMiddleware.Retention, stoppingToken);
                    if (purged > 0)
                    {
                        LogPurged(logger, purged);
                    }
                }
                catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
                {
                    return;
                }
#pragma warning disable CA1031 // the next round tries again
                catch (Exception ex)
#pragma warning restore CA1031
                {
                    LogPurgeFailed(logger, ex);
                }
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException)
        {
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Purged {Count} expired idempotency records")]
    private static partial void LogPurged(ILogger logger, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Purging expired idempotency records failed; the next round retries")]
    private static partial void LogPurgeFailed(ILogger logger, Exception exception);
}
