using System.Globalization;

namespace Vardbro.Connectors;

/// <summary>
/// Norwegian fødselsnummer, D-number and H-number: 11 digits <c>DDMMYYIIIKK</c> with two mod-11
/// control digits. The date part is not validated (synthetic test numbers shift it).
/// </summary>
public static class NorwegianPersonalNumber
{
    private const string FormatError =
        "A Norwegian personal number has 11 digits (optionally a space after the first six).";

    private const string ControlDigitError = "The control digits of the Norwegian personal number are wrong.";

    private static readonly int[] Weights1 = [3, 7, 6, 1, 8, 9, 4, 5, 2];
    private static readonly int[] Weights2 = [5, 4, 3, 2, 7, 6, 5, 4, 3, 2];

    /// <summary>Validates and canonicalises: 11 digits, or <c>DDMMYY IIIKK</c> with one space.</summary>
    public static bool TryNormalize(string input, out string canonical) => Check(input, out canonical) is null;

    /// <summary>Validates and canonicalises; returns why the input is not valid, or null when it is.</summary>
    internal static string? Check(string? input, out string canonical)
    {
        canonical = string.Empty;
        if (input is null)
        {
            return FormatError;
        }

        string digits;
        if (input.Length == 11 && SwedishPersonalNumber.AllDigits(input))
        {
            digits = input;
        }
        else if (input.Length == 12 && input[6] == ' '
            && SwedishPersonalNumber.AllDigits(input.AsSpan(0, 6)) && SwedishPersonalNumber.AllDigits(input.AsSpan(7)))
        {
            digits = string.Concat(input.AsSpan(0, 6), input.AsSpan(7));
        }
        else
        {
            return FormatError;
        }

        if (ControlDigit(digits, Weights1) != digits[9] - '0' || ControlDigit(digits, Weights2) != digits[10] - '0')
        {
            return ControlDigitError;
        }

        canonical = digits;
        return null;
    }

    /// <summary>
    /// The birth date: D-number (first digit 4–7) and H-number (month 41–52) undone, century from
    /// the individual number; null when the century cannot be told or the date is no calendar date.
    /// </summary>
    public static DateOnly? BirthDate(string canonical)
    {
        RequireCanonical(canonical);
        int day = Number(canonical, 0, 2);
        if (canonical[0] is >= '4' and <= '7')
        {
            day -= 40;
        }

        int month = Number(canonical, 2, 2);
        if (month is >= 41 and <= 52)
        {
            month -= 40;
        }

        int yy = Number(canonical, 4, 2);
        int individual = Number(canonical, 6, 3);
        int? century = CenturyOf(individual, yy);
        return century is { } c ? SwedishPersonalNumber.TryDate(c + yy, month, day) : null;
    }

    /// <summary><c>male</c> when the ninth digit is odd, else <c>female</c>.</summary>
    public static string Gender(string canonical)
    {
        RequireCanonical(canonical);
        return (canonical[8] - '0') % 2 == 1 ? "male" : "female";
    }

    /// <summary>
    /// A random valid number for <paramref name="birthDate"/> (1854–2039), optionally a D-number
    /// (test and benchmark data).
    /// </summary>
    public static string Generate(Random random, DateOnly birthDate, bool dNumber = false)
    {
        ArgumentNullException.ThrowIfNull(random);
        (int low, int high) = birthDate.Year switch
        {
            >= 1854 and <= 1899 => (500, 749),
            >= 1900 and <= 1999 => (0, 499),
            >= 2000 and <= 2039 => (500, 999),
            _ => throw new ArgumentOutOfRangeException(
                nameof(birthDate), birthDate, "Norwegian personal numbers cover birth years 1854–2039."),
        };

        string date = string.Concat(
            (birthDate.Day + (dNumber ? 40 : 0)).ToString("D2", CultureInfo.InvariantCulture),
            birthDate.Month.ToString("D2", CultureInfo.InvariantCulture),
            (birthDate.Year % 100).ToString("D2", CultureInfo.InvariantCulture));

        // Retry random individual numbers; after many misses, walk the range so this always ends.
        int start = random.Next(low, high + 1);
        for (int attempt = 0; attempt <= (high - low) + 64; attempt++)
        {
            int individual = attempt < 64 ? random.Next(low, high + 1) : low + ((start - low + attempt) % (high - low + 1));
            string nine = date + individual.ToString("D3", CultureInfo.InvariantCulture);
            int k1 = ControlDigit(nine, Weights1);
            if (k1 == 10)
            {
                continue;
            }

            string ten = nine + (char)('0' + k1);
            int k2 = ControlDigit(ten, Weights2);
            if (k2 != 10)
            {
                return ten + (char)('0' + k2);
            }
        }

        throw new InvalidOperationException("No individual number gives valid control digits for this date.");
    }

    /// <summary>11 − (Σ digit × weight mod 11), 11 → 0; 10 means no valid control digit.</summary>
    private static int ControlDigit(string digits, int[] weights)
    {
        int sum = 0;
        for (int i = 0; i < weights.Length; i++)
        {
            sum += (digits[i] - '0') * weights[i];
        }

        int k = 11 - (sum % 11);
        return k == 11 ? 0 : k;
    }

    private static int? CenturyOf(int individual, int yy)
    {
        if (individual <= 499)
        {
            return 1900;
        }

        if (individual <= 749 && yy >= 54)
        {
            return 1800;
        }

        if (yy <= 39)
        {
            return 2000;
        }

        return individual >= 900 ? 1900 : null;
    }

    private static void RequireCanonical(string canonical)
    {
        ArgumentNullException.ThrowIfNull(canonical);
        if (canonical.Length != 11 || !SwedishPersonalNumber.AllDigits(canonical))
        {
            throw new ArgumentException("A canonical Norwegian personal number has 11 digits.", nameof(canonical));
        }
    }

    private static int Number(string s, int at, int length)
    {
        int n = 0;
        for (int i = at; i < at + length; i++)
        {
            n = (n * 10) + (s[i] - '0');
        }

        return n;
    }
}
