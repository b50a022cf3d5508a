namespace Vardbro.Server.Storage;

/// <summary>An API client. The secret is kept only as a salted slow hash.</summary>
public sealed class ClientRow
{
    public required string Id { get; set; }
    public required string Name { get; set; }
    public required string SecretHash { get; set; }

    /// <summary>Changes with every new secret, so that cached verifications of the old one stop counting.</summary>
    public required string SecretStamp { get; set; }

    public required string GrantsJson { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? RevokedAt { get; set; }
}

/// <summary>One access to patient data. <see cref="Seq"/> and <see cref="Hash"/> are set by the sealer.</summary>
public sealed class AuditEventRow
{
    public long Id { get; set; }
    public long? Seq { get; set; }
    public DateTimeOffset At { get; set; }
    public required string ClientId { get; set; }
    public string? ActorId { get; set; }
    public required string Action { get; set; }
    public string? Emr { get; set; }
    public string? CareUnitId { get; set; }
    public string? ResourceType { get; set; }
    public string? ResourceId { get; set; }

    /// <summary>Vardbro patient ids, space-separated.</summary>
    public string PatientIds { get; set; } = "";

    public int OutcomeStatus { get; set; }
    public required string RequestId { get; set; }
    public string? Hash { get; set; }
}

/// <summary>The head of the audit chain: one row, updated in the same transaction as the events it seals.</summary>
public sealed class AuditSealRow
{
    public int Id { get; set; }
    public long LastSeq { get; set; }
    public required string LastHash { get; set; }
}

/// <summary>A stored response for an <c>Idempotency-Key</c>, per client.</summary>
public sealed class IdempotencyRow
{
    public required string ClientId { get; set; }
    public required string Key { get; set; }
    public required string RequestHash { get; set; }

    /// <summary>Null while the first request runs.</summary>
    public int? StatusCode { get; set; }

    public string? ContentType { get; set; }
    public string? Location { get; set; }
    public byte[]? Body { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
}

/// <summary>A message to a patient (a confirmation code by SMS), sent by the configured sender.</summary>
public sealed class NotificationRow
{
    public long Id { get; set; }
    public required string Channel { get; set; }
    public required string Recipient { get; set; }
    public required string Body { get; set; }
    public string? Emr { get; set; }
    public string? AppointmentId { get; set; }

    /// <summary>pending, sent, stored (kept in the outbox only) or failed.</summary>
    public required string Status { get; set; }

    public int Attempts { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset NextAttemptAt { get; set; }
    public DateTimeOffset? SentAt { get; set; }
}

/// <summary>A webhook subscription, owned by the API client that made it.</summary>
public sealed class WebhookRow
{
    public required string Id { get; set; }
    public required string ClientId { get; set; }
    public required string Url { get; set; }

    /// <summary>The event types as a JSON array; <c>["*"]</c> for all.</summary>
    public required string EventsJson { get; set; }

    public required string Emr { get; set; }

    /// <summary>The care units as a JSON array; <c>["*"]</c> for all the client is granted.</summary>
    public required string CareUnitsJson { get; set; }

    /// <summary>The signing secret (<c>whsec_…</c>); kept as is, since every delivery is signed with it.</summary>
    public required string Secret { get; set; }

    public bool Enabled { get; set; }

    /// <summary>Why the server disabled it (its retries were exhausted); null while enabled or disabled by none.</summary>
    public string? DisabledReason { get; set; }

    public DateTimeOffset CreatedAt { get; set; }
}

/// <summary>One message to one subscription: an event, or a test; with its attempts so far.</summary>
public sealed class WebhookDeliveryRow
{
    public long Key { get; set; }
    public required string WebhookId { get; set; }

    /// <summary>The Standard Webhooks message id (<c>webhook-id</c>): the event's id, or <c>msg_test_…</c>.</summary>
    public required string MessageId { get; set; }

    public required string Type { get; set; }

    /// <summary>What keeps order: deliveries of one subject to one subscription go one at a time, oldest first.</summary>
    public required string SubjectKey { get; set; }

    /// <summary>The body, exactly as signed and sent.</summary>
    public required string Payload { get; set; }

    /// <summary>pending, delivered or failed.</summary>
    public required string Status { get; set; }

    public int Attempts { get; set; }
    public DateTimeOffset CreatedAt { get; set; }

    /// <summary>When it is due; while an instance sends it, the end of that instance's claim.</summary>
    public DateTimeOffset NextAttemptAt { get; set; }

    public DateTimeOffset? LastAttemptAt { get; set; }
    public int? LastStatusCode { get; set; }
    public string? LastError { get; set; }
    public DateTimeOffset? DeliveredAt { get; set; }
}

/// <summary>How far the webhook fan-out has read each EMR's change feed (one row per EMR).</summary>
public sealed class WebhookFeedPositionRow
{
    public required string Emr { get; set; }

    /// <summary>The last event read, in feed order (<see cref="Vardbro.Connectors.Local.ChangeFeedOrder"/>).</summary>
    public long LastEventTx { get; set; }

    public long LastEventKey { get; set; }
}

/// <summary>
/// The change poller's place in one EMR (one row per polled EMR): which instance holds the lease to
/// poll it and until when, and how far it has read the EHR's changes.
/// </summary>
public sealed class ChangePollRow
{
    public required string Emr { get; set; }

    /// <summary>The instance polling now (random per process); null before the first lease.</summary>
    public string? Holder { get; set; }

    public DateTimeOffset LeaseUntil { get; set; }

    /// <summary>When polling of this EMR began: no poll asks for changes from before it.</summary>
    public DateTimeOffset PollingSince { get; set; }

    /// <summary>The latest change time the EHR reported (its clock); the next poll asks from shortly before it.</summary>
    public DateTimeOffset Watermark { get; set; }
}

/// <summary>
/// What the change poller last announced of one record of a polled EMR: the change time, status and
/// fingerprint it saw, so that a change seen twice is announced once, a cancellation is told from an
/// update, and two changes in one second of an EHR that keeps whole seconds (Cliniko) are both told.
/// </summary>
public sealed class ChangePollSeenRow
{
    public required string Emr { get; set; }

    public required string SubjectType { get; set; }

    public required string SubjectId { get; set; }

    public DateTimeOffset UpdatedAt { get; set; }

    public required string Status { get; set; }

    /// <summary>A hash of what the API shows of the record but its free text (<see cref="Features.Events.ChangePoller.FingerprintOf"/>).</summary>
    public required string Fingerprint { get; set; }
}
