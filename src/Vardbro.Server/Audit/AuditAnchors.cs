using System.Globalization;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Vardbro.Server.Storage;

namespace Vardbro.Server.Audit;

/// <summary>
/// Anchors the audit chain's head outside the database: every <c>Audit:AnchorIntervalSeconds</c>
/// (when the head moved) and at shutdown, the head's seq and hash go to the log and are appended to
/// the anchor file, one line each:
/// <c>2026-12-06T12:00:00.0000000+00:00 seq=42 hash=… keyed_from=1 mac=…</c>, the <c>mac</c> an
/// HMAC-SHA256 with the chain key over the line before it. Verify compares the chain with every
/// anchor, so events removed together with a rewound head are found (ADR 10).
/// </summary>
public sealed partial class AuditAnchors(
    IServiceScopeFactory scopes, AuditStore store, AuditKey key, IOptions<AuditOptions> options, TimeProvider time, ILogger<AuditAnchors> logger) : BackgroundService
{
    /// <summary>How long the anchor at shutdown may take, whatever is left of the host's shutdown time.</summary>
    private static readonly TimeSpan AnchorAtStop = TimeSpan.FromSeconds(5);

    private readonly SemaphoreSlim oneAtATime = new(1, 1);
    private (long Seq, string Hash)? written;
    private Task? anchoredAtStop;
    private object? anchoredAtStopLock;

    /// <summary>One line of the anchor file.</summary>
    public sealed record Anchor(int Line, DateTimeOffset At, long Seq, string Hash, long? KeyedFrom);

    /// <summary>The anchor file holds a line this server's key did not write.</summary>
    public sealed class AnchorFileException(string message) : Exception(message);

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        BackgroundRounds.AfterEachIntervalAsync(
            TimeSpan.FromSeconds(options.Value.AnchorIntervalSeconds), time, AnchorAsync, ex => LogAnchorFailed(logger, ex), stoppingToken);

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);

        // A host may be stopped twice at once (the app's run loop and whoever owns the host): both
        // wait for the one anchor, so neither returns, and lets the host be disposed, before it is written.
        // Started on the pool, so the lock is held while the task is made, not through a SQLite read
        // (synchronous under its async API).
        await LazyInitializer.EnsureInitialized(ref anchoredAtStop, ref anchoredAtStopLock, () => Task.Run(AnchorAtStopAsync));
    }

    private async Task AnchorAtStopAsync()
    {
        // Stopped after the audit writer (registered before it), so this is the head with its last events.
        // The services stopped before may have spent the host's shutdown time; one row read and one
        // appended line still get a few seconds of their own, or the last events would go unanchored.
        using var budget = new CancellationTokenSource(AnchorAtStop, time);
        try
        {
            await AnchorAsync(budget.Token);
        }
#pragma warning disable CA1031 // shutdown goes on; the failure is in the log
        catch (Exception ex)
#pragma warning restore CA1031
        {
            LogAnchorFailed(logger, ex);
        }
    }

    /// <summary>Anchors the chain's head now, unless it is where this process last anchored it (or the chain is empty).</summary>
    public async Task AnchorAsync(CancellationToken cancellationToken)
    {
        await oneAtATime.WaitAsync(cancellationToken);
        try
        {
            List<AuditSealRow> seal;
            await using (var scope = scopes.CreateAsyncScope())
            await using (var audit = store.Open(scope.ServiceProvider))
            {
                seal = await audit.Db.Set<AuditSealRow>().AsNoTracking()
                    .Where(x => x.Id == AuditSealer.HeadRow || x.Id == AuditSealer.KeyRow).ToListAsync(cancellationToken);
            }

            if (seal.Find(x => x.Id == AuditSealer.HeadRow) is not { LastSeq: > 0 } head || written == (head.LastSeq, head.LastHash))
            {
                return;
            }

            var keyedFrom = seal.Find(x => x.Id == AuditSealer.KeyRow)?.LastSeq;
            var text = string.Create(CultureInfo.InvariantCulture,
                $"{time.GetUtcNow():O} seq={head.LastSeq} hash={head.LastHash} keyed_from={(keyedFrom is { } k ? k.ToString(CultureInfo.InvariantCulture) : "-")}");
            var line = Encoding.UTF8.GetBytes($"{text} mac={key.MacHex(text)}\n");
            Directory.CreateDirectory(Path.GetDirectoryName(key.AnchorFile)!);
            await using (var file = new FileStream(key.AnchorFile, FileMode.Append, FileAccess.Write, FileShare.ReadWrite))
            {
                await file.WriteAsync(line, cancellationToken);
                file.Flush(flushToDisk: true);
            }

            written = (head.LastSeq, head.LastHash);
            LogAnchored(logger, head.LastSeq, head.LastHash);
        }
        finally
        {
            oneAtATime.Release();
        }
    }

    /// <summary>
    /// Every anchor in the file, in file order; none when there is no file. A last line without its
    /// line end (a write cut short by a crash) is left out.
    /// </summary>
    public static Anchor[] Read(AuditKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        string text;
        try
        {
            text = File.ReadAllText(key.AnchorFile);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return [];
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new AnchorFileException($"The anchor file cannot be read: {ex.Message}");
        }

        var lines = text.Split('\n');
        var anchors = new List<Anchor>(lines.Length);
        for (var i = 0; i < lines.Length - 1; i++)
        {
            var line = lines[i];
            if (line.Length == 0)
            {
                continue;
            }

            anchors.Add(Parse(key, line, i + 1) ?? throw new AnchorFileException(
                $"Line {i + 1} of the anchor file was not written with this server's audit key: the file was altered, or the key changed."));
        }

        return [.. anchors];
    }

    private static Anchor? Parse(AuditKey key, string line, int number)
    {
        var macAt = line.LastIndexOf(" mac=", StringComparison.Ordinal);
        if (macAt < 0 || !string.Equals(key.MacHex(line[..macAt]), line[(macAt + 5)..], StringComparison.Ordinal))
        {
            return null;
        }

        var parts = line[..macAt].Split(' ');
        if (parts.Length != 4
            || !DateTimeOffset.TryParse(parts[0], CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var at)
            || !parts[1].StartsWith("seq=", StringComparison.Ordinal) || !long.TryParse(parts[1].AsSpan(4), NumberStyles.None, CultureInfo.InvariantCulture, out var seq)
            || !parts[2].StartsWith("hash=", StringComparison.Ordinal)
            || !parts[3].StartsWith("keyed_from=", StringComparison.Ordinal))
        {
            return null;
        }

        long? keyedFrom = null;
        if (parts[3] != "keyed_from=-")
        {
            if (!long.TryParse(parts[3].AsSpan(11), NumberStyles.None, CultureInfo.InvariantCulture, out var k))
            {
                return null;
            }

            keyedFrom = k;
        }

        return new Anchor(number, at, seq, parts[2][5..], keyedFrom);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Audit chain head anchored: seq {Seq}, hash {Hash}")]
    private static partial void LogAnchored(ILogger logger, long seq, string hash);

    [LoggerMessage(Level = LogLevel.Error, Message = "Anchoring the audit chain's head failed; the next interval tries again")]
    private static partial void LogAnchorFailed(ILogger logger, Exception exception);
}
