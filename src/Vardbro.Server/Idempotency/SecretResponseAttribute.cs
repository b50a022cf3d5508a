namespace Vardbro.Server.Idempotency;

/// <summary>
/// Endpoint metadata: a successful response of this endpoint carries a secret that is shown once
/// (a client secret). Its body is never stored for an <c>Idempotency-Key</c>; the key still guards
/// against running the request twice, and a retry is answered 409 instead of a replay. Add it with
/// <c>.WithMetadata(new SecretResponseAttribute())</c>.
/// </summary>
[AttributeUsage(AttributeTargets.Method | AttributeTargets.Class, AllowMultiple = false)]
public sealed class SecretResponseAttribute : Attribute;
