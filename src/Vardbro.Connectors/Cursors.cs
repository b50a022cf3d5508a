using System.Text.Json;

namespace Vardbro.Connectors;

/// <summary>
/// The paging cursors of every list, in one form: base64url of a JSON array of strings, at most
/// <see cref="MaxLength"/> characters. A cursor is opaque to the client; anything this server did
/// not issue is the same 400 <c>INVALID_FIELD</c> on <c>cursor</c>, whatever is wrong with it.
/// </summary>
public static class Cursors
{
    /// <summary>The longest cursor any list accepts (and the longest one it issues).</summary>
    public const int MaxLength = 512;

    public static string Encode(params string[] parts)
    {
        ArgumentNullException.ThrowIfNull(parts);
        var text = Convert.ToBase64String(JsonSerializer.SerializeToUtf8Bytes(parts)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
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
                var parts = JsonSerializer.Deserialize<string[]>(Convert.FromBase64String(b64.PadRight(b64.Length + ((4 - (b64.Length % 4)) % 4), '=')));
                if (parts is not null && parts.Length == count && parts.All(p => p is not null && !p.Any(char.IsControl)))
                {
                    return parts;
                }
            }
            catch (FormatException)
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
