using System.Threading.Channels;
using Vardbro.Server.Api;
using Vardbro.Server.Storage;

namespace Vardbro.Server.Audit;

/// <summary>
/// Writes audit events with group commit: requests queue their event and wait; one writer stores
/// whatever has queued up in a single transaction, already sealed into the hash chain, and then
/// releases all of them. A request's response is sent only after its event is committed.
/// </summary>
public sealed partial class AuditLog(IServiceScopeFactory scopes, ILogger<AuditLog> logger) : BackgroundService
{
    private const int MaxBatch = 1000;

    private readonly Channel<(AuditEventRow Row, TaskCompletionSource Done)> queue =
        Channel.CreateUnbounded<(AuditEventRow, TaskCompletionSource)>(new UnboundedChannelOptions { SingleReader = true });

    public Task WriteAsync(AuditEventRow row)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!queue.Writer.TryWrite((row, done)))
        {
            done.SetException(new InvalidOperationException("The audit log is shutting down."));
        }

        return done.Task;
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
        try
        {
            await using (var scope = scopes.CreateAsyncScope())
            {
                var db = scope.ServiceProvider.GetRequiredService<VardbroDb>();
                await AuditSealer.InsertSealedAsync(db, batch.ConvertAll(b => b.Row), CancellationToken.None);
            }

            foreach (var item in batch)
            {
                item.Done.TrySetResult();
            }
        }
#pragma warning disable CA1031 // every waiting request must learn that its event was not stored
        catch (Exception ex)
#pragma warning restore CA1031
        {
            LogWriteFailed(logger, batch.Count, ex);
            foreach (var item in batch)
            {
                item.Done.TrySetException(new InvalidOperationException("The audit event could not be stored.", ex));
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Storing {Count} audit events failed")]
    private static partial void LogWriteFailed(ILogger logger, int count, Exception exception);
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
            Emr = http.GetRouteValue("emr") as string,
            CareUnitId = http.GetRouteValue("care_unit_id") as string,
            ResourceType = resourceType,
            ResourceId = scope.ResourceId,
            PatientIds = string.Join(' ', scope.PatientIds),
            OutcomeStatus = status,
            RequestId = http.TraceIdentifier,
        });
    }
}
