namespace Vardbro.Connectors.Tests.Text;

public class PhoneNumbersTests
{
    [Theory]
    [InlineData("070-123 45 67", "46701234567")]
    [InlineData("0701234567", "46701234567")]
    [InlineData("+46 70 123 45 67", "46701234567")]
    [InlineData("+46701234567", "46701234567")]
    [InlineData("0046 70-123 45 67", "46701234567")]
    [InlineData("+46 (0)70 123 45 67", "46701234567")]
    [InlineData("(08) 123.456.78", "46812345678")]
    [InlineData("46701234567", "46701234567")]
    [InlineData("  +47 22 33 44 55 ", "4722334455")]
    [InlineData("0044 20 7946 0958", "442079460958")]
    public void NormalisesWithSwedishDefault(string input, string expected)
    {
        Assert.Equal(expected, PhoneNumbers.Normalize(input));
    }

    [Theory]
    [InlineData("020 7946 0958", "44", "442079460958")]
    [InlineData("22 33 44 55", "47", "22334455")]
    [InlineData("+46 70 123 45 67", "44", "46701234567")]
    public void NormalisesWithOtherDefaults(string input, string countryCode, string expected)
    {
        Assert.Equal(expected, PhoneNumbers.Normalize(input, countryCode));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("070-CALL-NOW")]
    [InlineData("0701234567 ext 12")]
    [InlineData("1234")]
    [InlineData("+46 1")]
    [InlineData("12 34")]
    [InlineData("070/1234567")]
    [InlineData("46+701234567")]
    public void RejectsNonNumbers(string? input)
    {
        Assert.Null(PhoneNumbers.Normalize(input));
    }

    [Fact]
    public void RejectsABadDefaultCountryCode()
    {
        Assert.Throws<ArgumentException>(() => PhoneNumbers.Normalize("0701234567", "+46"));
    }

    [Theory]
    [InlineData("  Anna.Svensson@Example.SE ", "anna.svensson@example.se")]
    [InlineData("a@b.c", "a@b.c")]
    public void NormalisesEmail(string input, string expected)
    {
        Assert.Equal(expected, PhoneNumbers.NormalizeEmail(input));
    }
}
