using System.Buffers;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Vardbro.Server.Storage;
using Vardbro.Storage;

namespace Vardbro.Server.Audit;

/// <summary>
/// Chains stored audit events in <c>seq</c> order: each sealed event keeps a hash over itself and the
/// previous event's hash, so a removed or altered event breaks the chain. New events are inserted
/// sealed (<see cref="InsertSealedAsync"/>); a background pass seals any stored without a place in the
/// chain. One writer of the chain at a time per database: each runs as one of
/// <see cref="SerializedWrites"/> under the chain's key (a PostgreSQL advisory lock; on SQLite the
/// audit file's write lock).
/// </summary>
public sealed partial class AuditSealer(IServiceScopeFactory scopes, AuditStore store, ILogger<AuditSealer> logger) : BackgroundService
{
    public const string Genesis = "0000000000000000000000000000000000000000000000000000000000000000";
    private const string ChainLock = "audit/chain";
    private const int PassSize = 1000;

    /// <summary>How often leftovers (events stored unsealed, e.g. by an earlier version) are looked for.</summary>
    private static readonly TimeSpan LeftoverInterval = TimeSpan.FromSeconds(5);

    private readonly SemaphoreSlim onePass = new(1, 1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(LeftoverInterval, stoppingToken);

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

    /// <summary>
    /// Inserts new events already sealed: numbered after the chain's head and hashed onto it, in the
    /// same transaction and under the same lock as a sealing pass, so the chain has one writer at a
    /// time across instances and an event is never stored without its place in the chain. (Events
    /// stored unsealed by earlier versions are still sealed by <see cref="SealAsync"/>, after these.)
    /// </summary>
    public static async Task InsertSealedAsync(VardbroDb db, List<AuditEventRow> events, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentNullException.ThrowIfNull(events);
        await SerializedWrites.RunAsync(db, ChainLock, async () =>
        {
            if (db.CanPrepare)
            {
                await InsertSealedPreparedAsync(db, events, cancellationToken);
            }
            else
            {
                var head = await HeadAsync(db, cancellationToken);
                Seal(db, events, head);
                db.AuditEvents.AddRange(events);
                await db.SaveChangesAsync(cancellationToken);
            }

            return true;
        }, cancellationToken);
    }

    private static void Seal(VardbroDb db, List<AuditEventRow> events, AuditSealRow head)
    {
        foreach (var e in events)
        {
            // Hashed as it will read back: SQLite's column keeps the instant to 100 µs only.
            e.At = PreparedStatements.Read<DateTimeOffset>(db, typeof(AuditEventRow), nameof(AuditEventRow.At),
                PreparedStatements.Store(db, typeof(AuditEventRow), nameof(AuditEventRow.At), e.At)!);
            e.Seq = ++head.LastSeq;
            e.Hash = HashOf(e, head.LastHash);
            head.LastHash = e.Hash;
        }
    }

    /// <summary>The same on SQLite, with statements prepared once per connection (the audit writer's is always the same).</summary>
    private static async Task InsertSealedPreparedAsync(VardbroDb db, List<AuditEventRow> events, CancellationToken cancellationToken)
    {
        var head = new AuditSealRow { Id = 1, LastSeq = 0, LastHash = Genesis };
        await using (var reader = await PreparedStatements.For(db, """SELECT "LastSeq", "LastHash" FROM "audit_seal" WHERE "Id" = 1""").ExecuteReaderAsync(cancellationToken))
        {
            if (await reader.ReadAsync(cancellationToken))
            {
                head.LastSeq = reader.GetInt64(0);
                head.LastHash = reader.GetString(1);
            }
        }

        Seal(db, events, head);
        foreach (var e in events)
        {
            await PreparedStatements.For(db, """
                INSERT INTO "audit_events" ("Seq", "At", "ClientId", "ActorId", "Action", "Emr", "CareUnitId", "ResourceType", "ResourceId", "PatientIds", "OutcomeStatus", "RequestId", "Hash")
                VALUES (@p0, @p1, @p2, @p3, @p4, @p5, @p6, @p7, @p8, @p9, @p10, @p11, @p12)
                """,
                e.Seq, PreparedStatements.Store(db, typeof(AuditEventRow), nameof(AuditEventRow.At), e.At), e.ClientId, e.ActorId, e.Action, e.Emr, e.CareUnitId,
                e.ResourceType, e.ResourceId, e.PatientIds, e.OutcomeStatus, e.RequestId, e.Hash).ExecuteNonQueryAsync(cancellationToken);
        }

        await PreparedStatements.For(db, """
            INSERT INTO "audit_seal" ("Id", "LastSeq", "LastHash") VALUES (1, @p0, @p1)
            ON CONFLICT ("Id") DO UPDATE SET "LastSeq" = excluded."LastSeq", "LastHash" = excluded."LastHash"
            """, head.LastSeq, head.LastHash).ExecuteNonQueryAsync(cancellationToken);
    }

    private static async Task<AuditSealRow> HeadAsync(VardbroDb db, CancellationToken cancellationToken)
    {
        var head = await db.Set<AuditSealRow>().FirstOrDefaultAsync(x => x.Id == 1, cancellationToken);
        if (head is null)
        {
            head = new AuditSealRow { Id = 1, LastSeq = 0, LastHash = Genesis };
            db.Add(head);
        }

        return head;
    }

    private async Task<int> SealPassAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        await using var audit = store.Open(scope.ServiceProvider);
        var db = audit.Db;

        // Usually there is nothing to do: then no write lock is taken.
        if (!await db.AuditEvents.AnyAsync(e => e.Seq == null, cancellationToken))
        {
            return 0;
        }

        return await SerializedWrites.RunAsync(db, ChainLock, async () =>
        {
            var pending = await db.AuditEvents.Where(e => e.Seq == null).OrderBy(e => e.Id).Take(PassSize).ToListAsync(cancellationToken);
            if (pending.Count == 0)
            {
                return 0;
            }

            var head = await HeadAsync(db, cancellationToken);
            foreach (var e in pending)
            {
                e.Seq = ++head.LastSeq;
                e.Hash = HashOf(e, head.LastHash);
                head.LastHash = e.Hash;
            }

            await db.SaveChangesAsync(cancellationToken);
            return pending.Count;
        }, cancellationToken);
    }

    /// <summary>
    /// SHA-256 over the event's canonical form: the JSON array
    /// <c>[seq, "at-ticks", client, actor, action, emr, care_unit, resource_type, resource_id, patient_ids, status, request_id, previous_hash]</c>,
    /// compact, escaped as System.Text.Json escapes by default. Written with <see cref="Utf8JsonWriter"/>:
    /// every audited request seals one, and serializing an object array by reflection showed in their profiles.
    /// </summary>
    public static string HashOf(AuditEventRow e, string previousHash)
    {
        ArgumentNullException.ThrowIfNull(e);
        ArgumentNullException.ThrowIfNull(previousHash);
        var buffer = new ArrayBufferWriter<byte>(512);
        using var w = new Utf8JsonWriter(buffer);
        w.WriteStartArray();
        if (e.Seq is { } seq)
        {
            w.WriteNumberValue(seq);
        }
        else
        {
            w.WriteNullValue();
        }

        Span<char> ticks = stackalloc char[20];
        e.At.UtcTicks.TryFormat(ticks, out var length, default, CultureInfo.InvariantCulture);
        w.WriteStringValue(ticks[..length]);
        String(w, e.ClientId);
        String(w, e.ActorId);
        String(w, e.Action);
        String(w, e.Emr);
        String(w, e.CareUnitId);
        String(w, e.ResourceType);
        String(w, e.ResourceId);
        String(w, e.PatientIds);
        w.WriteNumberValue(e.OutcomeStatus);
        String(w, e.RequestId);
        String(w, previousHash);
        w.WriteEndArray();
        w.Flush();

        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(buffer.WrittenSpan, hash);
        return Convert.ToHexStringLower(hash);

        static void String(Utf8JsonWriter w, string? value)
        {
            if (value is null)
            {
                w.WriteNullValue();
            }
            else
            {
                w.WriteStringValue(value);
            }
        }
    }

    public sealed record VerifyResult(bool Valid, long EventsChecked, long? BrokenAtSeq, string? Problem);

    /// <summary>Seals what is pending, then walks the whole chain.</summary>
    public async Task<VerifyResult> VerifyAsync(CancellationToken cancellationToken)
    {
        await SealAsync(cancellationToken);
        await using var scope = scopes.CreateAsyncScope();
        await using var audit = store.Open(scope.ServiceProvider);
        var db = audit.Db;
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
