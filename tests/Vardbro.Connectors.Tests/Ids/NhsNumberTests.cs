namespace Vardbro.Connectors.Tests.Ids;

public class NhsNumberTests
{
    [Theory]
    [InlineData("9434765919", "9434765919")]
    [InlineData("943 476 5919", "9434765919")]
    [InlineData("943-476-5919", "9434765919")]
    [InlineData(" 943 476-5919 ", "9434765919")]
    [InlineData("4010232137", "4010232137")]
    public void ValidNumbers(string input, string expected)
    {
        // 9434765919: 9·10+4·9+3·8+4·7+7·6+6·5+5·4+9·3+1·2 = 299, 299 mod 11 = 2, check 11 − 2 = 9.
        // 4010232137: 4·10+0+1·8+0+2·6+3·5+2·4+1·3+3·2 = 92, 92 mod 11 = 4, check 7.
        Assert.True(NhsNumber.TryNormalize(input, out string canonical));
        Assert.Equal(expected, canonical);
    }

    [Theory]
    [InlineData("9434765918")]
    [InlineData("9434765910")]
    [InlineData("943 476 5911")]
    [InlineData("4010232136")]
    public void WrongCheckDigitsAreRejected(string input)
    {
        Assert.False(NhsNumber.TryNormalize(input, out string canonical));
        Assert.Equal(string.Empty, canonical);
    }

    [Fact]
    public void CheckDigitOfTenIsInvalid()
    {
        // 401023217: 40+0+8+0+12+15+8+3+14 = 100, 100 mod 11 = 1, 11 − 1 = 10: no valid check digit.
        for (int last = 0; last <= 9; last++)
        {
            Assert.False(NhsNumber.TryNormalize("401023217" + (char)('0' + last), out _));
        }
    }

    [Fact]
    public void CheckDigitOfElevenIsZero()
    {
        // 401023213 + 3 on the fifth digit: 4·10+0+1·8+0+5·6+3·5+2·4+1·3+3·2 = 110 ≡ 0, check 11 → 0.
        Assert.True(NhsNumber.TryNormalize("4010532130", out string canonical));
        Assert.Equal("4010532130", canonical);
        Assert.False(NhsNumber.TryNormalize("4010532131", out _));
    }

    [Theory]
    [InlineData("")]
    [InlineData("943476591")]
    [InlineData("94347659190")]
    [InlineData("943.476.5919")]
    [InlineData("943476591a")]
    [InlineData("+449434765919")]
    public void BadFormatsAreRejected(string input)
    {
        Assert.False(NhsNumber.TryNormalize(input, out _));
    }

    [Fact]
    public void GeneratedNumbersValidate()
    {
        var distinct = new HashSet<string>(StringComparer.Ordinal);
        for (int seed = 0; seed < 300; seed++)
        {
            string number = NhsNumber.Generate(new Random(seed));
            Assert.Equal(10, number.Length);
            Assert.True(NhsNumber.TryNormalize(number, out string canonical), number);
            Assert.Equal(number, canonical);
            distinct.Add(number);
        }

        Assert.True(distinct.Count > 290);
    }
}
