using System.Buffers;
using System.Buffers.Text;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Microsoft.Net.Http.Headers;
using Vardbro.Connectors;
using Vardbro.Server.Api;

namespace Vardbro.Server.Features.Documents;

/// <summary>
/// The upload body of <c>POST …/documents</c> (API.md §5): <c>content</c> already decoded from base64.
/// The strings are as sent (not trimmed); a field the reader returns is never absent, null or blank.
/// </summary>
public sealed record DocumentUploadBody(byte[] Content, string? Format, string? Title, string? Type, string? CreatedById);

/// <summary>
/// Reads a document upload without model binding. A 25 MiB document is ~35 MB of base64; bound as a
/// .NET string (UTF-16, plus the binder's buffers, plus <c>Convert.FromBase64String</c>) it would cost
/// several times that. Here the body is read into one byte array, parsed with <see cref="Utf8JsonReader"/>
/// in place, and <c>content</c> is decoded from that array straight into an array of the exact decoded
/// size: peak memory is the body plus the document.
/// </summary>
public static class DocumentUploadReader
{
    /// <summary>Room for the other fields, the field names and the JSON punctuation.</summary>
    public const long JsonOverheadBytes = 64 * 1024;

    private const int FirstChunkedCapacity = 64 * 1024;
    private const int LongestFieldName = 96; // "created_by_id" written entirely as \u escapes is 78

    private const string ContentField = "content";
    private const string FormatField = "format";
    private const string TitleField = "title";
    private const string TypeField = "type";
    private const string CreatedByIdField = "created_by_id";

    private enum Field
    {
        Unknown,
        Content,
        Format,
        Title,
        Type,
        CreatedById,
    }

    /// <summary>
    /// The largest request body that can carry a document of <paramref name="maxDecodedBytes"/>: its
    /// base64 length, a quarter more for what JSON encoders legitimately add inside the string
    /// (System.Text.Json's default encoder writes each <c>+</c> as <c>\u002B</c>, PHP each <c>/</c> as
    /// <c>\/</c>, MIME-style encoders an escaped line break every 76 characters: together about a
    /// fifth), and <see cref="JsonOverheadBytes"/>. Never more than one byte array can hold. Give it to
    /// the endpoint's request size limit.
    /// </summary>
    public static long MaxBodyBytes(long maxDecodedBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxDecodedBytes);
        var base64 = ((Int128)maxDecodedBytes + 2) / 3 * 4;
        var total = base64 + (base64 / 4) + JsonOverheadBytes;
        return total >= Array.MaxLength ? Array.MaxLength - 1 : (long)total;
    }

    /// <summary>
    /// Reads and checks the body: JSON (else 415), at most <see cref="MaxBodyBytes"/> (else 413, before
    /// reading when <c>Content-Length</c> says so), an object with the five string fields, <c>content</c>
    /// base64 (line breaks tolerated, padding optional) decoding to at most
    /// <paramref name="maxDecodedBytes"/> (else 413). Every field problem is reported in one
    /// <see cref="VardbroException"/>.
    /// </summary>
    public static async Task<DocumentUploadBody> ReadAsync(HttpRequest request, long maxDecodedBytes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentOutOfRangeException.ThrowIfNegative(maxDecodedBytes);
        if (!IsUtf8Json(request.ContentType))
        {
            throw new UnsupportedMediaTypeException();
        }

        var maxBody = MaxBodyBytes(maxDecodedBytes);
        var expected = request.ContentLength ?? SeekableRemaining(request.Body);
        if (expected > maxBody)
        {
            throw BodyTooLarge(maxDecodedBytes);
        }

        var (buffer, count) = await ReadBodyAsync(request.Body, expected, (int)maxBody, maxDecodedBytes, cancellationToken);
        return Parse(buffer, count, maxDecodedBytes);
    }

    private static bool IsUtf8Json(string? contentType)
    {
        if (!MediaTypeHeaderValue.TryParse(contentType, out var media)
            || !media.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        var charset = media.Charset;
        return !charset.HasValue
            || charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase)
            || charset.Equals("utf8", StringComparison.OrdinalIgnoreCase);
    }

    private static long? SeekableRemaining(Stream body)
    {
        try
        {
            return body.CanSeek ? Math.Max(0, body.Length - body.Position) : null;
        }
        catch (NotSupportedException)
        {
            return null;
        }
    }

    /// <summary>
    /// The whole body in one array of the expected size (exact when <c>Content-Length</c> is known);
    /// without one it grows by doubling, never beyond <paramref name="limit"/> + 1 bytes.
    /// </summary>
    private static async Task<(byte[] Buffer, int Count)> ReadBodyAsync(Stream body, long? expected, int limit, long maxDecodedBytes, CancellationToken cancellationToken)
    {
        var buffer = GC.AllocateUninitializedArray<byte>(expected is { } size ? (int)size : Math.Min(FirstChunkedCapacity, limit + 1));
        byte[]? probe = null;
        var count = 0;
        while (true)
        {
            if (count == buffer.Length)
            {
                // Full: read one byte to learn whether the body goes on before growing for it.
                probe ??= new byte[1];
                if (await body.ReadAsync(probe, cancellationToken) == 0)
                {
                    break;
                }

                if (count + 1 > limit)
                {
                    throw BodyTooLarge(maxDecodedBytes);
                }

                var grown = GC.AllocateUninitializedArray<byte>((int)Math.Min(Math.Max(2L * buffer.Length, 4096), limit + 1L));
                buffer.AsSpan(0, count).CopyTo(grown);
                buffer = grown;
                buffer[count++] = probe[0];
                continue;
            }

            var read = await body.ReadAsync(buffer.AsMemory(count), cancellationToken);
            if (read == 0)
            {
                break;
            }

            count += read;
            if (count > limit)
            {
                throw BodyTooLarge(maxDecodedBytes);
            }
        }

        return (buffer, count);
    }

    private static DocumentUploadBody Parse(byte[] buffer, int count, long maxDecodedBytes)
    {
        var json = buffer.AsSpan(0, count);
        if (json.StartsWith(Encoding.UTF8.Preamble))
        {
            json = json[Encoding.UTF8.Preamble.Length..];
        }

        if (json.TrimStart(" \t\r\n"u8).IsEmpty)
        {
            throw new VardbroException(ErrorCodes.MissingRequiredField, "The request needs a JSON body.", "body");
        }

        var errors = new List<ApiError>();
        var seen = new HashSet<Field>();
        byte[]? content = null;
        string? format = null, title = null, type = null, createdById = null;
        try
        {
            var reader = new Utf8JsonReader(json);
            if (!reader.Read())
            {
                throw NotJson();
            }

            if (reader.TokenType != JsonTokenType.StartObject)
            {
                throw new VardbroException(ErrorCodes.BadInput, "The request body must be a JSON object.", "body");
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var field = FieldOf(ref reader);
                reader.Read();
                if (field == Field.Unknown)
                {
                    reader.Skip();
                    continue;
                }

                var path = PathOf(field);
                if (!seen.Add(field))
                {
                    errors.Add(new ApiError(ErrorCodes.InvalidField, $"{path} is given more than once.", path));
                    reader.Skip();
                    continue;
                }

                if (reader.TokenType == JsonTokenType.Null)
                {
                    continue;
                }

                if (reader.TokenType != JsonTokenType.String)
                {
                    errors.Add(new ApiError(ErrorCodes.InvalidField, $"{path} must be a string.", path));
                    reader.Skip();
                    continue;
                }

                switch (field)
                {
                    case Field.Content when reader.ValueSpan.IsEmpty:
                        errors.Add(ContentRequired());
                        break;
                    case Field.Content:
                        // The reader is past the string; its bytes in our own buffer are free to reuse.
                        if (!buffer.AsSpan().Overlaps(reader.ValueSpan, out var offset))
                        {
                            throw new UnreachableException("The JSON reader reads the body buffer.");
                        }

                        content = DecodeBase64InPlace(buffer.AsSpan(offset, reader.ValueSpan.Length), maxDecodedBytes, errors);
                        break;
                    case Field.Format:
                        format = NonBlank(reader.GetString());
                        break;
                    case Field.Title:
                        title = NonBlank(reader.GetString());
                        break;
                    case Field.Type:
                        type = NonBlank(reader.GetString());
                        break;
                    case Field.CreatedById:
                        createdById = NonBlank(reader.GetString());
                        break;
                }
            }

            // Past the root object only whitespace may follow; the reader throws on anything else.
            reader.Read();
        }
        catch (JsonException)
        {
            throw NotJson();
        }
        catch (InvalidOperationException)
        {
            // A string that is not valid UTF-8 surfaces from GetString as this, not as JsonException.
            throw NotJson();
        }

        if (content is null && !errors.Exists(e => e.Path == ContentField))
        {
            errors.Add(ContentRequired());
        }

        AddIfMissing(format, FormatField, errors);
        AddIfMissing(title, TitleField, errors);
        AddIfMissing(type, TypeField, errors);
        AddIfMissing(createdById, CreatedByIdField, errors);
        if (errors.Count > 0)
        {
            var tooLarge = errors.FindIndex(e => e.ErrorCode == ErrorCodes.PayloadTooLarge);
            if (tooLarge < 0)
            {
                throw new VardbroException(errors);
            }

            // The size decides the status; the other problems still come along.
            var first = errors[tooLarge];
            errors.RemoveAt(tooLarge);
            errors.Insert(0, first);
            throw new VardbroException(errors);
        }

        return new DocumentUploadBody(content!, format, title, type, createdById);
    }

    /// <summary>
    /// Turns the raw bytes of the <c>content</c> string into the base64 characters alone, in place
    /// (unescaping <c>\/</c> and <c>\u00XX</c>, dropping escaped line breaks: no copy of the content is
    /// made), then decodes them into an array of the exact decoded size. Null with an error added when
    /// the text is not base64, is empty, or decodes to more than <paramref name="maxDecodedBytes"/>.
    /// </summary>
    private static byte[]? DecodeBase64InPlace(Span<byte> text, long maxDecodedBytes, List<ApiError> errors)
    {
        var length = 0;
        var padding = 0;
        for (var i = 0; i < text.Length; i++)
        {
            int c = text[i];
            if (c == '\\')
            {
                // The JSON reader has validated the escape: a known letter, or 'u' with four hex digits.
                switch (text[++i])
                {
                    case (byte)'/':
                        c = '/';
                        break;
                    case (byte)'n' or (byte)'r':
                        continue;
                    case (byte)'u':
                        c = (HexValue(text[i + 1]) << 12) | (HexValue(text[i + 2]) << 8) | (HexValue(text[i + 3]) << 4) | HexValue(text[i + 4]);
                        i += 4;
                        if (c is '\n' or '\r')
                        {
                            continue;
                        }

                        break;
                    default:
                        return NotBase64(errors);
                }
            }

            if (c == '=')
            {
                if (++padding > 2)
                {
                    return NotBase64(errors);
                }

                continue;
            }

            if (padding > 0 || !IsBase64Character(c))
            {
                return NotBase64(errors);
            }

            text[length++] = (byte)c;
        }

        var tail = length % 4;
        if (tail == 1 || (padding > 0 && (tail + padding) % 4 != 0) || (length == 0 && padding > 0))
        {
            return NotBase64(errors);
        }

        if (length == 0)
        {
            errors.Add(ContentRequired());
            return null;
        }

        var decodedLength = (length / 4 * 3) + (tail == 0 ? 0 : tail - 1);
        if (decodedLength > maxDecodedBytes)
        {
            errors.Add(ContentTooLarge(maxDecodedBytes));
            return null;
        }

        var decoded = GC.AllocateUninitializedArray<byte>(decodedLength);
        var whole = length - tail;
        if (Base64.DecodeFromUtf8(text[..whole], decoded, out _, out var written) != OperationStatus.Done || written != whole / 4 * 3)
        {
            return NotBase64(errors);
        }

        if (tail > 0)
        {
            Span<byte> quad = [(byte)'=', (byte)'=', (byte)'=', (byte)'='];
            text.Slice(whole, tail).CopyTo(quad);
            Span<byte> last = stackalloc byte[3];
            if (Base64.DecodeFromUtf8(quad, last, out _, out var lastWritten) != OperationStatus.Done || lastWritten != tail - 1)
            {
                return NotBase64(errors);
            }

            last[..lastWritten].CopyTo(decoded.AsSpan(written));
        }

        return decoded;
    }

    private static bool IsBase64Character(int c) =>
        c is (>= 'A' and <= 'Z') or (>= 'a' and <= 'z') or (>= '0' and <= '9') or '+' or '/';

    private static int HexValue(byte c) => c switch
    {
        >= (byte)'0' and <= (byte)'9' => c - '0',
        >= (byte)'a' and <= (byte)'f' => c - 'a' + 10,
        >= (byte)'A' and <= (byte)'F' => c - 'A' + 10,
        _ => throw new JsonException("Invalid \\u escape."),
    };

    private static Field FieldOf(ref Utf8JsonReader reader)
    {
        var raw = reader.HasValueSequence ? reader.ValueSequence.Length : reader.ValueSpan.Length;
        if (raw > LongestFieldName)
        {
            return Field.Unknown;
        }

        // Case-insensitive, as the other endpoints' binding (web defaults) matches property names.
        Span<byte> name = stackalloc byte[LongestFieldName];
        name = name[..reader.CopyString(name)];
        return Ascii.EqualsIgnoreCase(name, "content"u8) ? Field.Content
            : Ascii.EqualsIgnoreCase(name, "format"u8) ? Field.Format
            : Ascii.EqualsIgnoreCase(name, "title"u8) ? Field.Title
            : Ascii.EqualsIgnoreCase(name, "type"u8) ? Field.Type
            : Ascii.EqualsIgnoreCase(name, "created_by_id"u8) ? Field.CreatedById
            : Field.Unknown;
    }

    private static string PathOf(Field field) => field switch
    {
        Field.Content => ContentField,
        Field.Format => FormatField,
        Field.Title => TitleField,
        Field.Type => TypeField,
        Field.CreatedById => CreatedByIdField,
        _ => "body",
    };

    private static string? NonBlank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;

    private static void AddIfMissing(string? value, string path, List<ApiError> errors)
    {
        if (value is null && !errors.Exists(e => e.Path == path))
        {
            errors.Add(Missing(path));
        }
    }

    private static ApiError Missing(string path) => new(ErrorCodes.MissingRequiredField, $"{path} is required.", path);

    private static ApiError ContentRequired() =>
        new(ErrorCodes.MissingRequiredField, "content is required: the document's bytes in base64.", ContentField);

    private static byte[]? NotBase64(List<ApiError> errors)
    {
        errors.Add(new ApiError(ErrorCodes.InvalidField, "content must be base64.", ContentField));
        return null;
    }

    private static ApiError ContentTooLarge(long maxDecodedBytes) =>
        new(ErrorCodes.PayloadTooLarge, $"The document is larger than the {maxDecodedBytes} bytes this server accepts.", ContentField);

    private static VardbroException BodyTooLarge(long maxDecodedBytes) =>
        new([ContentTooLarge(maxDecodedBytes) with { Details = $"The request body is larger than a document of {maxDecodedBytes} bytes needs." }]);

    private static VardbroException NotJson() =>
        new(ErrorCodes.BadInput, "The request body is not valid JSON.", "body");
}
