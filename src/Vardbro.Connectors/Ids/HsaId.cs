namespace Vardbro.Connectors;

/// <summary>Swedish HSA ids, e.g. <c>SE2321000131-E000000012345</c>. Case-sensitive, no checksum.</summary>
public static class HsaId
{
    /// <summary>The longest HSA id.</summary>
    public const int MaxLength = 31;

    /// <summary><c>SE</c>, 10–12 digits, <c>-</c>, one or more ASCII letters or digits; at most 31 characters.</summary>
    public static bool IsValid(string? value)
    {
        if (value is null || value.Length > MaxLength || !value.StartsWith("SE", StringComparison.Ordinal))
        {
            return false;
        }

        int i = 2;
        while (i < value.Length && char.IsAsciiDigit(value[i]))
        {
            i++;
        }

        int digitCount = i - 2;
        if (digitCount is < 10 or > 12 || i >= value.Length || value[i] != '-')
        {
            return false;
        }

        i++;
        if (i == value.Length)
        {
            return false;
        }

        for (; i < value.Length; i++)
        {
            if (!char.IsAsciiLetterOrDigit(value[i]))
            {
                return false;
            }
        }

        return true;
    }
}
