using System.Collections.Concurrent;
using Microsoft.EntityFrameworkCore;
using Vardbro.Server.Storage;

namespace Vardbro.Server.Notifications;

/// <summary>
/// Sends due <c>pending</c> notifications through <see cref="HttpNotificationSender"/> when the http
/// sender is configured: woken by <see cref="Signal"/>, else every <see cref="PollInterval"/>. A failed
/// attempt is retried after 1 s, 2 s, 4 s … (at most <see cref="MaxBackoff"/>); after
/// <see cref="MaxAttempts"/> attempts the message is <c>failed</c>.
/// <para>
/// Several instances may share one PostgreSQL database: a pass first claims its batch in a short
/// transaction (<c>FOR UPDATE SKIP LOCKED</c>, then a lease: <c>NextAttemptAt</c> moved
/// <see cref="ClaimLease"/> ahead), so no two instances send one message at the same time, and a message
/// claimed by an instance that died is sent again when the lease runs out. On SQLite one process
/// dispatches. Logs carry notification ids only, never the recipient or the body.
/// </para>
/// </summary>
public sealed partial class NotificationDispatcher(
    IServiceScopeFactory scopes, NotificationSettings settings, TimeProvider time, ILogger<NotificationDispatcher> logger) : BackgroundService
{
    public const int BatchSize = 50;
    public const int MaxAttempts = 10;
    public const int Parallelism = 8;

    public static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(2);
    public static readonly TimeSpan MaxBackoff = TimeSpan.FromMinutes(5);

    /// <summary>Longer than a batch takes at worst (50 messages, 8 at a time, 10 s timeout each).</summary>
    public static readonly TimeSpan ClaimLease = TimeSpan.FromMinutes(2);

    private readonly SemaphoreSlim wake = new(0, 1);
    private readonly SemaphoreSlim onePass = new(1, 1);

    private enum Outcome
    {
        Sent,
        Failed,
    }

    /// <summary>Wakes the dispatcher (new messages were committed).</summary>
    public void Signal()
    {
        if (wake.CurrentCount == 0)
        {
            try
            {
                wake.Release();
            }
            catch (SemaphoreFullException)
            {
            }
        }
    }

    /// <summary>The wait after the <paramref name="failedAttempts"/>-th failed attempt: 1 s, 2 s, 4 s … at most <see cref="MaxBackoff"/>.</summary>
    public static TimeSpan Backoff(int failedAttempts)
    {
        var exponent = Math.Clamp(failedAttempts - 1, 0, 20);
        var delay = TimeSpan.FromSeconds(1L << exponent);
        return delay < MaxBackoff ? delay : MaxBackoff;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!settings.SendsOverHttp)
        {
            LogOutboxOnly(logger);
            return;
        }

        await BackgroundRounds.OnWakeAsync(
            wake,
            PollInterval,
            async cancellationToken =>
            {
                while (await DispatchDueAsync(cancellationToken) == BatchSize)
                {
                }
            },
            ex => LogPassFailed(logger, ex),
            stoppingToken);
    }

    /// <summary>One pass: claims up to <see cref="BatchSize"/> due messages, sends them and records the outcomes. Returns how many it claimed.</summary>
    public async Task<int> DispatchDueAsync(CancellationToken cancellationToken)
    {
        if (!settings.SendsOverHttp)
        {
            return 0;
        }

        await onePass.WaitAsync(cancellationToken);
        try
        {
            var claimed = await ClaimAsync(cancellationToken);
            if (claimed.Count == 0)
            {
                return 0;
            }

            var outcomes = new ConcurrentDictionary<long, Outcome>();
            await using (var scope = scopes.CreateAsyncScope())
            {
                var sender = scope.ServiceProvider.GetRequiredService<HttpNotificationSender>();
                try
                {
                    await Parallel.ForEachAsync(
                        claimed,
                        new ParallelOptions { MaxDegreeOfParallelism = Parallelism, CancellationToken = cancellationToken },
                        async (row, token) => outcomes[row.Id] = await AttemptAsync(sender, row, token));
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    // Shutting down: record what was attempted, give the rest back below.
                }
            }

            await RecordAsync(claimed.Select(r => r.Id).ToList(), outcomes);
            cancellationToken.ThrowIfCancellationRequested();
            return claimed.Count;
        }
        finally
        {
            onePass.Release();
        }
    }

    private async Task<List<NotificationRow>> ClaimAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<VardbroDb>();
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var now = time.GetUtcNow();
        List<NotificationRow> rows;
        if (db.IsPostgres)
        {
            rows = await db.Notifications.FromSql($"""
                SELECT * FROM notifications
                WHERE "Status" = {NotificationStatus.Pending} AND "NextAttemptAt" <= {now}
                ORDER BY "NextAttemptAt", "Id"
                LIMIT {BatchSize}
                FOR UPDATE SKIP LOCKED
                """).ToListAsync(cancellationToken);
        }
        else
        {
            rows = await db.Notifications
                .Where(n => n.Status == NotificationStatus.Pending && n.NextAttemptAt <= now)
                .OrderBy(n => n.NextAttemptAt).ThenBy(n => n.Id)
                .Take(BatchSize)
                .ToListAsync(cancellationToken);
        }

        foreach (var row in rows)
        {
            row.NextAttemptAt = now + ClaimLease;
        }

        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return rows;
    }

    private async Task<Outcome> AttemptAsync(HttpNotificationSender sender, NotificationRow row, CancellationToken cancellationToken)
    {
        try
        {
            var result = await sender.SendAsync(row, cancellationToken);
            if (result.Sent)
            {
                return Outcome.Sent;
            }

            LogRefused(logger, row.Id, row.Attempts + 1, result.Status);
        }
        catch (HttpRequestException ex)
        {
            LogUnreachable(logger, row.Id, row.Attempts + 1, ex.HttpRequestError.ToString());
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            LogUnreachable(logger, row.Id, row.Attempts + 1, "Timeout");
        }

        return Outcome.Failed;
    }

    private async Task RecordAsync(List<long> ids, ConcurrentDictionary<long, Outcome> outcomes)
    {
        // Not cancellable: what was sent must be recorded as sent, also when shutting down.
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<VardbroDb>();
        var rows = await db.Notifications.Where(n => ids.Contains(n.Id)).ToListAsync(CancellationToken.None);
        var now = time.GetUtcNow();
        foreach (var row in rows.Where(r => r.Status == NotificationStatus.Pending))
        {
            if (!outcomes.TryGetValue(row.Id, out var outcome))
            {
                row.NextAttemptAt = now;
                continue;
            }

            row.Attempts++;
            if (outcome == Outcome.Sent)
            {
                row.Status = NotificationStatus.Sent;
                row.SentAt = now;
                LogSent(logger, row.Id, row.Attempts);
            }
            else if (row.Attempts >= MaxAttempts)
            {
                row.Status = NotificationStatus.Failed;
                LogGaveUp(logger, row.Id, row.Attempts);
            }
            else
            {
                row.NextAttemptAt = now + Backoff(row.Attempts);
            }
        }

        await db.SaveChangesAsync(CancellationToken.None);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Notifications are kept in the outbox (Notifications:Sender=outbox); the dispatcher is idle")]
    private static partial void LogOutboxOnly(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Dispatching notifications failed; the next pass retries")]
    private static partial void LogPassFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Notification {NotificationId} sent (attempt {Attempt})")]
    private static partial void LogSent(ILogger logger, long notificationId, int attempt);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Notification {NotificationId} attempt {Attempt}: the receiver answered {Status}")]
    private static partial void LogRefused(ILogger logger, long notificationId, int attempt, int status);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Notification {NotificationId} attempt {Attempt}: the receiver could not be reached ({Reason})")]
    private static partial void LogUnreachable(ILogger logger, long notificationId, int attempt, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Notification {NotificationId} failed after {Attempts} attempts; giving up")]
    private static partial void LogGaveUp(ILogger logger, long notificationId, int attempts);
}
