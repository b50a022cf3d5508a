namespace Vardbro.Server.Storage;

/// <summary>
/// Background work over the database in rounds, until the host stops: a round that fails is logged
/// by the caller's <c>failed</c> and the next round tries again; stopping ends the loop quietly.
/// </summary>
public static partial class BackgroundRounds
{
    /// <summary>
    /// A purge now and then every <paramref name="interval"/>: <paramref name="purge"/> deletes what is past
    /// its retention and says how many; the count is logged at debug level, a failure as a warning naming
    /// <paramref name="what"/>. Several instances may purge at once where each delete is one statement.
    /// </summary>
    public static Task PurgeEveryAsync(TimeSpan interval, TimeProvider time, Func<CancellationToken, Task<int>> purge, ILogger logger, string what, CancellationToken stoppingToken)
    {
        ArgumentNullException.ThrowIfNull(purge);
        return EveryAsync(
            interval,
            time,
            async cancellationToken =>
            {
                if (await purge(cancellationToken) is > 0 and var purged)
                {
                    LogPurged(logger, purged, what);
                }
            },
            ex => LogPurgeFailed(logger, what, ex),
            stoppingToken);
    }

    /// <summary>A round now and then every <paramref name="interval"/>.</summary>
    public static Task EveryAsync(TimeSpan interval, TimeProvider time, Func<CancellationToken, Task> round, Action<Exception> failed, CancellationToken stoppingToken) =>
        RoundsAsync(interval, time, roundAtStart: true, round, failed, stoppingToken);

    /// <summary>A round every <paramref name="interval"/>, the first after one interval.</summary>
    public static Task AfterEachIntervalAsync(TimeSpan interval, TimeProvider time, Func<CancellationToken, Task> round, Action<Exception> failed, CancellationToken stoppingToken) =>
        RoundsAsync(interval, time, roundAtStart: false, round, failed, stoppingToken);

    private static async Task RoundsAsync(TimeSpan interval, TimeProvider time, bool roundAtStart, Func<CancellationToken, Task> round, Action<Exception> failed, CancellationToken stoppingToken)
    {
        ArgumentNullException.ThrowIfNull(time);
        using var timer = new PeriodicTimer(interval, time);
        try
        {
            if (roundAtStart && !await TryRoundAsync(round, failed, stoppingToken))
            {
                return;
            }

            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                if (!await TryRoundAsync(round, failed, stoppingToken))
                {
                    return;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>A round now, then whenever <paramref name="wake"/> is released, or after <paramref name="pollInterval"/> at the latest.</summary>
    public static async Task OnWakeAsync(SemaphoreSlim wake, TimeSpan pollInterval, Func<CancellationToken, Task> round, Action<Exception> failed, CancellationToken stoppingToken)
    {
        ArgumentNullException.ThrowIfNull(wake);
        while (!stoppingToken.IsCancellationRequested)
        {
            if (!await TryRoundAsync(round, failed, stoppingToken))
            {
                return;
            }

            try
            {
                await wake.WaitAsync(pollInterval, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>One round; false when the host is stopping.</summary>
    private static async Task<bool> TryRoundAsync(Func<CancellationToken, Task> round, Action<Exception> failed, CancellationToken stoppingToken)
    {
        try
        {
            await round(stoppingToken);
            return true;
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            return false;
        }
#pragma warning disable CA1031 // the next round tries again
        catch (Exception ex)
#pragma warning restore CA1031
        {
            failed(ex);
            return true;
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Purged {Count} {What}")]
    private static partial void LogPurged(ILogger logger, int count, string what);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Purging {What} failed; the next round retries")]
    private static partial void LogPurgeFailed(ILogger logger, string what, Exception exception);
}
