using System.Globalization;
using System.Text;

namespace Vardbro.Connectors;

/// <summary>
/// Folding for case- and accent-insensitive prefix search on names (API.md §5): lower case,
/// diacritics removed, Nordic and other special letters spelled out, white space collapsed.
/// </summary>
public static class TextFolding
{
    /// <summary>
    /// Lower case (invariant); å ä á à â ã ā → a, ö ó ò ô õ ø ō → o, æ → ae, œ → oe, é è ê ë ē → e,
    /// ü ú ù û ū → u, í ì î ï → i, ý ÿ → y, ç → c, ñ → n, ß → ss, ð → d, þ → th, ł → l, đ → d,
    /// ı → i, any other combining diacritic dropped (canonical decomposition); trimmed, inner
    /// white space collapsed to one space. Null gives the empty string.
    /// </summary>
    public static string Fold(string? s)
    {
        if (string.IsNullOrEmpty(s))
        {
            return string.Empty;
        }

        // Normalising throws on unpaired surrogates; a name is no reason for a 500.
        string composed = ReplaceLoneSurrogates(s).Normalize(NormalizationForm.FormC).ToLowerInvariant();

        var mapped = new StringBuilder(composed.Length + 4);
        foreach (char c in composed)
        {
            string? replacement = c switch
            {
                'ø' => "o",
                'æ' => "ae",
                'œ' => "oe",
                'ß' => "ss",
                'ð' => "d",
                'þ' => "th",
                'ł' => "l",
                'đ' => "d",
                'ı' => "i",
                _ => null,
            };
            if (replacement is null)
            {
                mapped.Append(c);
            }
            else
            {
                mapped.Append(replacement);
            }
        }

        string decomposed = mapped.ToString().Normalize(NormalizationForm.FormD);
        var result = new StringBuilder(decomposed.Length);
        bool pendingSpace = false;
        foreach (char c in decomposed)
        {
            if (CharUnicodeInfo.GetUnicodeCategory(c) == UnicodeCategory.NonSpacingMark)
            {
                continue;
            }

            if (char.IsWhiteSpace(c))
            {
                pendingSpace = result.Length > 0;
                continue;
            }

            if (pendingSpace)
            {
                result.Append(' ');
                pendingSpace = false;
            }

            result.Append(c);
        }

        return result.ToString().Normalize(NormalizationForm.FormC);
    }

    /// <summary>
    /// The smallest string (ordinal order) greater than every string starting with
    /// <paramref name="prefix"/>: trailing <see cref="char.MaxValue"/> characters dropped, then the
    /// last character incremented; null when there is none (every string is below no bound). For
    /// range scans <c>folded &gt;= prefix AND folded &lt; UpperBound(prefix)</c>.
    /// </summary>
    public static string? UpperBound(string prefix)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        int end = prefix.Length;
        while (end > 0 && prefix[end - 1] == char.MaxValue)
        {
            end--;
        }

        if (end == 0)
        {
            return null;
        }

        return string.Concat(prefix.AsSpan(0, end - 1), [(char)(prefix[end - 1] + 1)]);
    }

    private static string ReplaceLoneSurrogates(string s)
    {
        char[]? copy = null;
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            if (char.IsHighSurrogate(c) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
            {
                i++;
                continue;
            }

            if (char.IsSurrogate(c))
            {
                copy ??= s.ToCharArray();
                copy[i] = '\uFFFD';
            }
        }

        return copy is null ? s : new string(copy);
    }
}
