using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Vardbro.Server.Storage;

namespace Vardbro.Server.Audit;

/// <summary>
/// Chains stored audit events in <c>seq</c> order: each sealed event keeps a hash over itself and the
/// previous event's hash, so a removed or altered event breaks the chain. One sealer at a time per
/// database: the pass runs in a transaction that holds a PostgreSQL advisory lock (on SQLite the
/// database's write lock).
/// </summary>
public sealed partial class AuditSealer(IServiceScopeFactory scopes, ILogger<AuditSealer> logger) : BackgroundService
{
    public const string Genesis = "0000000000000000000000000000000000000000000000000000000000000000";
    private const long AdvisoryLockKey = 0x5641_5244_4155_4454; // "VARDAUDT"
    private const int PassSize = 1000;

    private readonly SemaphoreSlim wake = new(0, 1);
    private readonly SemaphoreSlim onePass = new(1, 1);

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

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await wake.WaitAsync(TimeSpan.FromSeconds(5), stoppingToken);

                // A pass is short; it is not cut off by shutdown, which would only roll it back.
                await SealAsync(CancellationToken.None);
            }
            catch (OperationCanceledException)
            {
                return;
            }
#pragma warning disable CA1031 // a failed pass is retried by the next one
            catch (Exception ex)
#pragma warning restore CA1031
            {
                LogSealFailed(logger, ex);
            }
        }
    }

    /// <summary>Seals every event stored so far.</summary>
    public async Task SealAsync(CancellationToken cancellationToken)
    {
        await onePass.WaitAsync(cancellationToken);
        try
        {
            while (await SealPassAsync(cancellationToken) == PassSize)
            {
            }
        }
        finally
        {
            onePass.Release();
        }
    }

    private async Task<int> SealPassAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<VardbroDb>();
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        if (db.IsPostgres)
        {
            await db.Database.ExecuteSqlRawAsync("SELECT pg_advisory_xact_lock({0})", [AdvisoryLockKey], cancellationToken);
        }

        var pending = await db.AuditEvents.Where(e => e.Seq == null).OrderBy(e => e.Id).Take(PassSize).ToListAsync(cancellationToken);
        if (pending.Count == 0)
        {
            return 0;
        }

        var head = await db.Set<AuditSealRow>().FirstOrDefaultAsync(x => x.Id == 1, cancellationToken);
        if (head is null)
        {
            head = new AuditSealRow { Id = 1, LastSeq = 0, LastHash = Genesis };
            db.Add(head);
        }

        foreach (var e in pending)
        {
            e.Seq = ++head.LastSeq;
            e.Hash = HashOf(e, head.LastHash);
            head.LastHash = e.Hash;
        }

        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return pending.Count;
    }

    public static string HashOf(AuditEventRow e, string previousHash)
    {
        ArgumentNullException.ThrowIfNull(e);
        var canonical = JsonSerializer.Serialize(new object?[]
        {
            e.Seq, e.At.UtcTicks.ToString(CultureInfo.InvariantCulture), e.ClientId, e.ActorId, e.Action, e.Emr, e.CareUnitId,
            e.ResourceType, e.ResourceId, e.PatientIds, e.OutcomeStatus, e.RequestId, previousHash,
        });
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(canonical)));
    }

    public sealed record VerifyResult(bool Valid, long EventsChecked, long? BrokenAtSeq, string? Problem);

    /// <summary>Seals what is pending, then walks the whole chain.</summary>
    public async Task<VerifyResult> VerifyAsync(CancellationToken cancellationToken)
    {
        await SealAsync(cancellationToken);
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<VardbroDb>();
        var previous = Genesis;
        long expectedSeq = 1;
        long lastSeq = 0;
        while (true)
        {
            var from = lastSeq;
            var page = await db.AuditEvents.AsNoTracking()
                .Where(e => e.Seq != null && e.Seq > from)
                .OrderBy(e => e.Seq)
                .Take(5000)
                .ToListAsync(cancellationToken);
            foreach (var e in page)
            {
                if (e.Seq != expectedSeq)
                {
                    return new VerifyResult(false, expectedSeq - 1, expectedSeq, $"Event seq {expectedSeq} is missing.");
                }

                if (e.Hash != HashOf(e, previous))
                {
                    return new VerifyResult(false, expectedSeq - 1, e.Seq, $"Event seq {e.Seq} was altered, or an event before it was removed.");
                }

                previous = e.Hash;
                lastSeq = e.Seq.Value;
                expectedSeq++;
            }

            if (page.Count < 5000)
            {
                break;
            }
        }

        var head = await db.Set<AuditSealRow>().AsNoTracking().FirstOrDefaultAsync(x => x.Id == 1, cancellationToken);
        var headSeq = head?.LastSeq ?? 0;
        var headHash = head?.LastHash ?? Genesis;
        if (headSeq != lastSeq || headHash != previous)
        {
            return new VerifyResult(false, lastSeq, lastSeq + 1, "The newest sealed events were removed or the chain head was altered.");
        }

        return new VerifyResult(true, lastSeq, null, null);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Sealing audit events failed; the next pass retries")]
    private static partial void LogSealFailed(ILogger logger, Exception exception);
}
