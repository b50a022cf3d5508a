namespace Vardbro.Connectors.Tests.Local;

/// <summary>The one cursor form every list uses.</summary>
public sealed class CursorsTests
{
    [Fact]
    public void A_cursor_reads_back_its_parts()
    {
        var cursor = Cursors.Encode("åkesson", "karin", "pat_01");
        Assert.True(Cursors.IsWellFormed(cursor));
        Assert.Equal(["åkesson", "karin", "pat_01"], Cursors.Decode(cursor, 3));
    }

    [Theory]
    [InlineData("")]
    [InlineData("not base64!")]
    [InlineData("bm90IGpzb24")] // "not json"
    [InlineData("WyJhIl0")] // ["a"]: one part where three are expected
    [InlineData("WyJhIiwiYiIsIlx1MDAwMSJd")] // a control character inside
    public void Anything_else_is_the_same_refusal(string cursor)
    {
        var error = Assert.Throws<VardbroException>(() => Cursors.Decode(cursor, 3));
        Assert.Equal((ErrorCodes.InvalidField, "cursor"), (error.Errors[0].ErrorCode, error.Errors[0].Path));
    }

    [Fact]
    public void One_length_rule_for_every_list()
    {
        Assert.False(Cursors.IsWellFormed(new string('a', Cursors.MaxLength + 1)));
        Assert.True(Cursors.IsWellFormed(new string('a', Cursors.MaxLength)));
        Assert.Throws<InvalidOperationException>(() => Cursors.Encode(new string('x', Cursors.MaxLength)));
    }
}
