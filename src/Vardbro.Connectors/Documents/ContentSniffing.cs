using System.Text.Unicode;

namespace Vardbro.Connectors;

/// <summary>
/// The document formats of API.md §5 "Documents", and a check that a document's bytes are what its
/// declared format says they are (<c>INVALID_DOCUMENT_FORMAT</c> otherwise).
/// </summary>
public static class DocumentFormats
{
    public const string Pdf = "application/pdf";
    public const string Png = "image/png";
    public const string Jpeg = "image/jpeg";
    public const string Tiff = "image/tiff";
    public const string PlainText = "text/plain";

    /// <summary>A PDF reader accepts the <c>%PDF-</c> header anywhere within the first 1024 bytes.</summary>
    private const int PdfHeaderWindow = 1024;

    /// <summary>The allowed formats, in their canonical (lower-case, parameterless) spelling.</summary>
    public static IReadOnlyList<string> Allowed { get; } = [Pdf, Png, Jpeg, Tiff, PlainText];

    /// <summary>
    /// Whether <paramref name="format"/> is one of <see cref="Allowed"/>: the media type matches exactly
    /// apart from letter case (no aliases such as <c>image/jpg</c>). Parameters (<c>; charset=utf-8</c>)
    /// are accepted for <c>text/plain</c> only, and ignored: plain text is always checked as UTF-8.
    /// Spaces and tabs around the type and the parameters are tolerated, as in an HTTP header.
    /// </summary>
    public static bool IsAllowed(string? format) => TryNormalize(format, out _);

    /// <summary>
    /// The canonical spelling of an allowed format (<c>Image/PNG</c> → <c>image/png</c>,
    /// <c>text/plain; charset=utf-8</c> → <c>text/plain</c>).
    /// </summary>
    /// <exception cref="ArgumentException">The format is not allowed; check <see cref="IsAllowed"/> first.</exception>
    public static string Normalize(string format)
    {
        ArgumentNullException.ThrowIfNull(format);
        return TryNormalize(format, out var normalized)
            ? normalized
            : throw new ArgumentException("Not an allowed document format: " + string.Join(", ", Allowed) + ".", nameof(format));
    }

    /// <summary>As <see cref="Normalize"/>, without throwing.</summary>
    public static bool TryNormalize(string? format, out string normalized)
    {
        normalized = string.Empty;
        if (format is null)
        {
            return false;
        }

        var text = format.AsSpan().Trim(" \t");
        var semicolon = text.IndexOf(';');
        var type = (semicolon < 0 ? text : text[..semicolon]).TrimEnd(" \t");
        string? canonical = null;
        foreach (var allowed in Allowed)
        {
            if (type.Equals(allowed, StringComparison.OrdinalIgnoreCase))
            {
                canonical = allowed;
                break;
            }
        }

        if (canonical is null)
        {
            return false;
        }

        if (semicolon >= 0 && (!ReferenceEquals(canonical, PlainText) || !WellFormedParameters(text[(semicolon + 1)..])))
        {
            return false;
        }

        normalized = canonical;
        return true;
    }

    /// <summary>
    /// Whether <paramref name="content"/> is a document of the declared <paramref name="format"/>
    /// (any spelling <see cref="IsAllowed"/> accepts). A format that is not allowed, and empty
    /// content, match nothing.
    /// <list type="bullet">
    /// <item><c>application/pdf</c>: <c>%PDF-</c> within the first 1024 bytes.</item>
    /// <item><c>image/png</c>: the 8-byte PNG signature.</item>
    /// <item><c>image/jpeg</c>: <c>FF D8 FF</c>.</item>
    /// <item><c>image/tiff</c>: <c>II*\0</c> or <c>MM\0*</c> (and BigTIFF's <c>II+\0</c> / <c>MM\0+</c>).</item>
    /// <item><c>text/plain</c>: well-formed UTF-8 (a BOM is fine) without NUL bytes.</item>
    /// </list>
    /// </summary>
    public static bool Matches(string? format, ReadOnlySpan<byte> content)
    {
        if (content.IsEmpty || !TryNormalize(format, out var normalized))
        {
            return false;
        }

        return normalized switch
        {
            Pdf => content[..Math.Min(content.Length, PdfHeaderWindow)].IndexOf("%PDF-"u8) >= 0,
            Png => content.StartsWith((ReadOnlySpan<byte>)[0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]),
            Jpeg => content.StartsWith((ReadOnlySpan<byte>)[0xFF, 0xD8, 0xFF]),
            Tiff => content.StartsWith((ReadOnlySpan<byte>)[0x49, 0x49, 0x2A, 0x00])
                || content.StartsWith((ReadOnlySpan<byte>)[0x4D, 0x4D, 0x00, 0x2A])
                || content.StartsWith((ReadOnlySpan<byte>)[0x49, 0x49, 0x2B, 0x00])
                || content.StartsWith((ReadOnlySpan<byte>)[0x4D, 0x4D, 0x00, 0x2B]),
            PlainText => !content.Contains((byte)0) && Utf8.IsValid(content),
            _ => false,
        };
    }

    /// <summary><c>name=value</c> pairs separated by <c>;</c>, each with a non-empty name and value.</summary>
    private static bool WellFormedParameters(ReadOnlySpan<char> parameters)
    {
        foreach (var range in parameters.Split(';'))
        {
            var parameter = parameters[range].Trim(" \t");
            var equals = parameter.IndexOf('=');
            if (equals <= 0 || equals == parameter.Length - 1
                || parameter[..equals].ContainsAny(" \t\"")
                || parameter[equals + 1] is ' ' or '\t')
            {
                return false;
            }
        }

        return true;
    }
}
