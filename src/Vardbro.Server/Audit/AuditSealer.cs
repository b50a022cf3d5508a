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
/// previous event's hash, so a removed or altered event breaks the chain. From the chain's key marker
/// on (<c>audit_seal</c> row 2: the first keyed <c>seq</c> and the key's check value) the hash is an
/// HMAC-SHA256 with <see cref="AuditKey"/>, which the database does not hold; events before it keep
/// the plain SHA-256 they were sealed with (ADR 10). New events are inserted sealed
/// (<see cref="InsertSealedAsync"/>); a background pass seals events an earlier version stored
/// without a place in the chain, as long as the chain has no key marker. One writer of the chain at a
/// time per database: each runs as one of <see cref="SerializedWrites"/> under the chain's key (a
/// PostgreSQL advisory lock; on SQLite the audit file's write lock).
/// </summary>
public sealed partial class AuditSealer(IServiceScopeFactory scopes, AuditStore store, AuditKey key, ILogger<AuditSealer> logger) : BackgroundService
{
    /// <summary>The <c>audit_seal</c> row of the chain's head.</summary>
    public const int HeadRow = 1;

    /// <summary>The <c>audit_seal</c> row of the key marker: <c>LastSeq</c> the first keyed seq, <c>LastHash</c> the key's check value.</summary>
    public const int KeyRow = 2;

    public const string Genesis = "0000000000000000000000000000000000000000000000000000000000000000";
    private const string ChainLock = "audit/chain";
    private const int PassSize = 1000;

    /// <summary>How often leftovers (events stored unsealed, e.g. by an earlier version) are looked for.</summary>
    private static readonly TimeSpan LeftoverInterval = TimeSpan.FromSeconds(5);

    private readonly SemaphoreSlim onePass = new(1, 1);

    // A pass is short; it is not cut off by shutdown, which would only roll it back. On the system clock,
    // not the injected one: leftovers are sealed in real time also where the API's time is simulated.
    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        BackgroundRounds.AfterEachIntervalAsync(LeftoverInterval, TimeProvider.System, _ => SealAsync(CancellationToken.None), ex => LogSealFailed(logger, ex), stoppingToken);

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
    /// Inserts new events already sealed: numbered after the chain's head and hashed onto it with the
    /// key, in the same transaction and under the same lock as a sealing pass, so the chain has one
    /// writer at a time across instances and an event is never stored without its place in the chain.
    /// The first keyed write sets the key marker. A chain whose marker names another key is not
    /// extended (<see cref="AuditKeyMismatchException"/>): events sealed with two keys could never be
    /// verified. Without <paramref name="key"/> the events are sealed as versions before the key did
    /// (plain SHA-256, no marker): only tests of an upgrade do that.
    /// </summary>
    public static async Task InsertSealedAsync(VardbroDb db, List<AuditEventRow> events, AuditKey? key, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentNullException.ThrowIfNull(events);
        await SerializedWrites.RunAsync(db, ChainLock, async () =>
        {
            if (db.CanPrepare)
            {
                await InsertSealedPreparedAsync(db, events, key, cancellationToken);
            }
            else
            {
                var (head, marker) = await ChainRowsAsync(db, cancellationToken);
                if (key is not null && marker is null)
                {
                    db.Add(new AuditSealRow { Id = KeyRow, LastSeq = head.LastSeq + 1, LastHash = key.Check });
                }
                else if (key is not null && marker!.LastHash != key.Check)
                {
                    throw new AuditKeyMismatchException();
                }

                Seal(db, events, head, key);
                db.AuditEvents.AddRange(events);
                await db.SaveChangesAsync(cancellationToken);
            }

            return true;
        }, cancellationToken);
    }

    /// <summary>The chain's head hash as stored now, or null when nothing was sealed yet.</summary>
    public static async Task<string?> HeadHashAsync(VardbroDb db, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        return await db.Set<AuditSealRow>().AsNoTracking().Where(x => x.Id == HeadRow).Select(x => x.LastHash).FirstOrDefaultAsync(cancellationToken);
    }

    private static void Seal(VardbroDb db, List<AuditEventRow> events, AuditSealRow head, AuditKey? key)
    {
        foreach (var e in events)
        {
            // Hashed as it will read back: SQLite's column keeps the instant to 100 µs only.
            e.At = PreparedStatements.Read<DateTimeOffset>(db, typeof(AuditEventRow), nameof(AuditEventRow.At),
                PreparedStatements.Store(db, typeof(AuditEventRow), nameof(AuditEventRow.At), e.At)!);
            e.Seq = ++head.LastSeq;
            e.Hash = HashOf(e, head.LastHash, key);
            head.LastHash = e.Hash;
        }
    }

    /// <summary>The same with statements kept per connection (the audit writer's is always the same).</summary>
    private static async Task InsertSealedPreparedAsync(VardbroDb db, List<AuditEventRow> events, AuditKey? key, CancellationToken cancellationToken)
    {
        var head = new AuditSealRow { Id = HeadRow, LastSeq = 0, LastHash = Genesis };
        AuditSealRow? marker = null;
        await using (var reader = await PreparedStatements.For(db, """SELECT "Id", "LastSeq", "LastHash" FROM "audit_seal" WHERE "Id" IN (1, 2)""").ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                var row = new AuditSealRow { Id = reader.GetInt32(0), LastSeq = reader.GetInt64(1), LastHash = reader.GetString(2) };
                if (row.Id == HeadRow)
                {
                    head = row;
                }
                else
                {
                    marker = row;
                }
            }
        }

        if (key is not null && marker is null)
        {
            await PreparedStatements.For(db, """INSERT INTO "audit_seal" ("Id", "LastSeq", "LastHash") VALUES (2, @p0, @p1)""", head.LastSeq + 1, key.Check)
                .ExecuteNonQueryAsync(cancellationToken);
        }
        else if (key is not null && marker!.LastHash != key.Check)
        {
            throw new AuditKeyMismatchException();
        }

        Seal(db, events, head, key);
        if (db.IsPostgres)
        {
            // The whole batch and the new head in one statement, where EF Core's batching sent the events as one.
            await PreparedStatements.For(db, $"""
                WITH inserted AS (
                    INSERT INTO "audit_events" ("Seq", "At", "ClientId", "ActorId", "Action", "Emr", "CareUnitId", "ResourceType", "ResourceId", "PatientIds", "OutcomeStatus", "RequestId", "Hash")
                    SELECT * FROM unnest(@p2::bigint[], @p3::timestamptz[], @p4::text[], @p5::text[], @p6::text[], @p7::text[], @p8::text[], @p9::text[], @p10::text[], @p11::text[], @p12::integer[], @p13::text[], @p14::text[]))
                {HeadUpsert}
                """,
                head.LastSeq, head.LastHash,
                Column(e => e.Seq!.Value), Column(e => e.At), Column(e => e.ClientId), Column(e => e.ActorId), Column(e => e.Action), Column(e => e.Emr), Column(e => e.CareUnitId),
                Column(e => e.ResourceType), Column(e => e.ResourceId), Column(e => e.PatientIds), Column(e => e.OutcomeStatus), Column(e => e.RequestId), Column(e => e.Hash))
                .ExecuteNonQueryAsync(cancellationToken);
            T[] Column<T>(Func<AuditEventRow, T> value) => events.ConvertAll(x => value(x)).ToArray();
            return;
        }

        await InsertEachAsync(db, events, cancellationToken);
        await PreparedStatements.For(db, HeadUpsert, head.LastSeq, head.LastHash).ExecuteNonQueryAsync(cancellationToken);
    }

    private const string HeadUpsert = """
        INSERT INTO "audit_seal" ("Id", "LastSeq", "LastHash") VALUES (1, @p0, @p1)
        ON CONFLICT ("Id") DO UPDATE SET "LastSeq" = excluded."LastSeq", "LastHash" = excluded."LastHash"
        """;

    private static async Task InsertEachAsync(VardbroDb db, List<AuditEventRow> events, CancellationToken cancellationToken)
    {
        foreach (var e in events)
        {
            await PreparedStatements.For(db, """
                INSERT INTO "audit_events" ("Seq", "At", "ClientId", "ActorId", "Action", "Emr", "CareUnitId", "ResourceType", "ResourceId", "PatientIds", "OutcomeStatus", "RequestId", "Hash")
                VALUES (@p0, @p1, @p2, @p3, @p4, @p5, @p6, @p7, @p8, @p9, @p10, @p11, @p12)
                """,
                e.Seq, PreparedStatements.Store(db, typeof(AuditEventRow), nameof(AuditEventRow.At), e.At), e.ClientId, e.ActorId, e.Action, e.Emr, e.CareUnitId,
                e.ResourceType, e.ResourceId, e.PatientIds, e.OutcomeStatus, e.RequestId, e.Hash).ExecuteNonQueryAsync(cancellationToken);
        }
    }

    /// <summary>The head row (tracked; added when the chain is empty) and the key marker, if any.</summary>
    private static async Task<(AuditSealRow Head, AuditSealRow? Marker)> ChainRowsAsync(VardbroDb db, CancellationToken cancellationToken)
    {
        var rows = await db.Set<AuditSealRow>().Where(x => x.Id == HeadRow || x.Id == KeyRow).ToListAsync(cancellationToken);
        var head = rows.Find(x => x.Id == HeadRow);
        if (head is null)
        {
            head = new AuditSealRow { Id = HeadRow, LastSeq = 0, LastHash = Genesis };
            db.Add(head);
        }

        return (head, rows.Find(x => x.Id == KeyRow));
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
            var (head, marker) = await ChainRowsAsync(db, cancellationToken);
            if (marker is not null)
            {
                // Once the chain is keyed every event this server stores is sealed as it is inserted:
                // an unsealed row came from elsewhere, and sealing it would vouch for it. Verify reports it.
                return 0;
            }

            var pending = await db.AuditEvents.Where(e => e.Seq == null).OrderBy(e => e.Id).Take(PassSize).ToListAsync(cancellationToken);
            if (pending.Count == 0)
            {
                return 0;
            }

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
    /// At start, before any request: says in the log where a generated key is, seals what earlier
    /// versions left unsealed (so that it goes before the key marker), and says when the chain was
    /// sealed with another key.
    /// </summary>
    public async Task PrepareAsync(CancellationToken cancellationToken)
    {
        key.LogWhereItIs();
        await SealAsync(cancellationToken);
        await using var scope = scopes.CreateAsyncScope();
        await using var audit = store.Open(scope.ServiceProvider);
        var marker = await audit.Db.Set<AuditSealRow>().AsNoTracking().FirstOrDefaultAsync(x => x.Id == KeyRow, cancellationToken);
        if (marker is not null && marker.LastHash != key.Check)
        {
            LogKeyMismatch(logger, key.Source);
        }
    }

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? canonicalBuffer;

    [ThreadStatic]
    private static Utf8JsonWriter? canonicalWriter;

    /// <summary>
    /// SHA-256 over the event's canonical form: the JSON array
    /// <c>[seq, "at-ticks", client, actor, action, emr, care_unit, resource_type, resource_id, patient_ids, status, request_id, previous_hash]</c>,
    /// compact, escaped as System.Text.Json escapes by default — the chain's hash before its key marker.
    /// </summary>
    public static string HashOf(AuditEventRow e, string previousHash) => HashOf(e, previousHash, null);

    /// <summary>
    /// The hash of <paramref name="e"/> on <paramref name="previousHash"/>: HMAC-SHA256 with
    /// <paramref name="key"/> over the canonical form of <see cref="HashOf(AuditEventRow, string)"/>, or
    /// its plain SHA-256 without a key. Written with one <see cref="Utf8JsonWriter"/> per thread: every
    /// audited request seals one, and serializing an object array by reflection showed in their profiles.
    /// </summary>
    public static string HashOf(AuditEventRow e, string previousHash, AuditKey? key)
    {
        ArgumentNullException.ThrowIfNull(e);
        ArgumentNullException.ThrowIfNull(previousHash);
        var buffer = canonicalBuffer ??= new ArrayBufferWriter<byte>(512);
        buffer.ResetWrittenCount();
        var w = canonicalWriter;
        if (w is null)
        {
            w = canonicalWriter = new Utf8JsonWriter(buffer);
        }
        else
        {
            w.Reset(buffer);
        }

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
        if (key is null)
        {
            SHA256.HashData(buffer.WrittenSpan, hash);
        }
        else
        {
            key.Mac(buffer.WrittenSpan, hash);
        }

        // A large event (many patient ids) leaves no large buffer behind on the thread.
        if (buffer.Capacity > 64 * 1024)
        {
            canonicalBuffer = null;
            canonicalWriter = null;
        }

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

    /// <summary>
    /// What <c>GET /api/admin/audit/verify</c> found (docs/api.md, "Audit trail"). <see cref="Problem"/>
    /// is a sentence; <see cref="Reason"/> names the kind of problem for a program.
    /// </summary>
    public sealed record VerifyResult(bool Valid, long EventsChecked, long? BrokenAtSeq, string? Problem)
    {
        /// <summary><c>missing</c>, <c>altered</c>, <c>head_mismatch</c>, <c>unsealed</c>, <c>key_mismatch</c>, <c>key_marker_changed</c>, <c>anchor_mismatch</c>, <c>truncated</c> or <c>anchor_file</c>; null when valid.</summary>
        public string? Reason { get; init; }

        /// <summary>The chain's head as stored (<c>audit_seal</c>).</summary>
        public long HeadSeq { get; init; }

        /// <summary>The first seq sealed with the key; null while nothing was sealed with one.</summary>
        public long? KeyedFromSeq { get; init; }

        /// <summary>Anchors read from this server's anchor file and compared with the chain.</summary>
        public int AnchorsChecked { get; init; }

        /// <summary>The anchor at fault; when valid, the newest anchor (the chain is whole up to it).</summary>
        public long? AnchoredSeq { get; init; }

        public DateTimeOffset? AnchoredAt { get; init; }
    }

    /// <summary>Seals what is pending, then walks the whole chain and compares it with the anchors.</summary>
    public async Task<VerifyResult> VerifyAsync(CancellationToken cancellationToken)
    {
        await SealAsync(cancellationToken);
        await using var scope = scopes.CreateAsyncScope();
        await using var audit = store.Open(scope.ServiceProvider);
        var db = audit.Db;
        var seal = await db.Set<AuditSealRow>().AsNoTracking().Where(x => x.Id == HeadRow || x.Id == KeyRow).ToListAsync(cancellationToken);
        var head = seal.Find(x => x.Id == HeadRow);
        var marker = seal.Find(x => x.Id == KeyRow);
        var headSeq = head?.LastSeq ?? 0;
        var headHash = head?.LastHash ?? Genesis;
        var keyedFrom = marker?.LastSeq;

        if (marker is not null && marker.LastHash != key.Check)
        {
            return new VerifyResult(false, 0, keyedFrom, $"The chain is sealed from seq {keyedFrom} with another key than this server's audit key (Audit:Key, Audit:KeyFile); it cannot be verified with this key.")
            {
                Reason = "key_mismatch",
                HeadSeq = headSeq,
                KeyedFromSeq = keyedFrom,
            };
        }

        AuditAnchors.Anchor[] anchors;
        try
        {
            anchors = AuditAnchors.Read(key);
        }
        catch (AuditAnchors.AnchorFileException ex)
        {
            return new VerifyResult(false, 0, null, ex.Message) { Reason = "anchor_file", HeadSeq = headSeq, KeyedFromSeq = keyedFrom };
        }

        var newest = anchors.Length == 0 ? null : anchors.MaxBy(a => a.Seq);
        VerifyResult Result(bool valid, long checkedCount, long? brokenAt, string? problem, string? reason, AuditAnchors.Anchor? anchor) =>
            new(valid, checkedCount, brokenAt, problem)
            {
                Reason = reason,
                HeadSeq = headSeq,
                KeyedFromSeq = keyedFrom,
                AnchorsChecked = anchors.Length,
                AnchoredSeq = anchor?.Seq,
                AnchoredAt = anchor?.At,
            };

        // An anchor taken before the first keyed write says "not keyed up to its seq"; a later one names the marker.
        if (Array.Find(anchors, a => a.KeyedFrom is null ? keyedFrom <= a.Seq : a.KeyedFrom != keyedFrom) is { } moved)
        {
            return Result(false, 0, Math.Min(moved.KeyedFrom ?? long.MaxValue, keyedFrom ?? long.MaxValue),
                $"The chain's key marker says keyed from seq {Describe(keyedFrom)}, but seq {Describe(moved.KeyedFrom)} was anchored at {moved.At:O}: the marker was changed or removed.", "key_marker_changed", moved);
        }

        var bySeq = anchors.OrderBy(a => a.Seq).ToArray();
        var nextAnchor = 0;
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
                    return Result(false, expectedSeq - 1, expectedSeq, $"Event seq {expectedSeq} is missing.", "missing", null);
                }

                if (e.Hash != HashOf(e, previous, e.Seq >= keyedFrom ? key : null))
                {
                    return Result(false, expectedSeq - 1, e.Seq, $"Event seq {e.Seq} was altered, or an event before it was removed.", "altered", null);
                }

                while (nextAnchor < bySeq.Length && bySeq[nextAnchor].Seq <= e.Seq)
                {
                    var anchor = bySeq[nextAnchor++];
                    if (anchor.Seq == e.Seq && anchor.Hash != e.Hash)
                    {
                        return Result(false, expectedSeq - 1, e.Seq,
                            $"Event seq {e.Seq} is not the one anchored at {anchor.At:O}: the chain up to it was rewritten.", "anchor_mismatch", anchor);
                    }
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

        if (headSeq != lastSeq || headHash != previous)
        {
            return Result(false, lastSeq, lastSeq + 1, "The newest sealed events were removed or the chain head was altered.", "head_mismatch", null);
        }

        if (newest is not null && newest.Seq > lastSeq)
        {
            return Result(false, lastSeq, lastSeq + 1,
                $"The chain ends at seq {lastSeq}, but seq {newest.Seq} was anchored at {newest.At:O}: the events after seq {lastSeq} were removed and the chain head rewound.", "truncated", newest);
        }

        if (keyedFrom is not null && await db.AuditEvents.CountAsync(e => e.Seq == null, cancellationToken) is > 0 and var unsealed)
        {
            return Result(false, lastSeq, null, $"{unsealed} events are stored without a place in the chain: this server did not write them.", "unsealed", newest);
        }

        return Result(true, lastSeq, null, null, null, newest);

        static string Describe(long? seq) => seq?.ToString(CultureInfo.InvariantCulture) ?? "(none)";
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Sealing audit events failed; the next pass retries")]
    private static partial void LogSealFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Critical, Message = "The audit chain was sealed with another key than this server's ({Source}): no audit event can be stored, so audited requests are answered 503. Configure the key the chain was sealed with (Audit:Key or Audit:KeyFile; all instances on one database need the same key)")]
    private static partial void LogKeyMismatch(ILogger logger, string source);
}

/// <summary>The chain's key marker names another key than this server's.</summary>
public sealed class AuditKeyMismatchException() : Exception("The audit chain was sealed with another key than this server's Audit:Key / Audit:KeyFile.");
