using System.ComponentModel.DataAnnotations;
using Vardbro.Connectors;

namespace Vardbro.Server.Api;

/// <summary>
/// <c>Cursors:Key</c> (base64, at least 32 bytes) where set: every instance behind one load balancer
/// needs the same. Unset, this process makes its own, and a signed cursor is good on the instance
/// that issued it.
/// </summary>
public sealed class CursorsOptions : IValidatableObject
{
    public const string Section = "Cursors";

    public string? Key { get; set; }

    /// <summary>The key's bytes; null when unset or not valid.</summary>
    public byte[]? KeyBytes() => string.IsNullOrEmpty(Key) ? null : Settings.KeyFromBase64(Key);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!string.IsNullOrEmpty(Key) && KeyBytes() is null)
        {
            yield return new ValidationResult("must be base64 of at least 32 bytes (e.g. openssl rand -base64 32).", [nameof(Key)]);
        }
    }
}

/// <summary>The cursor key, from <see cref="CursorsOptions"/>: the process's cursor encryption key and the signer of cursors that must not be forged (<see cref="CursorSigner"/>).</summary>
public static class CursorKeys
{
    public static CursorSigner From(CursorsOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.KeyBytes() is not { } key)
        {
            return CursorSigner.ProcessDefault;
        }

        // The same shared secret makes every list's cursors readable on every instance.
        Cursors.UseKey(key);
        return new CursorSigner(key);
    }
}
