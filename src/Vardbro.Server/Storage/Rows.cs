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
