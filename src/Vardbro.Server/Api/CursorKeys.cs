using Vardbro.Connectors;

namespace Vardbro.Server.Api;

/// <summary>The key that signs cursors which must not be forged (<see cref="CursorSigner"/>), from <c>Cursors:Key</c>.</summary>
public static class CursorKeys
{
    /// <summary>
    /// <c>Cursors:Key</c> (base64, at least 32 bytes) where set: every instance behind one load
    /// balancer needs the same. Unset, this process makes its own, and a signed cursor is good on the
    /// instance that issued it.
    /// </summary>
    public static CursorSigner From(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        if (configuration["Cursors:Key"] is not { Length: > 0 } text)
        {
            return CursorSigner.ProcessDefault;
        }

        try
        {
            var key = Convert.FromBase64String(text);
            if (key.Length >= 32)
            {
                return new CursorSigner(key);
            }
        }
        catch (FormatException)
        {
        }

        throw new InvalidOperationException("Cursors:Key must be base64 of at least 32 bytes (e.g. openssl rand -base64 32).");
    }
}
