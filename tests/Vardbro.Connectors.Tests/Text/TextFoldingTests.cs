namespace Vardbro.Connectors.Tests.Text;

public class TextFoldingTests
{
    [Theory]
    [InlineData("Öström", "ostrom")]
    [InlineData("Søren", "soren")]
    [InlineData("Åsa Ängström", "asa angstrom")]
    [InlineData("ÆRØ", "aero")]
    [InlineData("Œuvre", "oeuvre")]
    [InlineData("Straße", "strasse")]
    [InlineData("STRAẞE", "strasse")]
    [InlineData("Þórður", "thordur")]
    [InlineData("Guðrún", "gudrun")]
    [InlineData("José Müller", "jose muller")]
    [InlineData("Hélène Lefèvre", "helene lefevre")]
    [InlineData("Ēmīls Ūdris", "emils udris")]
    [InlineData("Çelik Núñez", "celik nunez")]
    [InlineData("Ýr Ÿvonne", "yr yvonne")]
    [InlineData("Íñigo Ìlaria Îsabel Ïda", "inigo ilaria isabel ida")]
    [InlineData("Ãna Ōno Õnne Ôtto Òscar Óli", "ana ono onne otto oscar oli")]
    [InlineData("Dvořák Łukasz Đorđe", "dvorak lukasz dorde")]
    [InlineData("  Anna   Maria\t\nKarlsson  ", "anna maria karlsson")]
    [InlineData("O\u0308stro\u0308m", "ostrom")] // decomposed input
    [InlineData("Lindqvist", "lindqvist")]
    [InlineData("", "")]
    [InlineData("   ", "")]
    [InlineData("李小龍", "李小龍")]
    public void Folds(string input, string expected)
    {
        Assert.Equal(expected, TextFolding.Fold(input));
    }

    [Fact]
    public void NullFoldsToEmpty()
    {
        Assert.Equal(string.Empty, TextFolding.Fold(null));
    }

    [Fact]
    public void LoneSurrogatesDoNotThrow()
    {
        Assert.Equal("a\uFFFDb", TextFolding.Fold("A\uD800b"));
    }

    [Theory]
    [InlineData("Öström", "ostrom")]
    [InlineData("Søren", "soren")]
    [InlineData("Søren Kierkegaard", "soren k")]
    [InlineData("Ängelholm", "ang")]
    public void FoldedPrefixesMatch(string name, string query)
    {
        string folded = TextFolding.Fold(name);
        string prefix = TextFolding.Fold(query);
        Assert.StartsWith(prefix, folded, StringComparison.Ordinal);
        string? upper = TextFolding.UpperBound(prefix);
        Assert.NotNull(upper);
        Assert.True(string.CompareOrdinal(folded, prefix) >= 0);
        Assert.True(string.CompareOrdinal(folded, upper) < 0);
    }

    [Theory]
    [InlineData("abc", "abd")]
    [InlineData("a", "b")]
    [InlineData("az", "a{")]
    [InlineData("ab\uFFFF", "ac")]
    [InlineData("a\uFFFF\uFFFF", "b")]
    public void UpperBound(string prefix, string expected)
    {
        Assert.Equal(expected, TextFolding.UpperBound(prefix));
    }

    [Theory]
    [InlineData("")]
    [InlineData("\uFFFF")]
    [InlineData("\uFFFF\uFFFF")]
    public void UpperBoundIsNullWhenThereIsNone(string prefix)
    {
        Assert.Null(TextFolding.UpperBound(prefix));
    }

    [Fact]
    public void UpperBoundSeparatesPrefixedFromOtherStrings()
    {
        string prefix = "ost";
        string upper = TextFolding.UpperBound(prefix)!;
        string[] inside = ["ost", "ostrom", "ost\uFFFF", "ostz"];
        string[] outside = ["osu", "os", "osta"[..2], "p", "osu\u0000"];
        foreach (string s in inside)
        {
            Assert.True(string.CompareOrdinal(s, prefix) >= 0 && string.CompareOrdinal(s, upper) < 0, s);
        }

        foreach (string s in outside)
        {
            Assert.False(string.CompareOrdinal(s, prefix) >= 0 && string.CompareOrdinal(s, upper) < 0, s);
        }
    }
}
