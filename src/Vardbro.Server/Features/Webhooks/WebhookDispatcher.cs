using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using StandardWebhooks;
using Vardbro.Connectors.Local;
using Vardbro.Connectors;
using Vardbro.Server.Api;
using Vardbro.Server.Emrs;
using Vardbro.Server.Features.Events;
using Vardbro.Server.Storage;
using Vardbro.Storage;

namespace Vardbro.Server.Features.Webhooks;

/// <summary>The states of a <see cref="WebhookDeliveryRow"/>.</summary>
public static class DeliveryStatus
{
    public const string Pending = "pending";
    public const string Delivered = "delivered";
    public const string Failed = "failed";
}

/// <summary>A Standard Webhooks message body: <c>{type, timestamp, data}</c>.</summary>
public sealed record WebhookPayload(string Type, DateTimeOffset Timestamp, object Data);

/// <summary>
/// Delivers the change feed to subscriptions, at least once, per the Standard Webhooks specification.
/// Each pass (a) fans new events of the built-in EHR's feed out into delivery rows — under one lock per
/// database, in the transaction that moves the feed position, so a crash repeats a fan-out or none of
/// it — and (b) claims due deliveries (<c>FOR UPDATE SKIP LOCKED</c> on PostgreSQL, so instances share
/// the work without sending one twice), at most one per subject and subscription at a time (oldest
/// first), sends them signed, and records the outcome: retried per <c>Webhooks:RetryDelaysSeconds</c>,
/// then failed and the subscription disabled.
/// </summary>
public sealed partial class WebhookDispatcher(
    IServiceScopeFactory scopes, IHttpClientFactory clients, IOptions<WebhooksOptions> options, IOptions<JsonOptions> json, TimeProvider time, ILogger<WebhookDispatcher> logger)
    : BackgroundService
{
    public const string HttpClientName = "webhooks";
    public const int BatchSize = 50;
    public const int FanOutBatch = 500;
    public const int Parallelism = 8;
    public const string TestType = "webhook.test";
    private const string FanOutLock = "webhook-fan-out";
    private const string FeedPositionKey = "*";

    public static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(1);

    private readonly SemaphoreSlim wake = new(0, 1);
    private readonly SemaphoreSlim onePass = new(1, 1);

    /// <summary>The HTTP client of deliveries: checks every address it connects to (after DNS resolution) unless insecure targets are allowed.</summary>
    public static void Configure(IServiceCollection services)
    {
        services.AddHttpClient(HttpClientName)
            .ConfigurePrimaryHttpMessageHandler(sp =>
            {
                var allowInsecure = sp.GetRequiredService<IOptions<WebhooksOptions>>().Value.AllowInsecureTargets;
                return new SocketsHttpHandler
                {
                    AllowAutoRedirect = false,
                    UseCookies = false,
                    PooledConnectionLifetime = TimeSpan.FromMinutes(5),
                    ConnectCallback = (context, cancellationToken) => ConnectAsync(context, allowInsecure, cancellationToken),
                };
            });
    }

    /// <summary>
    /// Resolves the host and connects only to an address that may receive deliveries: checked here, on
    /// every connection, so a name that resolves to a private address later (DNS rebinding) is refused too.
    /// </summary>
    private static async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, bool allowInsecure, CancellationToken cancellationToken)
    {
        var host = context.DnsEndPoint.Host;
        var addresses = IPAddress.TryParse(host, out var literal) ? [literal] : await Dns.GetHostAddressesAsync(host, cancellationToken);
        var allowed = addresses.Where(a => allowInsecure || Webhooks.IsPublic(a)).ToList();
        if (allowed.Count == 0)
        {
            throw new HttpRequestException(HttpRequestError.ConnectionError, "The target resolves to no address that may receive webhooks (loopback, private and link-local addresses are refused).");
        }

        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(allowed.ToArray(), context.DnsEndPoint.Port, cancellationToken);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Wakes the dispatcher (a test message was queued).</summary>
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

    /// <summary>The <c>webhook-signature</c> value (<c>v1,</c> and the base64 HMAC-SHA256 of <c>{id}.{timestamp}.{body}</c>), made by the Standard Webhooks library.</summary>
    public static string Sign(string secret, string messageId, long timestamp, string body) =>
        new StandardWebhook(secret).Sign(messageId, DateTimeOffset.FromUnixTimeSeconds(timestamp), body);

    /// <summary>The body of a message, serialized as every answer of the API is.</summary>
    public string Serialize(WebhookPayload payload) => JsonSerializer.Serialize(payload, json.Value.SerializerOptions);

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        BackgroundRounds.OnWakeAsync(wake, PollInterval, PassAsync, ex => LogPassFailed(logger, ex), stoppingToken);

    /// <summary>One pass: fans new events out, then sends what is due until nothing is.</summary>
    public async Task PassAsync(CancellationToken cancellationToken)
    {
        await onePass.WaitAsync(cancellationToken);
        try
        {
            while (await FanOutAsync(cancellationToken) == FanOutBatch)
            {
            }

            while (await DispatchDueAsync(cancellationToken) == BatchSize)
            {
            }
        }
        finally
        {
            onePass.Release();
        }
    }

    /// <summary>Turns the events after the feed position into deliveries to the subscriptions they match; how many events it read.</summary>
    private async Task<int> FanOutAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<VardbroDb>();

        // A cheap look first: most passes find nothing, and need no write lock to say so.
        var position = await db.WebhookFeedPositions.AsNoTracking().Where(p => p.Emr == FeedPositionKey).FirstOrDefaultAsync(cancellationToken);
        var horizon = await ChangeFeedOrder.HorizonAsync(db, cancellationToken);
        if (!await ChangeFeedOrder.After(db, db.Set<ChangeEventRow>(), horizon, position?.LastEventTx ?? -1, position?.LastEventKey ?? 0).AnyAsync(cancellationToken))
        {
            return 0;
        }

        var connectors = scope.ServiceProvider.GetRequiredService<EmrConnectors>();
        return await SerializedWrites.RunAsync(db, FanOutLock, async () =>
        {
            var row = await db.WebhookFeedPositions.FirstOrDefaultAsync(p => p.Emr == FeedPositionKey, cancellationToken);
            if (row is null)
            {
                row = new WebhookFeedPositionRow { Emr = FeedPositionKey };
                db.WebhookFeedPositions.Add(row);
            }

            var final = await ChangeFeedOrder.HorizonAsync(db, cancellationToken);
            var events = await ChangeFeedOrder.After(db, db.Set<ChangeEventRow>().AsNoTracking(), final, row.LastEventTx, row.LastEventKey).Take(FanOutBatch).ToListAsync(cancellationToken);
            if (events.Count == 0)
            {
                return 0;
            }

            var emrs = events.Select(e => e.Emr).Distinct().ToList();
            var hooks = await db.Webhooks.AsNoTracking().Where(w => emrs.Contains(w.Emr)).ToListAsync(cancellationToken);
            var owners = hooks.Select(h => h.ClientId).Distinct().ToList();
            var grants = (await db.Clients.AsNoTracking().Where(c => owners.Contains(c.Id) && c.RevokedAt == null).ToListAsync(cancellationToken))
                .ToDictionary(c => c.Id, c => new ClientContext(c.Id, Secrets.DeserializeGrants(c.GrantsJson)), StringComparer.Ordinal);
            var zones = new Dictionary<(string, string), string>();
            var now = time.GetUtcNow();
            foreach (var e in events)
            {
                // Events recorded from the subscription's creation on (kept to the millisecond). The time of
                // recording, not of the change: a polled EHR's change is recorded after it happened.
                foreach (var hook in hooks.Where(h => h.Emr == e.Emr && e.RecordedAt.UtcTicks >= h.CreatedAt.UtcTicks - (h.CreatedAt.UtcTicks % TimeSpan.TicksPerMillisecond)))
                {
                    var types = Webhooks.List(hook.EventsJson);
                    var units = Webhooks.List(hook.CareUnitsJson);
                    if (!(types.Contains(Webhooks.All) || types.Contains(e.Type))
                        || !(units.Contains(Webhooks.All) || units.Contains(e.CareUnitId))
                        || !grants.TryGetValue(hook.ClientId, out var client) || !client.MayUse(e.Emr, e.CareUnitId))
                    {
                        continue;
                    }

                    if (!zones.TryGetValue((e.Emr, e.CareUnitId), out var zone))
                    {
                        zone = await ZoneAsync(connectors, e.Emr, e.CareUnitId, cancellationToken);
                        zones[(e.Emr, e.CareUnitId)] = zone;
                    }

                    var data = EventResponse.From(StoredChangeFeed.ToEvent(e), e.Emr, zone);
                    db.WebhookDeliveries.Add(new WebhookDeliveryRow
                    {
                        WebhookId = hook.Id,
                        MessageId = data.Id,
                        Type = e.Type,
                        SubjectKey = $"{e.Emr}/{e.SubjectType}/{e.SubjectId}",
                        Payload = Serialize(new WebhookPayload(e.Type, data.OccurredAt, data)),
                        Status = DeliveryStatus.Pending,
                        CreatedAt = now,
                        NextAttemptAt = now,
                    });
                }
            }

            row.LastEventTx = events[^1].Tx;
            row.LastEventKey = events[^1].Key;
            await db.SaveChangesAsync(cancellationToken);
            return events.Count;
        }, cancellationToken);
    }

    /// <summary>
    /// The care unit's time zone for the event's offset; the default zone where the EMR is no longer
    /// configured or the unit was deleted, so that one such event never stops the fan-out.
    /// </summary>
    private static async Task<string> ZoneAsync(EmrConnectors connectors, string emr, string careUnitId, CancellationToken cancellationToken)
    {
        try
        {
            return (await connectors.Require<ICareUnitDirectory>(emr).GetCareUnitAsync(careUnitId, cancellationToken))?.TimeZone ?? TimeZones.Default;
        }
        catch (VardbroException)
        {
            return TimeZones.Default;
        }
    }

    /// <summary>Claims up to <see cref="BatchSize"/> due deliveries, sends them, records the outcomes; how many it claimed.</summary>
    public async Task<int> DispatchDueAsync(CancellationToken cancellationToken)
    {
        var claimed = await ClaimAsync(cancellationToken);
        if (claimed.Count == 0)
        {
            return 0;
        }

        var outcomes = new ConcurrentDictionary<long, (int? Status, string? Error)>();
        var http = clients.CreateClient(HttpClientName);
        http.Timeout = TimeSpan.FromSeconds(options.Value.TimeoutSeconds);
        try
        {
            await Parallel.ForEachAsync(
                claimed,
                new ParallelOptions { MaxDegreeOfParallelism = Parallelism, CancellationToken = cancellationToken },
                async (c, token) => outcomes[c.Delivery.Key] = await SendAsync(http, c.Url, c.Secret, c.Delivery, token));
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Shutting down: record what was attempted, give the rest back below.
        }

        await RecordAsync(claimed.Select(c => c.Delivery.Key).ToList(), outcomes);
        cancellationToken.ThrowIfCancellationRequested();
        return claimed.Count;
    }

    private sealed record Claimed(WebhookDeliveryRow Delivery, string Url, string Secret);

    private async Task<List<Claimed>> ClaimAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<VardbroDb>();
        var now = time.GetUtcNow();
        if (!await db.WebhookDeliveries.AnyAsync(d => d.Status == DeliveryStatus.Pending && d.NextAttemptAt <= now, cancellationToken))
        {
            return [];
        }

        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        List<WebhookDeliveryRow> rows;
        if (db.IsPostgres)
        {
            // Another instance's claimed rows are skipped, not waited for; a delivery waits while an
            // older one of its subject to the same subscription is pending (sent in order).
            rows = await db.WebhookDeliveries.FromSql($"""
                SELECT d.* FROM webhook_deliveries d JOIN webhooks w ON w."Id" = d."WebhookId"
                WHERE d."Status" = {DeliveryStatus.Pending} AND d."NextAttemptAt" <= {now} AND w."Enabled"
                  AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p WHERE p."WebhookId" = d."WebhookId" AND p."SubjectKey" = d."SubjectKey"
                                  AND p."Status" = {DeliveryStatus.Pending} AND p."Key" < d."Key")
                ORDER BY d."Key"
                LIMIT {BatchSize}
                FOR UPDATE OF d SKIP LOCKED
                """).ToListAsync(cancellationToken);
        }
        else
        {
            rows = await db.WebhookDeliveries
                .Where(d => d.Status == DeliveryStatus.Pending && d.NextAttemptAt <= now
                    && db.Webhooks.Any(w => w.Id == d.WebhookId && w.Enabled)
                    && !db.WebhookDeliveries.Any(p => p.WebhookId == d.WebhookId && p.SubjectKey == d.SubjectKey && p.Status == DeliveryStatus.Pending && p.Key < d.Key))
                .OrderBy(d => d.Key)
                .Take(BatchSize)
                .ToListAsync(cancellationToken);
        }

        // The claim: longer than a batch takes at worst; a crashed sender's deliveries are due again after it.
        var lease = now + (TimeSpan.FromSeconds(options.Value.TimeoutSeconds) * ((BatchSize / Parallelism) + 2));
        foreach (var row in rows)
        {
            row.NextAttemptAt = lease;
        }

        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        var ids = rows.Select(r => r.WebhookId).Distinct().ToList();
        var hooks = await db.Webhooks.AsNoTracking().Where(w => ids.Contains(w.Id)).ToDictionaryAsync(w => w.Id, cancellationToken);
        return rows.Where(r => hooks.ContainsKey(r.WebhookId)).Select(r => new Claimed(r, hooks[r.WebhookId].Url, hooks[r.WebhookId].Secret)).ToList();
    }

    private async Task<(int? Status, string? Error)> SendAsync(HttpClient http, string url, string secret, WebhookDeliveryRow delivery, CancellationToken cancellationToken)
    {
        if (!options.Value.AllowInsecureTargets && !url.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
        {
            return (null, "The target is not https.");
        }

        var timestamp = time.GetUtcNow().ToUnixTimeSeconds();
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new StringContent(delivery.Payload, Encoding.UTF8, "application/json") };
        request.Headers.TryAddWithoutValidation("webhook-id", delivery.MessageId);
        request.Headers.TryAddWithoutValidation("webhook-timestamp", timestamp.ToString(CultureInfo.InvariantCulture));
        request.Headers.TryAddWithoutValidation("webhook-signature", Sign(secret, delivery.MessageId, timestamp, delivery.Payload));
        try
        {
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            return ((int)response.StatusCode, null);
        }
        catch (HttpRequestException ex)
        {
            LogUnreachable(logger, delivery.Key, ex.HttpRequestError);
            return (null, ex.HttpRequestError == HttpRequestError.ConnectionError && ex.Message.Contains("may receive webhooks", StringComparison.Ordinal)
                ? "The target resolves to no address that may receive webhooks."
                : "The target could not be reached (" + ex.HttpRequestError + ").");
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return (null, "The target did not answer within " + options.Value.TimeoutSeconds.ToString(CultureInfo.InvariantCulture) + " s.");
        }
    }

    private async Task RecordAsync(List<long> keys, ConcurrentDictionary<long, (int? Status, string? Error)> outcomes)
    {
        // Not cancellable: what was sent must be recorded as sent, also when shutting down.
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<VardbroDb>();
        var rows = await db.WebhookDeliveries.Where(d => keys.Contains(d.Key)).ToListAsync(CancellationToken.None);
        var delays = options.Value.RetryDelays() ?? [];
        var now = time.GetUtcNow();
        var disable = new HashSet<string>(StringComparer.Ordinal);
        foreach (var row in rows.Where(r => r.Status == DeliveryStatus.Pending))
        {
            if (!outcomes.TryGetValue(row.Key, out var outcome))
            {
                row.NextAttemptAt = now;
                continue;
            }

            row.Attempts++;
            row.LastAttemptAt = now;
            row.LastStatusCode = outcome.Status;
            row.LastError = outcome.Error ?? (outcome.Status is >= 200 and < 300 ? null : $"The target answered {outcome.Status}.");
            if (outcome.Status is >= 200 and < 300)
            {
                row.Status = DeliveryStatus.Delivered;
                row.DeliveredAt = now;
            }
            else if (row.Attempts > delays.Count)
            {
                row.Status = DeliveryStatus.Failed;
                disable.Add(row.WebhookId);
                LogGaveUp(logger, row.Key, row.WebhookId, row.Attempts);
            }
            else
            {
                row.NextAttemptAt = now + delays[row.Attempts - 1];
            }
        }

        if (disable.Count > 0)
        {
            foreach (var hook in await db.Webhooks.Where(w => disable.Contains(w.Id)).ToListAsync(CancellationToken.None))
            {
                hook.Enabled = false;
                hook.DisabledReason = "A delivery failed after every retry; re-enable the webhook with PATCH {\"enabled\": true}.";
            }
        }

        await db.SaveChangesAsync(CancellationToken.None);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Delivering webhooks failed; the next pass retries")]
    private static partial void LogPassFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Webhook delivery {DeliveryKey}: the target could not be reached ({Reason})")]
    private static partial void LogUnreachable(ILogger logger, long deliveryKey, HttpRequestError reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Webhook delivery {DeliveryKey} to {WebhookId} failed after {Attempts} attempts; the webhook is disabled")]
    private static partial void LogGaveUp(ILogger logger, long deliveryKey, string webhookId, int attempts);
}
