using Vardbro.Server.Storage;

namespace Vardbro.Server.Idempotency;

/// <summary>
/// Deletes idempotency records older than <see cref="IdempotencyMiddleware.Retention"/> every ten
/// minutes. (The middleware already treats them as absent; this only keeps the table small.) Several
/// instances may purge at once: each delete is one statement and deleting twice is harmless.
/// </summary>
public sealed class IdempotencyPurger(IdempotencyStore store, TimeProvider time, ILogger<IdempotencyPurger> logger) : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromMinutes(10);

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        BackgroundRounds.PurgeEveryAsync(
            Interval,
            time,
            cancellationToken => store.PurgeAsync(time.GetUtcNow() - IdempotencyMiddleware.Retention, cancellationToken),
            logger,
            "expired idempotency records",
            stoppingToken);
}
