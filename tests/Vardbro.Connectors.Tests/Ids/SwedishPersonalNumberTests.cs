using System.Globalization;

namespace Vardbro.Connectors.Tests.Ids;

public class SwedishPersonalNumberTests
{
    private static readonly DateOnly Today = new(2026, 3, 25);

    [Theory]
    [InlineData("191212121212")]
    [InlineData("197110021834")]
    [InlineData("194010126672")]
    [InlineData("195003042222")]
    [InlineData("198702072391")]
    public void ValidTwelveDigitNumbersAreCanonical(string number)
    {
        Assert.True(SwedishPersonalNumber.TryNormalize(number, Today, out string canonical));
        Assert.Equal(number, canonical);
    }

    [Theory]
    [InlineData("19121212-1212", "191212121212")]
    [InlineData("121212-1212", "201212121212")]
    [InlineData("121212+1212", "191212121212")]
    [InlineData("1212121212", "201212121212")]
    [InlineData("711002-1834", "197110021834")]
    [InlineData("7110021834", "197110021834")]
    [InlineData("401012-6672", "194010126672")]
    [InlineData("401012+6672", "184010126672")]
    [InlineData("19870207-2391", "198702072391")]
    public void OtherFormsAreCanonicalised(string input, string expected)
    {
        Assert.True(SwedishPersonalNumber.TryNormalize(input, Today, out string canonical));
        Assert.Equal(expected, canonical);
    }

    [Fact]
    public void HandCheckedSamordningsnummer()
    {
        // 701063-2391: born 1970-10-03, day 03 + 60 = 63. Luhn over 7 0 1 0 6 3 2 3 9 with weights
        // 2 1 2 1 2 1 2 1 2: 14→5, 0, 2, 0, 12→3, 3, 4, 3, 18→9; sum 29, check (10 − 9) = 1.
        Assert.True(SwedishPersonalNumber.TryNormalize("701063-2391", Today, out string canonical));
        Assert.Equal("197010632391", canonical);
        Assert.True(SwedishPersonalNumber.IsCoordinationNumber(canonical));
        Assert.Equal(new DateOnly(1970, 10, 3), SwedishPersonalNumber.BirthDate(canonical));
        Assert.Equal("male", SwedishPersonalNumber.Gender(canonical));
        Assert.False(SwedishPersonalNumber.TryNormalize("701063-2392", Today, out _));
    }

    [Fact]
    public void GeneratedSamordningsnummerValidates()
    {
        string number = SwedishPersonalNumber.Generate(new Random(7), new DateOnly(1985, 6, 30), coordinationNumber: true);
        Assert.StartsWith("19850690", number, StringComparison.Ordinal);
        Assert.True(SwedishPersonalNumber.TryNormalize(number, Today, out string canonical));
        Assert.Equal(number, canonical);
        Assert.True(SwedishPersonalNumber.IsCoordinationNumber(number));
        Assert.Equal(new DateOnly(1985, 6, 30), SwedishPersonalNumber.BirthDate(number));
        Assert.True(SwedishPersonalNumber.TryNormalize(number[2..8] + "-" + number[8..], Today, out string fromShort));
        Assert.Equal(number, fromShort);
    }

    [Theory]
    [InlineData("191212121213")]
    [InlineData("197110021835")]
    [InlineData("194010126670")]
    [InlineData("195003042221")]
    [InlineData("198702072392")]
    [InlineData("121212-1213")]
    [InlineData("121212+1211")]
    public void WrongCheckDigitsAreRejected(string input)
    {
        Assert.False(SwedishPersonalNumber.TryNormalize(input, Today, out string canonical));
        Assert.Equal(string.Empty, canonical);
    }

    [Theory]
    [InlineData(0, 12)]
    [InlineData(13, 12)]
    [InlineData(12, 0)]
    [InlineData(12, 32)]
    [InlineData(12, 60)]
    [InlineData(12, 92)]
    [InlineData(12, 99)]
    public void BadMonthsAndDaysAreRejectedEvenWithARightCheckDigit(int month, int day)
    {
        string number = WithCheckDigit($"19{12:D2}{month:D2}{day:D2}121");
        Assert.False(SwedishPersonalNumber.TryNormalize(number, Today, out _));
    }

    [Theory]
    [InlineData("")]
    [InlineData("19121212121")]
    [InlineData("1912121212120")]
    [InlineData("19121212+1212")]
    [InlineData("191212-121212")]
    [InlineData("121212 1212")]
    [InlineData("12121-21212")]
    [InlineData("19121212121a")]
    [InlineData(" 191212121212")]
    [InlineData("１９１２１２１２１２１２")]
    public void BadFormatsAreRejected(string input)
    {
        Assert.False(SwedishPersonalNumber.TryNormalize(input, Today, out _));
    }

    [Fact]
    public void CenturyKeepsTheDashPersonUnderOneHundred()
    {
        // Born today: 2026. Born tomorrow (in the 2-digit year sense): 100 years earlier.
        string bornToday = SwedishPersonalNumber.Generate(new Random(1), new DateOnly(2026, 3, 25));
        string bornTomorrow = SwedishPersonalNumber.Generate(new Random(2), new DateOnly(2026, 3, 26));

        Assert.True(SwedishPersonalNumber.TryNormalize(Short(bornToday, '-'), Today, out string a));
        Assert.Equal(bornToday, a);
        Assert.True(SwedishPersonalNumber.TryNormalize(Short(bornTomorrow, '-'), Today, out string b));
        Assert.Equal("1926" + bornTomorrow[4..], b);
        Assert.True(SwedishPersonalNumber.TryNormalize(Short(bornTomorrow, '+'), Today, out string c));
        Assert.Equal("1826" + bornTomorrow[4..], c);
        Assert.True(SwedishPersonalNumber.TryNormalize(Short(bornToday, '+'), Today, out string d));
        Assert.Equal("1926" + bornToday[4..], d);
        Assert.True(SwedishPersonalNumber.TryNormalize(bornTomorrow[2..], Today, out string e));
        Assert.Equal("1926" + bornTomorrow[4..], e);
    }

    [Fact]
    public void CenturyForSamordningsnummerComparesTheRealDay()
    {
        // 2026-03-26 as samordningsnummer day 86: after today, so 1926.
        string number = WithCheckDigit("260386123");
        Assert.True(SwedishPersonalNumber.TryNormalize(number[..6] + "-" + number[6..], Today, out string canonical));
        Assert.Equal("19" + number, canonical);
        // Day 85 = today: 2026.
        string today = WithCheckDigit("260385123");
        Assert.True(SwedishPersonalNumber.TryNormalize(today, Today, out string canonicalToday));
        Assert.Equal("20" + today, canonicalToday);
    }

    [Fact]
    public void CenturyForANonCalendarDateUsesTheYear()
    {
        // 31 February 2026: no calendar date; the year 2026 is not after today's year.
        string number = WithCheckDigit("260231123");
        Assert.True(SwedishPersonalNumber.TryNormalize(number, Today, out string canonical));
        Assert.Equal("20" + number, canonical);
        Assert.Null(SwedishPersonalNumber.BirthDate(canonical));
        // 31 April 2027: the year is after today's, so 1927.
        string later = WithCheckDigit("270431123");
        Assert.True(SwedishPersonalNumber.TryNormalize(later, Today, out string canonicalLater));
        Assert.Equal("19" + later, canonicalLater);
    }

    [Theory]
    [InlineData("191212121212", 1912, 12, 12, "male")]
    [InlineData("197110021834", 1971, 10, 2, "male")]
    [InlineData("194010126672", 1940, 10, 12, "male")]
    [InlineData("195003042222", 1950, 3, 4, "female")]
    [InlineData("198702072391", 1987, 2, 7, "male")]
    public void BirthDateAndGender(string canonical, int year, int month, int day, string gender)
    {
        Assert.Equal(new DateOnly(year, month, day), SwedishPersonalNumber.BirthDate(canonical));
        Assert.Equal(gender, SwedishPersonalNumber.Gender(canonical));
        Assert.False(SwedishPersonalNumber.IsCoordinationNumber(canonical));
    }

    [Fact]
    public void DerivationsRejectNonCanonicalInput()
    {
        Assert.Throws<ArgumentException>(() => SwedishPersonalNumber.BirthDate("121212-1212"));
        Assert.Throws<ArgumentException>(() => SwedishPersonalNumber.Gender("1212121212"));
        Assert.Throws<ArgumentException>(() => SwedishPersonalNumber.IsCoordinationNumber("19121212121x"));
    }

    [Fact]
    public void GeneratedNumbersRoundTrip()
    {
        var distinct = new HashSet<string>(StringComparer.Ordinal);
        for (int seed = 0; seed < 300; seed++)
        {
            var random = new Random(seed);
            var birthDate = DateOnly.FromDayNumber(random.Next(new DateOnly(1900, 1, 1).DayNumber, Today.DayNumber + 1));
            bool coordination = seed % 3 == 0;
            string number = SwedishPersonalNumber.Generate(random, birthDate, coordination);

            Assert.Equal(12, number.Length);
            Assert.True(SwedishPersonalNumber.TryNormalize(number, Today, out string canonical), number);
            Assert.Equal(number, canonical);
            Assert.Equal(birthDate, SwedishPersonalNumber.BirthDate(number));
            Assert.Equal(coordination, SwedishPersonalNumber.IsCoordinationNumber(number));
            Assert.Equal(number[11] - '0', LuhnCheckDigit(number.Substring(2, 9)));
            string expectedDate = birthDate.ToString("yyyyMM", CultureInfo.InvariantCulture)
                + (birthDate.Day + (coordination ? 60 : 0)).ToString("D2", CultureInfo.InvariantCulture);
            Assert.Equal(expectedDate, number[..8]);

            // The short form reads back to the same number ('+' from the 100th birthday on).
            char separator = birthDate <= Today.AddYears(-100) ? '+' : '-';
            Assert.True(SwedishPersonalNumber.TryNormalize(Short(number, separator), Today, out string fromShort));
            Assert.Equal(number, fromShort);
            distinct.Add(number);
        }

        Assert.True(distinct.Count > 290);
    }

    /// <summary>An independent Luhn implementation for building test inputs.</summary>
    private static int LuhnCheckDigit(string nineDigits)
    {
        int sum = 0;
        for (int i = 0; i < 9; i++)
        {
            int product = (nineDigits[i] - '0') * (i % 2 == 0 ? 2 : 1);
            sum += (product / 10) + (product % 10);
        }

        return (10 - (sum % 10)) % 10;
    }

    /// <summary>Appends the Luhn digit over the last nine digits (YYMMDDNNN).</summary>
    private static string WithCheckDigit(string digits) =>
        digits + LuhnCheckDigit(digits[^9..]).ToString(CultureInfo.InvariantCulture);

    private static string Short(string canonical, char separator) => canonical[2..8] + separator + canonical[8..];
}
