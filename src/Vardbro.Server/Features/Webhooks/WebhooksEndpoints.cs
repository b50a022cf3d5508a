using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Vardbro.Connectors;
using Vardbro.Server.Api;
using Vardbro.Server.Emrs;
using Vardbro.Server.Idempotency;
using Vardbro.Server.Storage;

namespace Vardbro.Server.Features.Webhooks;

/// <summary><c>Webhooks:*</c>.</summary>
public sealed class WebhooksOptions : IValidatableObject
{
    public const string Section = "Webhooks";

    /// <summary>The Standard Webhooks schedule: retries 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h after the attempt before (about 28 h in all).</summary>
    public const string DefaultRetryDelays = "5,300,1800,7200,18000,36000,36000";

    /// <summary>Seconds to wait before each retry, comma-separated; after the last, the subscription is disabled.</summary>
    public string RetryDelaysSeconds { get; set; } = DefaultRetryDelays;

    /// <summary>How long one delivery may take before it counts as failed.</summary>
    [Range(1, 120, ErrorMessage = "must be a whole number of seconds from 1 to 120.")]
    public int TimeoutSeconds { get; set; } = 10;

    /// <summary>Allows http and loopback, private and link-local targets: for development and tests only.</summary>
    public bool AllowInsecureTargets { get; set; }

    /// <summary>The retry delays, parsed; null when the setting is not a list of 0–86400 second delays (1 to 20 of them).</summary>
    public IReadOnlyList<TimeSpan>? RetryDelays()
    {
        var parts = (RetryDelaysSeconds ?? "").Split(',', StringSplitOptions.TrimEntries);
        var delays = new List<TimeSpan>();
        foreach (var part in parts)
        {
            if (!int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) || seconds > 86_400)
            {
                return null;
            }

            delays.Add(TimeSpan.FromSeconds(seconds));
        }

        return delays.Count is >= 1 and <= 20 ? delays : null;
    }

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (RetryDelays() is null)
        {
            yield return new ValidationResult("must be 1 to 20 comma-separated whole numbers of seconds from 0 to 86400.", [nameof(RetryDelaysSeconds)]);
        }
    }
}

[OpenApiExample("""{"url": "https://app.example.com/hooks/vardbro", "events": ["appointment.created", "appointment.cancelled"], "emr": "webdoc", "care_units": ["*"]}""")]
public sealed record CreateWebhookRequest(
    [property: Required] string? Url,
    [property: Required] IReadOnlyList<string?>? Events,
    [property: Required] string? Emr,
    [property: Required] IReadOnlyList<string?>? CareUnits);

public record WebhookResponse(
    string Id,
    string Url,
    IReadOnlyList<string> Events,
    string Emr,
    IReadOnlyList<string> CareUnits,
    bool Enabled,
    string? DisabledReason,
    DateTimeOffset CreatedAt)
{
    public static WebhookResponse From(WebhookRow x)
    {
        ArgumentNullException.ThrowIfNull(x);
        return new(x.Id, x.Url, Webhooks.List(x.EventsJson), x.Emr, Webhooks.List(x.CareUnitsJson), x.Enabled, x.DisabledReason, x.CreatedAt);
    }
}

/// <summary>A subscription with its signing secret: in the answers that make a secret only.</summary>
public sealed record WebhookWithSecretResponse(
    string Id,
    string Url,
    IReadOnlyList<string> Events,
    string Emr,
    IReadOnlyList<string> CareUnits,
    bool Enabled,
    string? DisabledReason,
    DateTimeOffset CreatedAt,
    string Secret)
{
    public static WebhookWithSecretResponse From(WebhookRow x)
    {
        var w = WebhookResponse.From(x);
        return new(w.Id, w.Url, w.Events, w.Emr, w.CareUnits, w.Enabled, w.DisabledReason, w.CreatedAt, x.Secret);
    }
}

[OpenApiExample("""{"enabled": true}""")]
public sealed record UpdateWebhookRequest(bool? Enabled);

/// <summary>The data of a test message.</summary>
public sealed record TestData(string WebhookId);

/// <summary>One message to a subscription and what became of it.</summary>
public sealed record DeliveryResponse(
    string MessageId,
    string Type,
    [property: AllowedValues(DeliveryStatus.Pending, DeliveryStatus.Delivered, DeliveryStatus.Failed)] string Status,
    int Attempts,
    DateTimeOffset CreatedAt,
    DateTimeOffset? LastAttemptAt,
    int? LastStatusCode,
    string? LastError,
    DateTimeOffset? NextAttemptAt,
    DateTimeOffset? DeliveredAt)
{
    public static DeliveryResponse From(WebhookDeliveryRow x)
    {
        ArgumentNullException.ThrowIfNull(x);
        return new(x.MessageId, x.Type, x.Status, x.Attempts, x.CreatedAt, x.LastAttemptAt, x.LastStatusCode, x.LastError,
            x.Status == DeliveryStatus.Pending ? x.NextAttemptAt : null, x.DeliveredAt);
    }
}

/// <summary>What subscriptions are made of, shared by the endpoints and the delivery.</summary>
public static class Webhooks
{
    public const string All = "*";
    public const int MaxUrlLength = 2048;
    public const int MaxCareUnits = 500;

    public static IReadOnlyList<string> List(string json) => JsonSerializer.Deserialize<List<string>>(json) ?? [];

    /// <summary>A new signing secret, <c>whsec_</c> and 32 random bytes in base64 (Standard Webhooks "Signature scheme").</summary>
    public static string NewSecret() => "whsec_" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

    public static string NewId() => "wh_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(10));

    /// <summary>
    /// Whether an address may receive deliveries: never loopback, private (RFC 1918, unique local
    /// fc00::/7), link-local, unspecified, multicast or carrier-grade NAT space, unless insecure targets are allowed.
    /// </summary>
    public static bool IsPublic(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        if (IPAddress.IsLoopback(address) || address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any) || address.Equals(IPAddress.Broadcast))
        {
            return false;
        }

        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            var b = address.GetAddressBytes();
            return !(b[0] == 10 || b[0] == 0 || (b[0] == 172 && b[1] >= 16 && b[1] <= 31) || (b[0] == 192 && b[1] == 168)
                || (b[0] == 169 && b[1] == 254) || (b[0] == 100 && b[1] >= 64 && b[1] <= 127) || b[0] >= 224);
        }

        return !(address.IsIPv6LinkLocal || address.IsIPv6SiteLocal || address.IsIPv6Multicast || address.IsIPv6UniqueLocal);
    }

    /// <summary>The target URL, checked as far as it can be before DNS: absolute, https (unless allowed), no literal unsafe address.</summary>
    public static Uri? Target(string? raw, bool allowInsecure, List<ApiError> errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        if (string.IsNullOrWhiteSpace(raw))
        {
            errors.Add(new ApiError(ErrorCodes.MissingRequiredField, "url is required.", "url"));
            return null;
        }

        if (raw.Length > MaxUrlLength || !Uri.TryCreate(raw, UriKind.Absolute, out var url) || url.Scheme is not ("https" or "http") || !string.IsNullOrEmpty(url.UserInfo) || !string.IsNullOrEmpty(url.Fragment))
        {
            errors.Add(new ApiError(ErrorCodes.InvalidField, $"url must be an absolute https URL without user info or fragment, at most {MaxUrlLength} characters.", "url"));
            return null;
        }

        if (!allowInsecure)
        {
            if (url.Scheme != "https")
            {
                errors.Add(new ApiError(ErrorCodes.InvalidField, "url must use https.", "url"));
                return null;
            }

            var host = url.IdnHost.TrimEnd('.');
            if (url.IsLoopback || (IPAddress.TryParse(host, out var literal) && !IsPublic(literal))
                || host.Equals("localhost", StringComparison.OrdinalIgnoreCase) || host.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase))
            {
                errors.Add(new ApiError(ErrorCodes.InvalidField, "url must not name a loopback, private or link-local address.", "url"));
                return null;
            }
        }

        return url;
    }
}

public static class WebhooksEndpoints
{
    public static void MapWebhooks(this IEndpointRouteBuilder api)
    {
        var group = api.MapGroup("/webhooks").WithTags("Webhooks");
        group.MapPost("/", CreateWebhook).WithMetadata(new SecretResponseAttribute()).WithName("CreateWebhook")
            .WithSummary("Subscribe a URL to events of care units this client is granted; the signing secret is shown only in this answer.");
        group.MapGet("/", ListWebhooks).WithName("ListWebhooks").WithSummary("This client's subscriptions (never their secrets).");
        group.MapGet("/{webhook_id}", GetWebhook).WithName("GetWebhook").WithSummary("One of this client's subscriptions.");
        group.MapDelete("/{webhook_id}", DeleteWebhook).WithName("DeleteWebhook").WithSummary("Remove a subscription and its deliveries.");
        group.MapPost("/{webhook_id}/secret", RotateWebhookSecret).WithMetadata(new SecretResponseAttribute()).WithName("RotateWebhookSecret")
            .WithSummary("A new signing secret (shown once); deliveries from now on are signed with it alone.");
        group.MapPatch("/{webhook_id}", UpdateWebhook).WithName("UpdateWebhook")
            .WithSummary("Enable or disable a subscription ({enabled}); re-enabling one the server disabled resumes its pending deliveries.");
        group.MapGet("/{webhook_id}/deliveries", ListDeliveries).WithName("ListWebhookDeliveries")
            .WithSummary("The subscription's deliveries, newest first: status, attempts, last answer, next retry; paged.");
        group.MapPost("/{webhook_id}/test", TestWebhook).WithName("TestWebhook")
            .WithSummary("Queue a signed test message (type webhook.test) to the subscription; 202 with its delivery.");
    }

    public static async Task<Ok<WebhookResponse>> UpdateWebhook(string webhook_id, UpdateWebhookRequest body, HttpContext http, VardbroDb db, WebhookDispatcher dispatcher, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(body);
        if (body.Enabled is not { } enabled)
        {
            throw new VardbroException(ErrorCodes.MissingRequiredField, "enabled is required.", "enabled");
        }

        var row = await OwnAsync(webhook_id, http, db, tracked: true, cancellationToken);
        row.Enabled = enabled;
        row.DisabledReason = null;
        await db.SaveChangesAsync(cancellationToken);
        dispatcher.Signal();
        return TypedResults.Ok(WebhookResponse.From(row));
    }

    public static async Task<Ok<DeliveryResponse[]>> ListDeliveries(string webhook_id, string? limit, string? cursor, HttpContext http, VardbroDb db, CancellationToken cancellationToken)
    {
        var pageSize = Http.Limit(limit);
        long before = long.MaxValue;
        if (cursor is not null)
        {
            if (!Cursors.IsWellFormed(cursor) || !long.TryParse(Cursors.Decode(cursor, 1)[0], NumberStyles.None, CultureInfo.InvariantCulture, out before))
            {
                throw Cursors.Invalid();
            }
        }

        var hook = await OwnAsync(webhook_id, http, db, tracked: false, cancellationToken);
        var rows = await db.WebhookDeliveries.AsNoTracking().Where(d => d.WebhookId == hook.Id && d.Key < before)
            .OrderByDescending(d => d.Key).Take(pageSize + 1).ToListAsync(cancellationToken);
        string? next = null;
        if (rows.Count > pageSize)
        {
            rows.RemoveAt(rows.Count - 1);
            next = Cursors.Encode(rows[^1].Key.ToString(CultureInfo.InvariantCulture));
        }

        Http.LinkNext(http, next);
        return TypedResults.Ok(rows.Select(DeliveryResponse.From).ToArray());
    }

    public static async Task<Accepted<DeliveryResponse>> TestWebhook(string webhook_id, HttpContext http, VardbroDb db, WebhookDispatcher dispatcher, TimeProvider time, CancellationToken cancellationToken)
    {
        var hook = await OwnAsync(webhook_id, http, db, tracked: false, cancellationToken);
        var now = time.GetUtcNow();
        var id = "msg_test_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
        var row = new WebhookDeliveryRow
        {
            WebhookId = hook.Id,
            MessageId = id,
            Type = WebhookDispatcher.TestType,
            SubjectKey = "test/" + id,
            Payload = dispatcher.Serialize(new WebhookPayload(WebhookDispatcher.TestType, now, new TestData(hook.Id))),
            Status = DeliveryStatus.Pending,
            CreatedAt = now,
            NextAttemptAt = now,
        };
        db.WebhookDeliveries.Add(row);
        await db.SaveChangesAsync(cancellationToken);
        dispatcher.Signal();
        return TypedResults.Accepted($"/api/webhooks/{hook.Id}/deliveries", DeliveryResponse.From(row));
    }

    public static async Task<Created<WebhookWithSecretResponse>> CreateWebhook(
        CreateWebhookRequest body, HttpContext http, VardbroDb db, EmrConnectors connectors, IOptions<WebhooksOptions> options, TimeProvider time, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(body);
        var client = ClientContext.Of(http);
        var errors = new List<ApiError>();
        var url = Webhooks.Target(body.Url, options.Value.AllowInsecureTargets, errors);
        var events = Events(body.Events, errors);
        var emr = Http.Text(body.Emr, "emr", 64, errors, required: true);
        var units = CareUnitIds(body.CareUnits, errors);
        Http.ThrowIfAny(errors);
        if (!client.MayUse(emr!))
        {
            throw new VardbroException(ErrorCodes.Forbidden, "This client is not granted that EMR.", "emr");
        }

        for (var i = 0; i < units.Count; i++)
        {
            if (units[i] != Webhooks.All && !client.MayUse(emr!, units[i]))
            {
                throw new VardbroException(ErrorCodes.Forbidden, "This client is not granted that care unit.", $"care_units[{i}]");
            }
        }

        if (units[0] != Webhooks.All)
        {
            var directory = connectors.Require<ICareUnitDirectory>(emr!);
            for (var i = 0; i < units.Count; i++)
            {
                if (await directory.GetCareUnitAsync(units[i], cancellationToken) is null)
                {
                    throw new VardbroException(ErrorCodes.NotFound, "No care unit with that id in this EMR.", $"care_units[{i}]");
                }
            }
        }

        var row = new WebhookRow
        {
            Id = Webhooks.NewId(),
            ClientId = client.ClientId,
            Url = url!.AbsoluteUri,
            EventsJson = JsonSerializer.Serialize(events),
            Emr = emr!,
            CareUnitsJson = JsonSerializer.Serialize(units),
            Secret = Webhooks.NewSecret(),
            Enabled = true,
            CreatedAt = time.GetUtcNow(),
        };
        db.Webhooks.Add(row);
        await db.SaveChangesAsync(cancellationToken);
        return TypedResults.Created($"/api/webhooks/{row.Id}", WebhookWithSecretResponse.From(row));
    }

    public static async Task<Ok<WebhookResponse[]>> ListWebhooks(HttpContext http, VardbroDb db, CancellationToken cancellationToken)
    {
        var client = ClientContext.Of(http);
        var rows = await db.Webhooks.AsNoTracking().Where(w => w.ClientId == client.ClientId).OrderBy(w => w.CreatedAt).ThenBy(w => w.Id).ToListAsync(cancellationToken);
        return TypedResults.Ok(rows.Select(WebhookResponse.From).ToArray());
    }

    public static async Task<Ok<WebhookResponse>> GetWebhook(string webhook_id, HttpContext http, VardbroDb db, CancellationToken cancellationToken) =>
        TypedResults.Ok(WebhookResponse.From(await OwnAsync(webhook_id, http, db, tracked: false, cancellationToken)));

    public static async Task<NoContent> DeleteWebhook(string webhook_id, HttpContext http, VardbroDb db, CancellationToken cancellationToken)
    {
        var row = await OwnAsync(webhook_id, http, db, tracked: true, cancellationToken);
        db.Webhooks.Remove(row);
        await db.SaveChangesAsync(cancellationToken);
        return TypedResults.NoContent();
    }

    public static async Task<Ok<WebhookWithSecretResponse>> RotateWebhookSecret(string webhook_id, HttpContext http, VardbroDb db, CancellationToken cancellationToken)
    {
        var row = await OwnAsync(webhook_id, http, db, tracked: true, cancellationToken);
        row.Secret = Webhooks.NewSecret();
        await db.SaveChangesAsync(cancellationToken);
        return TypedResults.Ok(WebhookWithSecretResponse.From(row));
    }

    /// <summary>The client's own subscription; another client's answers exactly like none (404).</summary>
    internal static async Task<WebhookRow> OwnAsync(string webhookId, HttpContext http, VardbroDb db, bool tracked, CancellationToken cancellationToken)
    {
        var client = ClientContext.Of(http);
        var rows = tracked ? db.Webhooks : db.Webhooks.AsNoTracking();
        return (webhookId.Length <= 64 ? await rows.FirstOrDefaultAsync(w => w.Id == webhookId && w.ClientId == client.ClientId, cancellationToken) : null)
            ?? throw new VardbroException(ErrorCodes.NotFound, "No webhook with that id.", "webhook_id");
    }

    private static List<string> Events(IReadOnlyList<string?>? events, List<ApiError> errors)
    {
        if (events is null || events.Count == 0)
        {
            errors.Add(new ApiError(ErrorCodes.MissingRequiredField, "events is required: event types, or [\"*\"] for all.", "events"));
            return [];
        }

        var result = new List<string>();
        for (var i = 0; i < events.Count; i++)
        {
            var type = events[i];
            if (type is null || !(ChangeEventTypes.IsKnown(type) || (type == Webhooks.All && events.Count == 1)))
            {
                errors.Add(new ApiError(ErrorCodes.InvalidField, $"events[{i}] must be one of {string.Join(", ", ChangeEventTypes.All)}, or [\"*\"] alone for all.", $"events[{i}]"));
            }
            else if (!result.Contains(type))
            {
                result.Add(type);
            }
        }

        return result;
    }

    private static List<string> CareUnitIds(IReadOnlyList<string?>? units, List<ApiError> errors)
    {
        if (units is null || units.Count == 0)
        {
            errors.Add(new ApiError(ErrorCodes.MissingRequiredField, "care_units is required: care unit ids, or [\"*\"] for all this client is granted.", "care_units"));
            return [Webhooks.All];
        }

        if (units.Count > Webhooks.MaxCareUnits)
        {
            errors.Add(new ApiError(ErrorCodes.MaxItemsExceeded, $"care_units takes at most {Webhooks.MaxCareUnits} ids.", "care_units"));
            return [Webhooks.All];
        }

        var result = new List<string>();
        for (var i = 0; i < units.Count; i++)
        {
            var unit = units[i];
            if (string.IsNullOrEmpty(unit) || unit.Length > 128 || (unit == Webhooks.All && units.Count > 1))
            {
                errors.Add(new ApiError(ErrorCodes.InvalidField, $"care_units[{i}] must be a care unit id, or [\"*\"] alone for all.", $"care_units[{i}]"));
            }
            else if (!result.Contains(unit))
            {
                result.Add(unit);
            }
        }

        return result.Count == 0 ? [Webhooks.All] : result;
    }
}
