using System.Security.Cryptography;
using System.Text.Json;

namespace Vardbro.Connectors;

/// <summary>
/// The paging cursors of every list, in one form: base64url of the list's position (a JSON array of
/// strings: folded names, ids, a FHIR server's next link) encrypted and authenticated with AES-GCM
/// under the process's cursor key, at most <see cref="MaxLength"/> characters. A cursor is opaque to
/// the client and to anything that logs URLs: a position holds names. Anything this server did not
/// issue is the same 400 <c>INVALID_FIELD</c> on <c>cursor</c>, whatever is wrong with it.
/// </summary>
public static class Cursors
{
    /// <summary>The longest cursor any list accepts (and the longest one it issues).</summary>
    public const int MaxLength = 2048;

    private const int NonceSize = 12;
    private const int TagSize = 16;

    // One key for the process: random unless the host sets one (Cursors:Key), which instances
    // behind one load balancer share so that a cursor from one is good on the next.
    private static byte[] key = RandomNumberGenerator.GetBytes(32);

    /// <summary>Sets the process's cursor key from a shared secret (at least 32 bytes); done once, at start.</summary>
    public static void UseKey(byte[] secret)
    {
        ArgumentNullException.ThrowIfNull(secret);
        if (secret.Length < 32)
        {
            throw new ArgumentException("A cursor key has at least 32 bytes.", nameof(secret));
        }

        key = HKDF.DeriveKey(HashAlgorithmName.SHA256, secret, 32, info: "vardbro cursor encryption"u8.ToArray());
    }

    public static string Encode(params string[] parts)
    {
        ArgumentNullException.ThrowIfNull(parts);
        var plain = JsonSerializer.SerializeToUtf8Bytes(parts);
        var sealedBytes = new byte[NonceSize + plain.Length + TagSize];
        var nonce = sealedBytes.AsSpan(0, NonceSize);
        RandomNumberGenerator.Fill(nonce);
        using (var aes = new AesGcm(key, TagSize))
        {
            aes.Encrypt(nonce, plain, sealedBytes.AsSpan(NonceSize, plain.Length), sealedBytes.AsSpan(NonceSize + plain.Length));
        }

        var text = Convert.ToBase64String(sealedBytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        return text.Length <= MaxLength
            ? text
            : throw new InvalidOperationException($"A cursor of {text.Length} characters exceeds the {MaxLength} every list accepts.");
    }

    /// <summary>The <paramref name="count"/> parts of a cursor this server issued; a refusal for anything else.</summary>
    public static string[] Decode(string cursor, int count)
    {
        if (IsWellFormed(cursor))
        {
            try
            {
                var b64 = cursor.Replace('-', '+').Replace('_', '/');
                var sealedBytes = Convert.FromBase64String(b64.PadRight(b64.Length + ((4 - (b64.Length % 4)) % 4), '='));
                if (sealedBytes.Length > NonceSize + TagSize)
                {
                    var plain = new byte[sealedBytes.Length - NonceSize - TagSize];
                    using (var aes = new AesGcm(key, TagSize))
                    {
                        aes.Decrypt(sealedBytes.AsSpan(0, NonceSize), sealedBytes.AsSpan(NonceSize, plain.Length), sealedBytes.AsSpan(NonceSize + plain.Length), plain);
                    }

                    var parts = JsonSerializer.Deserialize<string[]>(plain);
                    if (parts is not null && parts.Length == count && parts.All(p => p is not null && !p.Any(char.IsControl)))
                    {
                        return parts;
                    }
                }
            }
            catch (FormatException)
            {
            }
            catch (AuthenticationTagMismatchException)
            {
            }
            catch (JsonException)
            {
            }
        }

        throw Invalid();
    }

    /// <summary>Whether <paramref name="cursor"/> has the form of one this server issues (the lists' first check).</summary>
    public static bool IsWellFormed(string? cursor) =>
        cursor is { Length: > 0 and <= MaxLength } && cursor.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_');

    public static VardbroException Invalid() =>
        new(ErrorCodes.InvalidField, "The cursor is not one this server issued; pass the one from the Link header unchanged.", "cursor");
}

/// <summary>
/// Cursors that must not be forged, because their parts say what the server will fetch (a FHIR
/// server's next-page link): the parts and an HMAC-SHA256 over them. A cursor made by another key, or
/// changed in any part, is refused like any cursor this server did not issue. Instances that share
/// clients behind one load balancer need the same key (<c>Cursors:Key</c>); without one, each process
/// makes its own and a cursor is good on the instance that issued it.
/// </summary>
public sealed class CursorSigner
{
    private readonly byte[] key;

    public CursorSigner(byte[] key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (key.Length < 32)
        {
            throw new ArgumentException("A cursor key has at least 32 bytes.", nameof(key));
        }

        this.key = [.. key];
    }

    /// <summary>A key of this process alone, for hosts that configure none.</summary>
    public static CursorSigner ProcessDefault { get; } = new(RandomNumberGenerator.GetBytes(32));

    public string Sign(params string[] parts)
    {
        ArgumentNullException.ThrowIfNull(parts);
        return Cursors.Encode([.. parts, Mac(parts)]);
    }

    /// <summary>The <paramref name="count"/> parts of a cursor this key signed; the cursor refusal for anything else.</summary>
    public string[] Verify(string cursor, int count)
    {
        var all = Cursors.Decode(cursor, count + 1);
        var parts = all[..count];
        return CryptographicOperations.FixedTimeEquals(System.Text.Encoding.UTF8.GetBytes(all[count]), System.Text.Encoding.UTF8.GetBytes(Mac(parts)))
            ? parts
            : throw Cursors.Invalid();
    }

    private string Mac(string[] parts) => Convert.ToBase64String(HMACSHA256.HashData(key, JsonSerializer.SerializeToUtf8Bytes(parts)));
}
