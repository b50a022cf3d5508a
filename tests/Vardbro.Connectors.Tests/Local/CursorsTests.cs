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

    [Fact]
    public void A_cursor_shows_nothing_of_its_position_and_a_changed_one_is_refused()
    {
        var cursor = Cursors.Encode("sjoberg", "elin", "pat_0123");
        var b64 = cursor.Replace('-', '+').Replace('_', '/');
        var bytes = Convert.FromBase64String(b64.PadRight(b64.Length + ((4 - (b64.Length % 4)) % 4), '='));
        var text = System.Text.Encoding.Latin1.GetString(bytes);
        Assert.DoesNotContain("sjoberg", text, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("elin", text, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("pat_", text, StringComparison.Ordinal);
        Assert.NotEqual(cursor, Cursors.Encode("sjoberg", "elin", "pat_0123")); // a fresh nonce each time

        for (var i = 0; i < bytes.Length; i++)
        {
            var changed = (byte[])bytes.Clone();
            changed[i] ^= 0x01;
            var forged = Convert.ToBase64String(changed).TrimEnd('=').Replace('+', '-').Replace('/', '_');
            Assert.Throws<VardbroException>(() => Cursors.Decode(forged, 3));
        }
    }

    [Theory]
    [InlineData("")]
    [InlineData("not base64!")]
    [InlineData("bm90IGpzb24")] // "not json"
    [InlineData("WyJhIl0")] // ["a"]: one part where three are expected
    [InlineData("WyJhIiwiYiIsIlx1MDAwMSJd")] // a control character inside
    [InlineData("WyJzam9iZXJnIiwiZWxpbiIsInBhdF8wMSJd")] // ["sjoberg","elin","pat_01"] as cursors were before they were sealed
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
