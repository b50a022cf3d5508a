using System.Globalization;

namespace Vardbro.Connectors;

/// <summary>English NHS numbers: 10 digits, the last a mod-11 check digit over the first nine (weights 10..2).</summary>
public static class NhsNumber
{
    private const string FormatError = "An NHS number has 10 digits (spaces and dashes are ignored).";

    private const string CheckDigitError = "The check digit of the NHS number is wrong.";

    /// <summary>Validates and canonicalises: spaces and dashes stripped, 10 digits, valid check digit.</summary>
    public static bool TryNormalize(string input, out string canonical) => Check(input, out canonical) is null;

    /// <summary>Validates and canonicalises; returns why the input is not valid, or null when it is.</summary>
    internal static string? Check(string? input, out string canonical)
    {
        canonical = string.Empty;
        if (input is null)
        {
            return FormatError;
        }

        Span<char> digits = stackalloc char[10];
        int n = 0;
        foreach (char c in input)
        {
            if (c is ' ' or '-')
            {
                continue;
            }

            if (!char.IsAsciiDigit(c) || n == 10)
            {
                return FormatError;
            }

            digits[n++] = c;
        }

        if (n != 10)
        {
            return FormatError;
        }

        if (CheckDigit(digits) != digits[9] - '0')
        {
            return CheckDigitError;
        }

        canonical = new string(digits);
        return null;
    }

    /// <summary>A random valid NHS number (test and benchmark data).</summary>
    public static string Generate(Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        while (true)
        {
            string nine = random.Next(0, 1_000_000_000).ToString("D9", CultureInfo.InvariantCulture);
            int check = CheckDigit(nine);
            if (check != 10)
            {
                return nine + (char)('0' + check);
            }
        }
    }

    /// <summary>11 − (Σ digit × (10..2) mod 11), 11 → 0; 10 means no valid check digit.</summary>
    private static int CheckDigit(ReadOnlySpan<char> digits)
    {
        int sum = 0;
        for (int i = 0; i < 9; i++)
        {
            sum += (digits[i] - '0') * (10 - i);
        }

        int check = 11 - (sum % 11);
        return check == 11 ? 0 : check;
    }
}
