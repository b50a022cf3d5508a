using System.Text;

namespace Vardbro.Connectors;

/// <summary>Normalisation of phone numbers and e-mail addresses for storage and search.</summary>
public static class PhoneNumbers
{
    /// <summary>
    /// Digits with country code, e.g. <c>070-123 45 67</c> → <c>46701234567</c>. Spaces, dashes,
    /// dots and parentheses are dropped (and a trunk <c>(0)</c> after an international prefix, as in
    /// <c>+46 (0)70…</c>); a leading <c>+</c> keeps the digits, a leading <c>00</c> is dropped, a
    /// leading single <c>0</c> becomes <paramref name="defaultCountryCode"/>; otherwise the digits
    /// are taken as given. Null when empty, when anything else than those characters and digits
    /// appears (letters, say), or when there are fewer than 5 digits.
    /// </summary>
    public static string? Normalize(string? input, string defaultCountryCode = "46")
    {
        ArgumentNullException.ThrowIfNull(defaultCountryCode);
        if (defaultCountryCode.Length == 0 || !SwedishPersonalNumber.AllDigits(defaultCountryCode))
        {
            throw new ArgumentException("The default country code must be digits.", nameof(defaultCountryCode));
        }

        if (string.IsNullOrWhiteSpace(input))
        {
            return null;
        }

        string trimmed = input.Trim();
        bool plus = trimmed.StartsWith('+');
        if (plus || trimmed.StartsWith("00", StringComparison.Ordinal))
        {
            trimmed = trimmed.Replace("(0)", string.Empty, StringComparison.Ordinal);
        }

        var digits = new StringBuilder(trimmed.Length);
        for (int i = plus ? 1 : 0; i < trimmed.Length; i++)
        {
            char c = trimmed[i];
            if (char.IsAsciiDigit(c))
            {
                digits.Append(c);
            }
            else if (!(char.IsWhiteSpace(c) || c is '-' or '.' or '(' or ')'))
            {
                return null;
            }
        }

        if (digits.Length < 5)
        {
            return null;
        }

        string all = digits.ToString();
        string result;
        if (plus)
        {
            result = all;
        }
        else if (all.StartsWith("00", StringComparison.Ordinal))
        {
            result = all[2..];
        }
        else if (all.StartsWith('0'))
        {
            result = defaultCountryCode + all[1..];
        }
        else
        {
            result = all;
        }

        return result.Length >= 5 ? result : null;
    }

    /// <summary>Trimmed and lower case (invariant).</summary>
    public static string NormalizeEmail(string email)
    {
        ArgumentNullException.ThrowIfNull(email);
        return email.Trim().ToLowerInvariant();
    }
}
