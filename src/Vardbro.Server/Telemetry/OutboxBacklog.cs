using Microsoft.EntityFrameworkCore;
using Vardbro.Server.Notifications;
using Vardbro.Server.Storage;

namespace Vardbro.Server.Telemetry;

/// <summary>
/// The outbox's pending count for the backlog gauge. A gauge is read on the exporter's thread (a
/// Prometheus scrape, the OTLP interval), which must not wait on the database: it gets the last
/// count, and a count older than <see cref="MaxAge"/> is refreshed in the background.
/// </summary>
public sealed partial class OutboxBacklog(IServiceScopeFactory scopes, TimeProvider time, ILogger<OutboxBacklog> logger)
{
    public static readonly TimeSpan MaxAge = TimeSpan.FromSeconds(5);

    private long count;
    private long refreshedAt = long.MinValue;
    private int refreshing;

    public long Observe()
    {
        if (time.GetTimestamp() - Interlocked.Read(ref refreshedAt) > MaxAge.TotalSeconds * time.TimestampFrequency
            && Interlocked.Exchange(ref refreshing, 1) == 0)
        {
            _ = RefreshAsync();
        }

        return Interlocked.Read(ref count);
    }

    /// <summary>Counts the pending messages now.</summary>
    public async Task<long> RefreshAsync()
    {
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<VardbroDb>();
            var pending = await db.Notifications.LongCountAsync(n => n.Status == NotificationStatus.Pending);
            Interlocked.Exchange(ref count, pending);
            Interlocked.Exchange(ref refreshedAt, time.GetTimestamp());
            return pending;
        }
#pragma warning disable CA1031 // a gauge that cannot be read keeps its last value; the next read tries again
        catch (Exception ex)
#pragma warning restore CA1031
        {
            LogCountFailed(logger, ex);
            return Interlocked.Read(ref count);
        }
        finally
        {
            Interlocked.Exchange(ref refreshing, 0);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Counting the outbox backlog failed")]
    private static partial void LogCountFailed(ILogger logger, Exception exception);
}
