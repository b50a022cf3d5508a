namespace Vardbro.Connectors.Tests.Ids;

public class HsaIdTests
{
    [Theory]
    [InlineData("SE2321000131-E000000012345")]
    [InlineData("SE162321000255-O10951")]
    [InlineData("SE1234567890-a")]
    [InlineData("SE123456789012-1")]
    [InlineData("SE123456789012-ABCDEFGHIJKLMNOP")] // 31 characters
    public void ValidIds(string value)
    {
        Assert.True(HsaId.IsValid(value));
    }

    [Theory]
    [InlineData("se2321000131-E000000012345")]
    [InlineData("Se2321000131-E000000012345")]
    [InlineData("SE2321000131E000000012345")]
    [InlineData("SE2321000131-")]
    [InlineData("SE123456789-E1")] // 9 digits
    [InlineData("SE1234567890123-E1")] // 13 digits
    [InlineData("SE123456789012-ABCDEFGHIJKLMNOPQ")] // 32 characters
    [InlineData("SE2321000131-E0000_12345")]
    [InlineData("SE2321000131-E00000-12345")]
    [InlineData("SE2321000131-Ö1")]
    [InlineData("NO2321000131-E1")]
    [InlineData(" SE2321000131-E1")]
    [InlineData("SE2321000131-E1 ")]
    [InlineData("")]
    [InlineData(null)]
    public void InvalidIds(string? value)
    {
        Assert.False(HsaId.IsValid(value));
    }
}
