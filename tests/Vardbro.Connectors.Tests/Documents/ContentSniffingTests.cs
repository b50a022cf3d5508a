using System.Text;

namespace Vardbro.Connectors.Tests.Documents;

public class ContentSniffingTests
{
    // Real minimal headers of each format.
    private static readonly byte[] PdfBytes = Encoding.Latin1.GetBytes("%PDF-1.7\n%\u00e2\u00e3\u00cf\u00d3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n%%EOF\n");
    private static readonly byte[] PngBytes = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00];
    private static readonly byte[] JpegBytes = [0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 0x4A, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0xFF, 0xD9];
    private static readonly byte[] TiffLittleEndian = [0x49, 0x49, 0x2A, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00];
    private static readonly byte[] TiffBigEndian = [0x4D, 0x4D, 0x00, 0x2A, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00];
    private static readonly byte[] BigTiffLittleEndian = [0x49, 0x49, 0x2B, 0x00, 0x08, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00];
    private static readonly byte[] BigTiffBigEndian = [0x4D, 0x4D, 0x00, 0x2B, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10];
    private static readonly byte[] TextBytes = Encoding.UTF8.GetBytes("Remiss: Åsa Öström, 1 tablett × 3 dagligen.\r\n");

    public static TheoryData<string, byte[]> Genuine => new()
    {
        { "application/pdf", PdfBytes },
        { "image/png", PngBytes },
        { "image/jpeg", JpegBytes },
        { "image/tiff", TiffLittleEndian },
        { "image/tiff", TiffBigEndian },
        { "image/tiff", BigTiffLittleEndian },
        { "image/tiff", BigTiffBigEndian },
        { "text/plain", TextBytes },
        { "text/plain; charset=utf-8", TextBytes },
        { "Application/PDF", PdfBytes },
        { "IMAGE/PNG", PngBytes },
    };

    [Theory]
    [MemberData(nameof(Genuine))]
    public void GenuineDocumentsMatchTheirFormat(string format, byte[] content)
    {
        Assert.True(DocumentFormats.Matches(format, content));
    }

    public static TheoryData<string, byte[]> Mismatched => new()
    {
        { "application/pdf", PngBytes },
        { "application/pdf", JpegBytes },
        { "image/png", PdfBytes },
        { "image/png", JpegBytes },
        { "image/jpeg", PngBytes },
        { "image/jpeg", TiffLittleEndian },
        { "image/tiff", PngBytes },
        { "image/tiff", PdfBytes },
        { "text/plain", PdfBytes }, // the binary comment line is not UTF-8
        { "text/plain", PngBytes }, // 0x89 is not UTF-8 on its own, and PNG has NULs
        { "text/plain", JpegBytes },
        { "text/plain", TiffLittleEndian },
    };

    [Theory]
    [MemberData(nameof(Mismatched))]
    public void BytesOfAnotherFormatDoNotMatch(string format, byte[] content)
    {
        Assert.False(DocumentFormats.Matches(format, content));
    }

    [Fact]
    public void PdfIsTextToo()
    {
        // A PDF whose bytes happen to be valid UTF-8 may be declared text/plain: it is text.
        Assert.True(DocumentFormats.Matches("text/plain", Encoding.ASCII.GetBytes("%PDF-1.4\n")));
    }

    [Fact]
    public void PdfHeaderWithinTheFirst1024BytesIsAccepted()
    {
        var leading = new byte[1024 - 5];
        Array.Fill(leading, (byte)' ');
        Assert.True(DocumentFormats.Matches("application/pdf", [.. Encoding.UTF8.Preamble, .. "%PDF-1.7"u8]));
        Assert.True(DocumentFormats.Matches("application/pdf", [.. leading, .. "%PDF-1.7"u8]));
        Assert.False(DocumentFormats.Matches("application/pdf", [.. leading, (byte)' ', .. "%PDF-1.7"u8]));
        Assert.False(DocumentFormats.Matches("application/pdf", "%PDF"u8));
        Assert.False(DocumentFormats.Matches("application/pdf", "%!PS-Adobe-3.0"u8));
    }

    [Fact]
    public void TruncatedSignaturesDoNotMatch()
    {
        Assert.False(DocumentFormats.Matches("image/png", PngBytes.AsSpan(0, 7)));
        Assert.False(DocumentFormats.Matches("image/jpeg", JpegBytes.AsSpan(0, 2)));
        Assert.False(DocumentFormats.Matches("image/tiff", TiffLittleEndian.AsSpan(0, 3)));
        Assert.False(DocumentFormats.Matches("image/tiff", [0x49, 0x49, 0x00, 0x2A])); // byte order and magic disagree
        Assert.False(DocumentFormats.Matches("image/png", [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0B]));
    }

    [Theory]
    [InlineData(new byte[] { 0x48, 0x69, 0x00, 0x21 })] // NUL
    [InlineData(new byte[] { 0x00 })]
    [InlineData(new byte[] { 0x48, 0xC3 })] // truncated sequence
    [InlineData(new byte[] { 0xC3, 0x28 })] // bad continuation
    [InlineData(new byte[] { 0xC0, 0xAF })] // overlong '/'
    [InlineData(new byte[] { 0xED, 0xA0, 0x80 })] // UTF-16 surrogate encoded (CESU-8)
    [InlineData(new byte[] { 0xF4, 0x90, 0x80, 0x80 })] // beyond U+10FFFF
    [InlineData(new byte[] { 0x41, 0xE5, 0x42 })] // Latin-1 'å', not UTF-8
    [InlineData(new byte[] { 0xFF, 0xFE, 0x41, 0x00 })] // UTF-16 with BOM
    public void TextMustBeUtf8WithoutNul(byte[] content)
    {
        Assert.False(DocumentFormats.Matches("text/plain", content));
    }

    [Fact]
    public void TextWithUtf8BomAndEmojiMatches()
    {
        Assert.True(DocumentFormats.Matches("text/plain", [.. Encoding.UTF8.Preamble, .. "Mår bra 👍"u8]));
    }

    [Theory]
    [InlineData("application/pdf")]
    [InlineData("image/png")]
    [InlineData("image/jpeg")]
    [InlineData("image/tiff")]
    [InlineData("text/plain")]
    public void EmptyContentMatchesNothing(string format)
    {
        Assert.False(DocumentFormats.Matches(format, ReadOnlySpan<byte>.Empty));
        Assert.False(DocumentFormats.Matches(format, []));
    }

    [Theory]
    [InlineData("application/msword")]
    [InlineData("image/jpg")]
    [InlineData("image/gif")]
    [InlineData("text/html")]
    [InlineData("application/octet-stream")]
    [InlineData("")]
    [InlineData(null)]
    public void FormatsThatAreNotAllowedMatchNothing(string? format)
    {
        Assert.False(DocumentFormats.Matches(format, PdfBytes));
        Assert.False(DocumentFormats.Matches(format, TextBytes));
    }

    [Fact]
    public void AllowedListIsTheFiveFormatsOfTheContract()
    {
        Assert.Equal(["application/pdf", "image/png", "image/jpeg", "image/tiff", "text/plain"], DocumentFormats.Allowed);
        Assert.All(DocumentFormats.Allowed, f => Assert.True(DocumentFormats.IsAllowed(f)));
    }

    [Theory]
    [InlineData("application/pdf", "application/pdf")]
    [InlineData("APPLICATION/PDF", "application/pdf")]
    [InlineData("Image/Png", "image/png")]
    [InlineData("image/JPEG", "image/jpeg")]
    [InlineData("image/tiff", "image/tiff")]
    [InlineData("text/plain", "text/plain")]
    [InlineData("Text/Plain; charset=utf-8", "text/plain")]
    [InlineData("text/plain;charset=UTF-8", "text/plain")]
    [InlineData("text/plain ; charset=utf-8; format=flowed", "text/plain")]
    [InlineData("text/plain; charset=\"utf-8\"", "text/plain")]
    [InlineData(" image/png ", "image/png")]
    public void NormalizesAllowedSpellings(string format, string expected)
    {
        Assert.True(DocumentFormats.IsAllowed(format));
        Assert.Equal(expected, DocumentFormats.Normalize(format));
        Assert.True(DocumentFormats.TryNormalize(format, out var normalized));
        Assert.Equal(expected, normalized);
    }

    [Theory]
    [InlineData("image/jpg")]
    [InlineData("image/pjpeg")]
    [InlineData("image/tif")]
    [InlineData("application/x-pdf")]
    [InlineData("application/pdf; version=1.7")] // parameters only for text/plain
    [InlineData("image/png; charset=utf-8")]
    [InlineData("text/plain;")]
    [InlineData("text/plain; charset")]
    [InlineData("text/plain; charset=")]
    [InlineData("text/plain; =utf-8")]
    [InlineData("text/plain; charset =utf-8")]
    [InlineData("text/plainx")]
    [InlineData("text/plain text")]
    [InlineData("image/png,image/jpeg")]
    [InlineData("text/*")]
    [InlineData("*/*")]
    [InlineData("text")]
    [InlineData("")]
    [InlineData("   ")]
    public void RejectsOtherSpellings(string format)
    {
        Assert.False(DocumentFormats.IsAllowed(format));
        Assert.False(DocumentFormats.TryNormalize(format, out _));
        Assert.Throws<ArgumentException>(() => DocumentFormats.Normalize(format));
    }

    [Fact]
    public void NormalizeRejectsNull()
    {
        Assert.Throws<ArgumentNullException>(() => DocumentFormats.Normalize(null!));
        Assert.False(DocumentFormats.IsAllowed(null));
    }
}
