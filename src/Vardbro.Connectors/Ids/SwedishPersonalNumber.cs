using System.Globalization;

namespace Vardbro.Connectors;

/// <summary>
/// Swedish personnummer and samordningsnummer (coordination numbers). The canonical form is 12
/// digits, <c>YYYYMMDDNNNC</c>; samordningsnummer carry the day plus 60.
/// </summary>
public static class SwedishPersonalNumber
{
    private const string FormatError =
        "A Swedish personal number has the form YYYYMMDDNNNC, YYYYMMDD-NNNC, YYMMDD-NNNC or YYMMDD+NNNC.";

    private const string MonthError = "The month of the Swedish personal number is not 01–12.";

    private const string DayError =
        "The day of the Swedish personal number is not 01–31 (61–91 for a samordningsnummer).";

    private const string CheckDigitError = "The check digit of the Swedish personal number is wrong.";

    /// <summary>
    /// Validates and canonicalises. Accepts <c>YYYYMMDDNNNC</c>, <c>YYYYMMDD-NNNC</c>,
    /// <c>YYMMDD-NNNC</c>, <c>YYMMDD+NNNC</c> and <c>YYMMDDNNNC</c> (read like <c>-</c>). For the
    /// two-digit-year forms the century is the one that makes the person under 100 on
    /// <paramref name="today"/> (<c>-</c> or none) or 100 and older (<c>+</c>).
    /// </summary>
    public static bool TryNormalize(string input, DateOnly today, out string canonical) =>
        Check(input, today, out canonical) is null;

    /// <summary>Validates and canonicalises; returns why the input is not valid, or null when it is.</summary>
    internal static string? Check(string? input, DateOnly today, out string canonical)
    {
        canonical = string.Empty;
        if (input is null)
        {
            return FormatError;
        }

        ReadOnlySpan<char> s = input;
        ReadOnlySpan<char> date; // YYYYMMDD or YYMMDD
        ReadOnlySpan<char> tail; // NNNC
        char separator = '-';
        if (s.Length == 12 && AllDigits(s))
        {
            date = s[..8];
            tail = s[8..];
        }
        else if (s.Length == 13 && s[8] == '-' && AllDigits(s[..8]) && AllDigits(s[9..]))
        {
            date = s[..8];
            tail = s[9..];
        }
        else if (s.Length == 11 && (s[6] == '-' || s[6] == '+') && AllDigits(s[..6]) && AllDigits(s[7..]))
        {
            date = s[..6];
            tail = s[7..];
            separator = s[6];
        }
        else if (s.Length == 10 && AllDigits(s))
        {
            date = s[..6];
            tail = s[6..];
        }
        else
        {
            return FormatError;
        }

        ReadOnlySpan<char> mmdd = date[^4..];
        int month = TwoDigits(mmdd, 0);
        int day = TwoDigits(mmdd, 2);
        if (month is < 1 or > 12)
        {
            return MonthError;
        }

        if (day is not ((>= 1 and <= 31) or (>= 61 and <= 91)))
        {
            return DayError;
        }

        Span<char> nine = stackalloc char[9];
        date[^6..].CopyTo(nine);
        tail[..3].CopyTo(nine[6..]);
        if (LuhnCheckDigit(nine) != tail[3] - '0')
        {
            return CheckDigitError;
        }

        int year;
        if (date.Length == 8)
        {
            year = (TwoDigits(date, 0) * 100) + TwoDigits(date, 2);
        }
        else
        {
            int yy = TwoDigits(date, 0);
            year = today.Year - Modulo(today.Year - yy, 100);
            DateOnly? birth = TryDate(year, month, day > 60 ? day - 60 : day);
            if (birth is { } b && b > today)
            {
                year -= 100;
            }

            if (separator == '+')
            {
                year -= 100;
            }

            if (year < 1)
            {
                return FormatError;
            }
        }

        canonical = string.Concat(
            year.ToString("D4", CultureInfo.InvariantCulture),
            mmdd,
            tail);
        return null;
    }

    /// <summary>The birth date of a canonical number (a samordningsnummer's day minus 60); null if it is no calendar date.</summary>
    public static DateOnly? BirthDate(string canonical)
    {
        RequireCanonical(canonical);
        int year = (TwoDigits(canonical, 0) * 100) + TwoDigits(canonical, 2);
        int month = TwoDigits(canonical, 4);
        int day = TwoDigits(canonical, 6);
        return TryDate(year, month, day > 60 ? day - 60 : day);
    }

    /// <summary><c>male</c> when the second-to-last digit is odd, else <c>female</c>.</summary>
    public static string Gender(string canonical)
    {
        RequireCanonical(canonical);
        return (canonical[10] - '0') % 2 == 1 ? "male" : "female";
    }

    /// <summary>True for a samordningsnummer (day 61–91).</summary>
    public static bool IsCoordinationNumber(string canonical)
    {
        RequireCanonical(canonical);
        return TwoDigits(canonical, 6) > 60;
    }

    /// <summary>
    /// A random valid canonical number for <paramref name="birthDate"/> (test and benchmark data;
    /// the serial number is 001–999).
    /// </summary>
    public static string Generate(Random random, DateOnly birthDate, bool coordinationNumber = false)
    {
        ArgumentNullException.ThrowIfNull(random);
        int day = birthDate.Day + (coordinationNumber ? 60 : 0);
        int serial = random.Next(1, 1000);
        string first11 = string.Concat(
            birthDate.Year.ToString("D4", CultureInfo.InvariantCulture),
            birthDate.Month.ToString("D2", CultureInfo.InvariantCulture),
            day.ToString("D2", CultureInfo.InvariantCulture),
            serial.ToString("D3", CultureInfo.InvariantCulture));
        return first11 + (char)('0' + LuhnCheckDigit(first11.AsSpan(2)));
    }

    /// <summary>The Luhn check digit over nine digits (weights 2, 1, 2, …).</summary>
    internal static int LuhnCheckDigit(ReadOnlySpan<char> digits)
    {
        int sum = 0;
        for (int i = 0; i < digits.Length; i++)
        {
            int d = digits[i] - '0';
            if (i % 2 == 0)
            {
                d *= 2;
                if (d > 9)
                {
                    d -= 9;
                }
            }

            sum += d;
        }

        return (10 - (sum % 10)) % 10;
    }

    private static void RequireCanonical(string canonical)
    {
        ArgumentNullException.ThrowIfNull(canonical);
        if (canonical.Length != 12 || !AllDigits(canonical))
        {
            throw new ArgumentException("A canonical Swedish personal number has 12 digits.", nameof(canonical));
        }
    }

    internal static bool AllDigits(ReadOnlySpan<char> s)
    {
        foreach (char c in s)
        {
            if (!char.IsAsciiDigit(c))
            {
                return false;
            }
        }

        return true;
    }

    private static int TwoDigits(ReadOnlySpan<char> s, int at) => ((s[at] - '0') * 10) + (s[at + 1] - '0');

    private static int Modulo(int a, int m) => ((a % m) + m) % m;

    internal static DateOnly? TryDate(int year, int month, int day) =>
        year is >= 1 and <= 9999 && month is >= 1 and <= 12 && day >= 1 && day <= DateTime.DaysInMonth(year, month)
            ? new DateOnly(year, month, day)
            : null;
}
