namespace Vardbro.Server.Storage;

/// <summary>
/// Background work over the database in rounds, until the host stops: a round that fails is logged
/// by the caller's <c>failed</c> and the next round tries again; stopping ends the loop quietly.
/// </summary>
public static class BackgroundRounds
{
    /// <summary>A round now and then every <paramref name="interval"/>.</summary>
    public static async Task EveryAsync(TimeSpan interval, TimeProvider time, Func<CancellationToken, Task> round, Action<Exception> failed, CancellationToken stoppingToken)
    {
        ArgumentNullException.ThrowIfNull(time);
        using var timer = new PeriodicTimer(interval, time);
        try
        {
            do
            {
                if (!await TryRoundAsync(round, failed, stoppingToken))
                {
                    return;
                }
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
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
}
