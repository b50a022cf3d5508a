namespace Vardbro.Connectors.Tests.Ids;

public class NorwegianPersonalNumberTests
{
    [Theory]
    [InlineData("26258605879")] // synthetic: month 25 is no month, still valid
    [InlineData("55038512357")] // D-number, see DNumber
    [InlineData("15438512346")] // H-number, see HNumber
    [InlineData("15838512329")] // synthetic (month + 80), see HNumber
    [InlineData("15038512363")] // ordinary number, see OrdinaryNumber
    public void ValidNumbers(string number)
    {
        Assert.True(NorwegianPersonalNumber.TryNormalize(number, out string canonical));
        Assert.Equal(number, canonical);
    }

    [Fact]
    public void OneSpaceBetweenTheGroupsIsAccepted()
    {
        Assert.True(NorwegianPersonalNumber.TryNormalize("262586 05879", out string canonical));
        Assert.Equal("26258605879", canonical);
    }

    [Theory]
    [InlineData("26258605878")]
    [InlineData("26258605869")]
    [InlineData("55038512358")]
    [InlineData("15438512347")]
    [InlineData("15038512364")]
    public void WrongControlDigitsAreRejected(string number)
    {
        Assert.False(NorwegianPersonalNumber.TryNormalize(number, out string canonical));
        Assert.Equal(string.Empty, canonical);
    }

    [Fact]
    public void FirstControlDigitOfTenIsInvalid()
    {
        // 150385 121: 1·3 + 5·7 + 0·6 + 3·1 + 8·8 + 5·9 + 1·4 + 2·5 + 1·2 = 166, 166 mod 11 = 1,
        // k1 = 11 − 1 = 10: no control digits make this a valid number.
        for (int k = 0; k <= 99; k++)
        {
            string candidate = "150385121" + k.ToString("D2", System.Globalization.CultureInfo.InvariantCulture);
            Assert.False(NorwegianPersonalNumber.TryNormalize(candidate, out _), candidate);
        }
    }

    [Theory]
    [InlineData("")]
    [InlineData("2625860587")]
    [InlineData("262586058790")]
    [InlineData("26258 605879")]
    [InlineData("262586  05879")]
    [InlineData("262586-05879")]
    [InlineData("2625860587x")]
    [InlineData(" 26258605879")]
    public void BadFormatsAreRejected(string input)
    {
        Assert.False(NorwegianPersonalNumber.TryNormalize(input, out _));
    }

    [Fact]
    public void SyntheticNumberHasNoBirthDate()
    {
        Assert.Null(NorwegianPersonalNumber.BirthDate("26258605879"));
        Assert.Equal("female", NorwegianPersonalNumber.Gender("26258605879")); // ninth digit 8
    }

    [Fact]
    public void OrdinaryNumber()
    {
        // 150385 123: k1 = 11 − (1·3+5·7+0·6+3·1+8·8+5·9+1·4+2·5+3·2 = 170 mod 11 = 5) = 6
        // k2 = 11 − (1·5+5·4+0·3+3·2+8·7+5·6+1·5+2·4+3·3+6·2 = 151 mod 11 = 8) = 3
        Assert.True(NorwegianPersonalNumber.TryNormalize("15038512363", out _));
        Assert.Equal(new DateOnly(1985, 3, 15), NorwegianPersonalNumber.BirthDate("15038512363"));
        Assert.Equal("male", NorwegianPersonalNumber.Gender("15038512363"));
    }

    [Fact]
    public void DNumber()
    {
        // 15.03.1985 as D-number: first digit 1 + 4 → 550385, individual 123.
        // k1 = 11 − (5·3+5·7+0·6+3·1+8·8+5·9+1·4+2·5+3·2 = 182 mod 11 = 6) = 5
        // k2 = 11 − (5·5+5·4+0·3+3·2+8·7+5·6+1·5+2·4+3·3+5·2 = 169 mod 11 = 4) = 7
        Assert.True(NorwegianPersonalNumber.TryNormalize("55038512357", out _));
        Assert.Equal(new DateOnly(1985, 3, 15), NorwegianPersonalNumber.BirthDate("55038512357"));
        Assert.Equal("male", NorwegianPersonalNumber.Gender("55038512357"));
    }

    [Fact]
    public void HNumber()
    {
        // 15.03.1985 as H-number: month 03 + 40 → 154385, individual 123.
        // k1 = 11 − (1·3+5·7+4·6+3·1+8·8+5·9+1·4+2·5+3·2 = 194 mod 11 = 7) = 4
        // k2 = 11 − (1·5+5·4+4·3+3·2+8·7+5·6+1·5+2·4+3·3+4·2 = 159 mod 11 = 5) = 6
        Assert.True(NorwegianPersonalNumber.TryNormalize("15438512346", out _));
        Assert.Equal(new DateOnly(1985, 3, 15), NorwegianPersonalNumber.BirthDate("15438512346"));

        // The same with month + 80 (synthetic test numbers): valid, but no birth date.
        // k1 = 11 − (3+35+48+3+64+45+4+10+6 = 218 mod 11 = 9) = 2
        // k2 = 11 − (5+20+24+6+56+30+5+8+9+4 = 167 mod 11 = 2) = 9
        Assert.True(NorwegianPersonalNumber.TryNormalize("15838512329", out _));
        Assert.Null(NorwegianPersonalNumber.BirthDate("15838512329"));
    }

    [Theory]
    [InlineData(1854, 1, 1)]
    [InlineData(1899, 12, 31)]
    [InlineData(1900, 1, 1)]
    [InlineData(1939, 6, 15)]
    [InlineData(1940, 2, 29)]
    [InlineData(1999, 12, 31)]
    [InlineData(2000, 2, 29)]
    [InlineData(2039, 12, 31)]
    public void CenturiesFromTheIndividualNumber(int year, int month, int day)
    {
        var date = new DateOnly(year, month, day);
        for (int seed = 0; seed < 20; seed++)
        {
            string number = NorwegianPersonalNumber.Generate(new Random(seed), date);
            Assert.Equal(date, NorwegianPersonalNumber.BirthDate(number));
        }
    }

    [Theory]
    [InlineData("010160750", null)] // 750–899 with yy 40–99: no century
    [InlineData("010150600", null)] // 500–749 with yy 40–53: no century
    [InlineData("010160950", "1960-01-01")] // 900–999 with yy 40–99: 1900s
    [InlineData("010160499", "1960-01-01")] // 000–499: 1900s
    [InlineData("010160500", "1860-01-01")] // 500–749 with yy 54–99: 1800s
    [InlineData("010110998", "2010-01-01")] // 500–999 with yy 00–39: 2000s
    [InlineData("310460123", null)] // 31 April: no calendar date
    [InlineData("290259124", null)] // 29 February 1959: no calendar date
    [InlineData("290260124", "1960-02-29")]
    public void BirthDateRules(string firstNine, string? expected)
    {
        string number = WithControlDigits(firstNine);
        Assert.True(NorwegianPersonalNumber.TryNormalize(number, out _), number);
        DateOnly? expectedDate = expected is null
            ? null
            : DateOnly.ParseExact(expected, "yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(expectedDate, NorwegianPersonalNumber.BirthDate(number));
    }

    [Fact]
    public void GenderFromTheNinthDigit()
    {
        Assert.Equal("female", NorwegianPersonalNumber.Gender(WithControlDigits("010160134")));
        Assert.Equal("male", NorwegianPersonalNumber.Gender(WithControlDigits("010160135")));
    }

    [Fact]
    public void DerivationsRejectNonCanonicalInput()
    {
        Assert.Throws<ArgumentException>(() => NorwegianPersonalNumber.BirthDate("262586 05879"));
        Assert.Throws<ArgumentException>(() => NorwegianPersonalNumber.Gender("2625860587"));
    }

    [Fact]
    public void GeneratorRejectsYearsWithoutAnIndividualNumberRange()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => NorwegianPersonalNumber.Generate(new Random(1), new DateOnly(1853, 12, 31)));
        Assert.Throws<ArgumentOutOfRangeException>(() => NorwegianPersonalNumber.Generate(new Random(1), new DateOnly(2040, 1, 1)));
    }

    [Fact]
    public void GeneratedNumbersRoundTrip()
    {
        var distinct = new HashSet<string>(StringComparer.Ordinal);
        int low = new DateOnly(1854, 1, 1).DayNumber;
        int high = new DateOnly(2039, 12, 31).DayNumber;
        for (int seed = 0; seed < 300; seed++)
        {
            var random = new Random(seed);
            var birthDate = DateOnly.FromDayNumber(random.Next(low, high + 1));
            bool dNumber = seed % 4 == 0;
            string number = NorwegianPersonalNumber.Generate(random, birthDate, dNumber);

            Assert.True(NorwegianPersonalNumber.TryNormalize(number, out string canonical), number);
            Assert.Equal(number, canonical);
            Assert.Equal(WithControlDigits(number[..9]), number);
            Assert.Equal(birthDate, NorwegianPersonalNumber.BirthDate(number));
            Assert.Equal(dNumber, number[0] >= '4');
            distinct.Add(number);
        }

        Assert.True(distinct.Count > 290);
    }

    /// <summary>An independent implementation of the two control digits; fails on a 10.</summary>
    private static string WithControlDigits(string firstNine)
    {
        int[] w1 = [3, 7, 6, 1, 8, 9, 4, 5, 2];
        int[] w2 = [5, 4, 3, 2, 7, 6, 5, 4, 3, 2];
        string ten = firstNine + Control(firstNine, w1);
        return ten + Control(ten, w2);

        static char Control(string digits, int[] weights)
        {
            int sum = 0;
            for (int i = 0; i < weights.Length; i++)
            {
                sum += (digits[i] - '0') * weights[i];
            }

            int k = (11 - (sum % 11)) % 11;
            Assert.NotEqual(10, k);
            return (char)('0' + k);
        }
    }
}
