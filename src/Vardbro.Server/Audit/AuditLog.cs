using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.ComponentModel.DataAnnotations;
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
/// that cannot be stored, or not within <c>Audit:MaxWaitSeconds</c> (default 30), turns the
/// response into a 503, so no answer goes out without its event and no request waits for ever.
/// </summary>
public sealed partial class AuditLog : BackgroundService
{
    private const int MaxBatch = 1000;

    private const string Unavailable = "The audit trail could not record this access, so the answer is withheld; try again.";

    private readonly Channel<(AuditEventRow Row, TaskCompletionSource Done)> queue =
        Channel.CreateUnbounded<(AuditEventRow, TaskCompletionSource)>(new UnboundedChannelOptions { SingleReader = true });

    private readonly IServiceScopeFactory scopes;
    private readonly AuditStore store;
    private readonly ILogger<AuditLog> logger;
    private readonly TimeSpan maxWait;
    private readonly Histogram<double> commitDuration;
    private readonly Counter<long> committed;

    // The single-reader channel cannot count what it holds; this does, for the queue-depth gauge.
    private int depth;

    public AuditLog(IServiceScopeFactory scopes, AuditStore store, ILogger<AuditLog> logger, IOptions<AuditOptions> options, IMeterFactory meters)
    {
        ArgumentNullException.ThrowIfNull(meters);
        ArgumentNullException.ThrowIfNull(options);
        this.scopes = scopes;
        this.store = store;
        this.logger = logger;
        maxWait = TimeSpan.FromSeconds(options.Value.MaxWaitSeconds);
        var meter = meters.Create(Telemetry.VardbroMetrics.MeterName);
        meter.CreateObservableGauge("vardbro.audit.queue.depth", () => Volatile.Read(ref depth), "{event}", "Audit events waiting for the writer's next commit.");
        commitDuration = meter.CreateHistogram("vardbro.audit.commit.duration", "s", "One group commit of audit events, sealed into the chain, by outcome.", advice: Telemetry.VardbroMetrics.Seconds);
        committed = meter.CreateCounter<long>("vardbro.audit.events", "{event}", "Audit events the writer handled, by outcome (stored or failed).");
    }

    // On SQLite the writer keeps its connection to the audit file, and with it its prepared statements.
    private Microsoft.Data.Sqlite.SqliteConnection? connection;

    /// <summary>Stores the event; throws a 503 <see cref="VardbroException"/> when it cannot be stored in time.</summary>
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
        try
        {
            while (await reader.WaitToReadAsync(CancellationToken.None))
            {
                batch.Clear();
                while (batch.Count < MaxBatch && reader.TryRead(out var item))
                {
                    batch.Add(item);
                }

                Interlocked.Add(ref depth, -batch.Count);

                await CommitAsync(batch);
                if (stoppingToken.IsCancellationRequested && !reader.TryPeek(out _))
                {
                    break;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        // Let queued events reach the database before the process ends.
        queue.Writer.TryComplete();
        await base.StopAsync(cancellationToken);
    }

    private async Task CommitAsync(List<(AuditEventRow Row, TaskCompletionSource Done)> batch)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            await using (var scope = scopes.CreateAsyncScope())
            {
                connection ??= store.OpenConnection();
                await using var audit = store.Open(scope.ServiceProvider, connection);
                await AuditSealer.InsertSealedAsync(audit.Db, batch.ConvertAll(b => b.Row), CancellationToken.None);
            }

            Measure(started, batch.Count, "stored");
            foreach (var item in batch)
            {
                item.Done.TrySetResult();
            }
        }
#pragma warning disable CA1031 // every waiting request must learn that its event was not stored
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Measure(started, batch.Count, "failed");
            LogWriteFailed(logger, batch.Count, ex);
            connection?.Dispose();
            connection = null;
            foreach (var item in batch)
            {
                item.Done.TrySetException(new AuditWriteFailedException(ex));
            }
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
        base.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Storing {Count} audit events failed")]
    private static partial void LogWriteFailed(ILogger logger, int count, Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "An audit event was not stored within {Seconds} s; the request was answered 503")]
    private static partial void LogWaitedTooLong(ILogger logger, double seconds);

    private sealed class AuditWriteFailedException(Exception inner) : Exception("The audit event could not be stored.", inner);
}

/// <summary><c>Audit:*</c>.</summary>
public sealed class AuditOptions
{
    public const string Section = "Audit";

    /// <summary>How long a request waits for its audit event to be stored before it is answered 503.</summary>
    [Range(0.1, 3600, ErrorMessage = "must be a number of seconds from 0.1 to 3600.")]
    public double MaxWaitSeconds { get; set; } = 30;
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
