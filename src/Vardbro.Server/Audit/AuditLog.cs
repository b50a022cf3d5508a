using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.ComponentModel.DataAnnotations;
using System.Text;
using System.Threading.Channels;
using Microsoft.Extensions.Options;
using Vardbro.Connectors;
using Vardbro.Server.Api;
using Vardbro.Server.Storage;

namespace Vardbro.Server.Audit;

/// <summary>
/// Writes audit events with group commit: requests queue their event and wait; one writer stores
/// whatever has queued up in a single transaction, already sealed into the hash chain, and then
/// releases all of them. A request's response is sent only after its event is committed; an event
/// that is not stored within <c>Audit:MaxWaitSeconds</c> (default 30) turns the response into a 503,
/// so no answer goes out without its event and no request waits for ever.
/// <para>
/// A batch whose commit fails is never dropped: the writer retries it (backoff from 100 ms to 5 s)
/// before anything queued after it, so the chain keeps the order of events, and the requests waiting
/// for it keep waiting (or get their 503); an event whose request was already answered 503 is still
/// stored once the store takes it, so a write that committed has its event. While the store is
/// failing, new audited requests are refused with 503 before their handler runs (<see cref="ThrowIfUnavailable"/>),
/// so nothing more is written that could not be audited and the queue stays bounded. A batch refused
/// for what is in an event (a value the column cannot hold) is split, and an event refused alone is
/// stored with its texts cleaned and cut to the columns. At shutdown the writer keeps trying until
/// the host's shutdown timeout; what it then still holds is logged as lost.
/// </para>
/// </summary>
public sealed partial class AuditLog : BackgroundService
{
    private const int MaxBatch = 1000;

    private static readonly TimeSpan FirstRetry = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan LastRetry = TimeSpan.FromSeconds(5);

    private const string Unavailable = "The audit trail could not record this access, so the answer is withheld; try again.";

    private readonly Channel<(AuditEventRow Row, TaskCompletionSource Done)> queue =
        Channel.CreateUnbounded<(AuditEventRow, TaskCompletionSource)>(new UnboundedChannelOptions { SingleReader = true });

    private readonly IServiceScopeFactory scopes;
    private readonly AuditStore store;
    private readonly AuditKey key;
    private readonly TimeProvider time;
    private readonly ILogger<AuditLog> logger;
    private readonly TimeSpan maxWait;
    private readonly Histogram<double> commitDuration;
    private readonly Counter<long> committed;

    // Cancelled when the host's shutdown time is up: then the writer stops retrying.
    private readonly CancellationTokenSource giveUp = new();

    // The single-reader channel cannot count what it holds; this does, for the queue-depth gauge.
    private int depth;

    // Set while the store refuses the writer's commits; cleared by the next commit that succeeds.
    private volatile bool failing;

    public AuditLog(IServiceScopeFactory scopes, AuditStore store, AuditKey key, TimeProvider time, ILogger<AuditLog> logger, IOptions<AuditOptions> options, IMeterFactory meters)
    {
        ArgumentNullException.ThrowIfNull(meters);
        ArgumentNullException.ThrowIfNull(options);
        this.scopes = scopes;
        this.store = store;
        this.key = key;
        this.time = time;
        this.logger = logger;
        maxWait = TimeSpan.FromSeconds(options.Value.MaxWaitSeconds);
        var meter = meters.Create(Telemetry.VardbroMetrics.MeterName);
        meter.CreateObservableGauge("vardbro.audit.queue.depth", () => Volatile.Read(ref depth), "{event}", "Audit events waiting for the writer's next commit.");
        commitDuration = meter.CreateHistogram("vardbro.audit.commit.duration", "s", "One group commit of audit events, sealed into the chain, by outcome.", advice: Telemetry.VardbroMetrics.Seconds);
        committed = meter.CreateCounter<long>("vardbro.audit.events", "{event}", "Audit events the writer handled, by outcome (stored; failed: a commit attempt that is retried; lost: still unstored when shutdown ended).");
    }

    // On SQLite the writer keeps its connection to the audit file, and with it its prepared statements.
    private Microsoft.Data.Sqlite.SqliteConnection? connection;

    /// <summary>Throws a 503 <see cref="VardbroException"/> while the audit store refuses events: an audited request then does not run.</summary>
    public void ThrowIfUnavailable()
    {
        if (failing)
        {
            throw new VardbroException(ErrorCodes.ServiceUnavailable, Unavailable);
        }
    }

    /// <summary>Stores the event; throws a 503 <see cref="VardbroException"/> when it is not stored in time (it stays queued).</summary>
    public async Task WriteAsync(AuditEventRow row)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!queue.Writer.TryWrite((row, done)))
        {
            throw new VardbroException(ErrorCodes.ServiceUnavailable, "The server is shutting down; try again.");
        }

        Interlocked.Increment(ref depth);

        try
        {
            await done.Task.WaitAsync(maxWait);
        }
        catch (TimeoutException)
        {
            LogWaitedTooLong(logger, maxWait.TotalSeconds);
            throw new VardbroException(ErrorCodes.ServiceUnavailable, Unavailable);
        }
        catch (AuditWriteFailedException)
        {
            throw new VardbroException(ErrorCodes.ServiceUnavailable, Unavailable);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var batch = new List<(AuditEventRow Row, TaskCompletionSource Done)>(MaxBatch);
        var reader = queue.Reader;
        while (await reader.WaitToReadAsync(CancellationToken.None))
        {
            batch.Clear();
            while (batch.Count < MaxBatch && reader.TryRead(out var item))
            {
                batch.Add(item);
            }

            Interlocked.Add(ref depth, -batch.Count);
            await StoreAsync(batch);
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        // Let queued events reach the database before the process ends; retry a failing store until
        // the host's shutdown time is up.
        queue.Writer.TryComplete();
        await using (cancellationToken.Register(giveUp.Cancel))
        {
            await base.StopAsync(cancellationToken);
        }
    }

    /// <summary>Stores <paramref name="batch"/> in order, retrying until it is stored or shutdown gives up.</summary>
    private async Task StoreAsync(List<(AuditEventRow Row, TaskCompletionSource Done)> batch)
    {
        var delay = FirstRetry;
        var cleaned = false;
        while (true)
        {
            var started = Stopwatch.GetTimestamp();
            try
            {
                await CommitAsync(batch);
                Measure(started, batch.Count, "stored");
                if (failing)
                {
                    failing = false;
                    LogRecovered(logger);
                }

                foreach (var item in batch)
                {
                    item.Done.TrySetResult();
                }

                return;
            }
#pragma warning disable CA1031 // any failure is retried; none may drop the batch
            catch (Exception ex)
#pragma warning restore CA1031
            {
                Measure(started, batch.Count, "failed");
                connection?.Dispose();
                connection = null;
                if (IsEventFault(ex))
                {
                    if (batch.Count > 1)
                    {
                        // One event the database refuses must not hold back the others: halves, in order.
                        LogSplit(logger, batch.Count, ex);
                        var half = batch.Count / 2;
                        await StoreAsync(batch[..half]);
                        await StoreAsync(batch[half..]);
                        return;
                    }

                    if (!cleaned)
                    {
                        LogCleaned(logger, batch[0].Row.RequestId is { Length: <= 64 } id ? id : "(long)", ex);
                        Clean(batch[0].Row);
                        cleaned = true;
                        continue;
                    }
                }

                failing = true;
                LogWriteFailed(logger, batch.Count, delay.TotalSeconds, ex);
                try
                {
                    await Task.Delay(delay, time, giveUp.Token);
                }
                catch (Exception end) when (end is OperationCanceledException or ObjectDisposedException)
                {
                    Measure(Stopwatch.GetTimestamp(), batch.Count, "lost");
                    LogLost(logger, batch.Count);
                    foreach (var item in batch)
                    {
                        item.Done.TrySetException(new AuditWriteFailedException(ex));
                    }

                    return;
                }

                delay = delay * 2 < LastRetry ? delay * 2 : LastRetry;
            }
        }
    }

    private async Task CommitAsync(List<(AuditEventRow Row, TaskCompletionSource Done)> batch)
    {
        await using var scope = scopes.CreateAsyncScope();
        connection ??= store.OpenConnection();
        await using var audit = store.Open(scope.ServiceProvider, connection);

        // A commit reported failed may have been made all the same (the connection lost on COMMIT):
        // then the chain's head is the hash this batch's last event was sealed with, and storing it
        // again would put every event in the chain twice.
        if (batch[^1].Row.Hash is { } sealedAs && await AuditSealer.HeadHashAsync(audit.Db, CancellationToken.None) == sealedAs)
        {
            return;
        }

        var rows = new List<AuditEventRow>(batch.Count);
        foreach (var item in batch)
        {
            item.Row.Id = 0;

            // A lone surrogate has no UTF-8 form: SQLite would store U+FFFD for it, and the event
            // would no longer match its hash.
            if (HasSurrogate(item.Row))
            {
                Clean(item.Row);
            }

            rows.Add(item.Row);
        }

        await AuditSealer.InsertSealedAsync(audit.Db, rows, key, CancellationToken.None);
    }

    /// <summary>Whether the database refused what is in the events, not the write as such.</summary>
    private static bool IsEventFault(Exception ex)
    {
        for (var e = ex; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                // Class 22 data exception (a value too long, a NUL in text), class 23 integrity violation.
                case Npgsql.PostgresException pg when pg.SqlState.StartsWith("22", StringComparison.Ordinal) || pg.SqlState.StartsWith("23", StringComparison.Ordinal):
                // SQLITE_TOOBIG, SQLITE_CONSTRAINT, SQLITE_MISMATCH.
                case Microsoft.Data.Sqlite.SqliteException { SqliteErrorCode: 18 or 19 or 20 }:
                // A text the canonical form cannot encode (a lone UTF-16 surrogate).
                case ArgumentException:
                    return true;
            }
        }

        return false;
    }

    private static bool HasSurrogate(AuditEventRow row) =>
        Surrogate(row.ClientId) || Surrogate(row.ActorId) || Surrogate(row.Action) || Surrogate(row.Emr) || Surrogate(row.CareUnitId)
        || Surrogate(row.ResourceType) || Surrogate(row.ResourceId) || Surrogate(row.PatientIds) || Surrogate(row.RequestId);

    private static bool Surrogate(string? value) => value is not null && value.AsSpan().IndexOfAnyInRange('\ud800', '\udfff') >= 0;

    /// <summary>Makes an event storable: every text without control characters or broken surrogates, cut to its column.</summary>
    private static void Clean(AuditEventRow row)
    {
        row.ClientId = Text(row.ClientId, 64) ?? "";
        row.ActorId = Text(row.ActorId, 256);
        row.Action = Text(row.Action, 64) ?? "";
        row.Emr = Text(row.Emr, 64);
        row.CareUnitId = Text(row.CareUnitId, 128);
        row.ResourceType = Text(row.ResourceType, 64);
        row.ResourceId = Text(row.ResourceId, 256);
        row.PatientIds = Text(row.PatientIds, int.MaxValue) ?? "";
        row.RequestId = Text(row.RequestId, 64) ?? "";

        static string? Text(string? value, int max)
        {
            if (value is null)
            {
                return null;
            }

            var clean = new StringBuilder(Math.Min(value.Length, max));
            for (var i = 0; i < value.Length && clean.Length < max; i++)
            {
                var c = value[i];
                if (char.IsHighSurrogate(c) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
                {
                    if (clean.Length + 2 > max)
                    {
                        break;
                    }

                    clean.Append(c).Append(value[++i]);
                }
                else
                {
                    clean.Append(char.IsControl(c) || char.IsSurrogate(c) ? '?' : c);
                }
            }

            return clean.ToString();
        }
    }

    private void Measure(long started, int events, string outcome)
    {
        var tag = new KeyValuePair<string, object?>("vardbro.outcome", outcome);
        commitDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, tag);
        committed.Add(events, tag);
    }

    public override void Dispose()
    {
        connection?.Dispose();
        giveUp.Dispose();
        base.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Storing {Count} audit events failed; trying again in {DelaySeconds} s (new audited requests are answered 503 meanwhile)")]
    private static partial void LogWriteFailed(ILogger logger, int count, double delaySeconds, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "The audit store takes events again")]
    private static partial void LogRecovered(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The database refused a batch of {Count} audit events for what one of them holds; storing it in halves")]
    private static partial void LogSplit(ILogger logger, int count, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The database refused the audit event of request {RequestId}; it is stored with its texts cleaned and cut to the columns")]
    private static partial void LogCleaned(ILogger logger, string requestId, Exception exception);

    [LoggerMessage(Level = LogLevel.Critical, Message = "Shutdown ended before {Count} audit events could be stored; they are lost")]
    private static partial void LogLost(ILogger logger, int count);

    [LoggerMessage(Level = LogLevel.Error, Message = "An audit event was not stored within {Seconds} s; the request was answered 503 (the event stays queued)")]
    private static partial void LogWaitedTooLong(ILogger logger, double seconds);

    private sealed class AuditWriteFailedException(Exception inner) : Exception("The audit event could not be stored.", inner);
}

/// <summary><c>Audit:*</c>.</summary>
public sealed class AuditOptions : IValidatableObject
{
    public const string Section = "Audit";

    /// <summary>How long a request waits for its audit event to be stored before it is answered 503.</summary>
    [Range(0.1, 3600, ErrorMessage = "must be a number of seconds from 0.1 to 3600.")]
    public double MaxWaitSeconds { get; set; } = 30;

    /// <summary>The chain key, base64 of at least 32 bytes (<see cref="AuditKey"/>).</summary>
    public string? Key { get; set; }

    /// <summary>A file holding the chain key as base64 (instead of <see cref="Key"/>).</summary>
    public string? KeyFile { get; set; }

    /// <summary>The append-only file the chain's head is anchored in; by default <c>audit-anchors.log</c> beside the key file.</summary>
    public string? AnchorFile { get; set; }

    /// <summary>How often the chain's head is anchored (also at shutdown).</summary>
    [Range(1, 86400, ErrorMessage = "must be a number of seconds from 1 to 86400.")]
    public double AnchorIntervalSeconds { get; set; } = 60;

    public byte[]? KeyBytes() => string.IsNullOrEmpty(Key) ? null : Settings.KeyFromBase64(Key);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!string.IsNullOrEmpty(Key) && KeyBytes() is null)
        {
            yield return new ValidationResult("must be base64 of at least 32 bytes (e.g. openssl rand -base64 32).", [nameof(Key)]);
        }

        if (!string.IsNullOrEmpty(Key) && !string.IsNullOrEmpty(KeyFile))
        {
            yield return new ValidationResult("and Audit:Key are both set; set one of them.", [nameof(KeyFile)]);
        }
    }
}

/// <summary>What the handler of an audited request tells the audit trail about it.</summary>
public sealed class AuditScope
{
    private readonly List<string> patientIds = [];

    public string? ResourceId { get; set; }

    public IReadOnlyList<string> PatientIds => patientIds;

    public void AddPatient(string vardbroPatientId)
    {
        if (!patientIds.Contains(vardbroPatientId))
        {
            patientIds.Add(vardbroPatientId);
        }
    }

    public static AuditScope Of(HttpContext context) =>
        context?.Features.Get<AuditScope>() ?? throw new InvalidOperationException("This endpoint is not audited.");
}

public static class AuditEndpointExtensions
{
    /// <summary>
    /// Writes one audit event for every call of the endpoint, with the outcome's status, and holds
    /// the response until the event is durable.
    /// </summary>
    public static RouteHandlerBuilder Audited(this RouteHandlerBuilder builder, string action, string resourceType) =>
        builder.AddEndpointFilter(async (invocation, next) =>
        {
            var http = invocation.HttpContext;

            // While the trail cannot store events, nothing runs that it could not record.
            http.RequestServices.GetRequiredService<AuditLog>().ThrowIfUnavailable();
            var scope = new AuditScope();
            http.Features.Set(scope);
            object? result;
            try
            {
                result = await next(invocation);
            }
            catch (Exception ex)
            {
                await WriteAsync(http, action, resourceType, scope, Problem.StatusOf(ex));
                throw;
            }

            await WriteAsync(http, action, resourceType, scope, StatusOf(result));
            return result;
        });

    private static int StatusOf(object? result) => result switch
    {
        INestedHttpResult nested => StatusOf(nested.Result),
        IStatusCodeHttpResult { StatusCode: { } status } => status,
        _ => 200,
    };

    private static string? Clip(string? value, int max)
    {
        if (value is null || value.Length <= max)
        {
            return value;
        }

        // Never cut a surrogate pair in two: a lone half is not valid UTF-8.
        return value[..(char.IsHighSurrogate(value[max - 1]) ? max - 1 : max)];
    }

    private static Task WriteAsync(HttpContext http, string action, string resourceType, AuditScope scope, int status)
    {
        var log = http.RequestServices.GetRequiredService<AuditLog>();
        var now = http.RequestServices.GetRequiredService<TimeProvider>().GetUtcNow();
        return log.WriteAsync(new AuditEventRow
        {
            // Microseconds: what PostgreSQL keeps, so the sealed hash reads back the same everywhere.
            At = new DateTimeOffset(now.UtcTicks - (now.UtcTicks % 10), TimeSpan.Zero),
            ClientId = ClientContext.Of(http).ClientId,
            ActorId = ClientContext.ActorOf(http),
            Action = action,
            // A refused request is audited too, with the path's values as sent: cut to what the columns
            // hold, or PostgreSQL refuses the event and the answer with it.
            Emr = Clip(http.GetRouteValue("emr") as string, 64),
            CareUnitId = Clip(http.GetRouteValue("care_unit_id") as string, 128),
            ResourceType = resourceType,
            ResourceId = Clip(scope.ResourceId, 256),
            PatientIds = string.Join(' ', scope.PatientIds),
            OutcomeStatus = status,
            RequestId = http.TraceIdentifier,
        });
    }
}
