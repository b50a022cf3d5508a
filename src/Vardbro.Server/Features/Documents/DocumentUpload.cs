using System.Buffers;
using System.Buffers.Text;
using System.Text;
using System.Text.Json;
using Microsoft.Net.Http.Headers;
using Vardbro.Connectors;
using Vardbro.Server.Api;

namespace Vardbro.Server.Features.Documents;

/// <summary>
/// The upload body of <c>POST …/documents</c> (API.md §5): <c>content</c> already decoded from base64,
/// into a temporary file (<see cref="UploadedDocument"/>; the caller disposes it). The strings are as
/// sent (not trimmed); a field the reader returns is never absent, null or blank.
/// </summary>
public sealed record DocumentUploadBody(UploadedDocument Content, string? Format, string? Title, string? Type, string? CreatedById);

/// <summary>
/// Reads a document upload without model binding and without holding it in memory: the body is read
/// in pieces through <see cref="Utf8JsonReader"/> (its state carried from one piece to the next), and
/// the <c>content</c> string, which can be tens of megabytes, is scanned by hand as it arrives, its
/// base64 decoded a block at a time into an <see cref="UploadedDocument"/> that hashes it on the way.
/// Memory is a few buffers of tens of kilobytes whatever the document's size.
/// </summary>
public static class DocumentUploadReader
{
    /// <summary>Room for the other fields, the field names and the JSON punctuation.</summary>
    public const long JsonOverheadBytes = 64 * 1024;

    private const int FirstBufferBytes = 64 * 1024;
    private const int Base64BlockChars = 64 * 1024; // a multiple of 4: decodes to 48 KiB
    private const int Headroom = 2; // before the unread bytes: where ':"' goes when the content string is replaced
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
    /// <see cref="VardbroException"/>. The temporary file of the content is removed when the reader
    /// throws, or else when the caller disposes <see cref="DocumentUploadBody.Content"/>.
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

        var parser = new Parser(maxDecodedBytes, maxBody);
        try
        {
            await parser.RunAsync(request.Body, cancellationToken);
            return parser.Result();
        }
        catch
        {
            parser.DisposeContent();
            throw;
        }
        finally
        {
            parser.ReturnBuffers();
        }
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

    /// <summary>What a step of the parser needs next.</summary>
    private enum Next
    {
        MoreBytes,
        ContentString,
        Tokens,
        Done,
    }

    private enum Phase
    {
        Start,
        Root,
        Names,
        Value,
        ContentString,
        Trailing,
    }

    /// <summary>The parse of one body, carried across the reads of its pieces.</summary>
    private sealed class Parser(long maxDecodedBytes, long maxBody)
    {
        private readonly List<ApiError> errors = [];
        private readonly HashSet<Field> seen = [];
        private byte[] buffer = ArrayPool<byte>.Shared.Rent(FirstBufferBytes);
        private int start = Headroom;
        private int end = Headroom;
        private long bytesRead;
        private bool final;
        private JsonReaderState state;
        private Phase phase = Phase.Start;
        private Field field;
        private string? format, title, type, createdById;

        // The content string, while it is scanned, and what became of it.
        private bool contentHasColon; // the reader stopped before the ':' (so the "" it gets in place of the content needs one)
        private bool contentReplaced; // the reader is about to see "" in place of the content string
        private bool discarding; // a second content field: scanned for JSON, not decoded
        private bool invalidBase64;
        private int padding;
        private long base64Chars;
        private byte[]? block; // base64 characters waiting to be decoded, then their bytes
        private int blockCount;
        private byte[]? decoded;
        private int decodedCount;
        private UploadedDocument? content;
        private bool contentAccepted;

        public async Task RunAsync(Stream body, CancellationToken cancellationToken)
        {
            while (true)
            {
                var next = phase == Phase.ContentString ? ScanContent() : ParseTokens();
                if (decodedCount > 0)
                {
                    content!.Append(decoded.AsSpan(0, decodedCount));
                    decodedCount = 0;
                }

                switch (next)
                {
                    case Next.Done:
                        return;
                    case Next.MoreBytes when final:
                        throw NotJson(); // a string or token that never ends
                    case Next.MoreBytes:
                        await FillAsync(body, cancellationToken);
                        break;
                }
            }
        }

        private async Task FillAsync(Stream body, CancellationToken cancellationToken)
        {
            if (start > Headroom)
            {
                buffer.AsSpan(start, end - start).CopyTo(buffer.AsSpan(Headroom));
                end -= start - Headroom;
                start = Headroom;
            }

            if (end == buffer.Length)
            {
                // One token (not the content: it is scanned as it comes) longer than the buffer.
                var grown = ArrayPool<byte>.Shared.Rent((int)Math.Min(2L * buffer.Length, maxBody + Headroom + 1));
                buffer.AsSpan(0, end).CopyTo(grown);
                ArrayPool<byte>.Shared.Return(buffer);
                buffer = grown;
            }

            // Never more than one byte past the limit is read.
            var room = (int)Math.Min(buffer.Length - end, maxBody + 1 - bytesRead);
            var read = await body.ReadAsync(buffer.AsMemory(end, room), cancellationToken);
            if (read == 0)
            {
                final = true;
                return;
            }

            end += read;
            bytesRead += read;
            if (bytesRead > maxBody)
            {
                throw BodyTooLarge(maxDecodedBytes);
            }
        }

        /// <summary>Reads tokens until the buffer runs out, the content string begins, or the body ends.</summary>
        private Next ParseTokens()
        {
            if (phase == Phase.Start)
            {
                var unread = buffer.AsSpan(start, end - start);
                if (unread.Length < Encoding.UTF8.Preamble.Length && !final)
                {
                    return Next.MoreBytes;
                }

                if (unread.StartsWith(Encoding.UTF8.Preamble))
                {
                    start += Encoding.UTF8.Preamble.Length;
                }

                phase = Phase.Root;
            }

            if (phase == Phase.Root && final && buffer.AsSpan(start, end - start).TrimStart(" \t\r\n"u8).IsEmpty)
            {
                throw new VardbroException(ErrorCodes.MissingRequiredField, "The request needs a JSON body.", "body");
            }

            var reader = new Utf8JsonReader(buffer.AsSpan(start, end - start), final, state);
            try
            {
                var next = Parse(ref reader);
                if (next != Next.ContentString)
                {
                    start += (int)reader.BytesConsumed;
                    state = reader.CurrentState;
                }

                return next;
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
        }

        private Next Parse(ref Utf8JsonReader reader)
        {
            while (true)
            {
                switch (phase)
                {
                    case Phase.Root:
                        if (!reader.Read())
                        {
                            return Next.MoreBytes;
                        }

                        if (reader.TokenType != JsonTokenType.StartObject)
                        {
                            throw new VardbroException(ErrorCodes.BadInput, "The request body must be a JSON object.", "body");
                        }

                        phase = Phase.Names;
                        break;

                    case Phase.Names:
                        if (!reader.Read())
                        {
                            return Next.MoreBytes;
                        }

                        if (reader.TokenType != JsonTokenType.PropertyName)
                        {
                            phase = Phase.Trailing; // the root object's end
                            break;
                        }

                        field = FieldOf(ref reader);
                        phase = Phase.Value;
                        break;

                    case Phase.Value:
                        if (field == Field.Content && !contentReplaced)
                        {
                            // A string value is not left to the reader, which would need all of it at once.
                            var at = start + (int)reader.BytesConsumed;
                            var colon = false;
                            while (at < end && buffer[at] is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n' or (byte)':')
                            {
                                colon |= buffer[at] == ':';
                                at++;
                            }

                            if (at == end && !final)
                            {
                                return Next.MoreBytes;
                            }

                            if (at < end && buffer[at] == '"')
                            {
                                BeginContent();
                                state = reader.CurrentState; // after the property name: the reader resumes there
                                contentHasColon = colon;
                                start = at + 1;
                                phase = Phase.ContentString;
                                return Next.ContentString;
                            }
                        }

                        var checkpoint = reader;
                        if (!reader.Read() || (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray && !reader.TrySkip()))
                        {
                            reader = checkpoint;
                            return Next.MoreBytes;
                        }

                        Value(ref reader);
                        phase = Phase.Names;
                        break;

                    case Phase.Trailing:
                        // Past the root object only whitespace may follow; the reader throws on anything else.
                        if (reader.Read() || !final)
                        {
                            return final ? throw NotJson() : Next.MoreBytes;
                        }

                        return Next.Done;
                }
            }
        }

        private void Value(ref Utf8JsonReader reader)
        {
            var replaced = field == Field.Content && contentReplaced;
            contentReplaced = false;
            if (field == Field.Unknown)
            {
                return; // skipped whole above
            }

            var path = PathOf(field);
            if (!seen.Add(field))
            {
                errors.Add(new ApiError(ErrorCodes.InvalidField, $"{path} is given more than once.", path));
                return;
            }

            if (replaced)
            {
                return; // the content string, already decoded (or refused) by EndContent
            }

            if (reader.TokenType == JsonTokenType.Null)
            {
                return;
            }

            if (reader.TokenType != JsonTokenType.String)
            {
                errors.Add(new ApiError(ErrorCodes.InvalidField, $"{path} must be a string.", path));
                return;
            }

            switch (field)
            {
                case Field.Content:
                    throw new System.Diagnostics.UnreachableException("A content string is always scanned by ScanContent.");
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

        private void BeginContent()
        {
            discarding = seen.Contains(Field.Content);
            invalidBase64 = false;
            padding = 0;
            base64Chars = 0;
            blockCount = 0;
            if (!discarding)
            {
                block = ArrayPool<byte>.Shared.Rent(Base64BlockChars);
                decoded = ArrayPool<byte>.Shared.Rent(Base64BlockChars / 4 * 3);
                content = UploadedDocument.Create();
            }
        }

        /// <summary>
        /// The raw bytes of the content string as they arrive: JSON escapes undone (<c>\/</c>,
        /// <c>\u00XX</c>; escaped line breaks dropped), the characters checked and decoded a block at a
        /// time. At the closing quote the string is replaced by <c>""</c> for the reader to go on.
        /// </summary>
        private Next ScanContent()
        {
            var i = start;
            try
            {
                while (i < end)
                {
                    int c = buffer[i];
                    if (c == '"')
                    {
                        EndContent();

                        // The reader resumes where it stopped, after the property name: give it an empty string.
                        buffer[i - 1] = (byte)'"';
                        start = i - 1;
                        if (contentHasColon)
                        {
                            buffer[i - 2] = (byte)':';
                            start = i - 2;
                        }

                        contentReplaced = true;
                        phase = Phase.Value;
                        return Next.Tokens;
                    }

                    if (c < 0x20)
                    {
                        throw NotJson(); // a raw control character inside a string
                    }

                    if (c != '\\')
                    {
                        i++;
                        Add(c);
                    }
                    else
                    {
                        if (end - i < 2 || (buffer[i + 1] == 'u' && end - i < 6))
                        {
                            break; // the escape goes on in the next piece
                        }

                        switch (buffer[i + 1])
                        {
                            case (byte)'/':
                                i += 2;
                                Add('/');
                                break;
                            case (byte)'n' or (byte)'r':
                                i += 2;
                                break;
                            case (byte)'u':
                                c = (HexValue(buffer[i + 2]) << 12) | (HexValue(buffer[i + 3]) << 8) | (HexValue(buffer[i + 4]) << 4) | HexValue(buffer[i + 5]);
                                i += 6;
                                if (c is not ('\n' or '\r'))
                                {
                                    Add(c);
                                }

                                break;
                            case (byte)'"' or (byte)'\\' or (byte)'b' or (byte)'f' or (byte)'t':
                                i += 2;
                                Add(-1); // valid JSON, not base64
                                break;
                            default:
                                throw NotJson();
                        }
                    }

                    if (decodedCount > 0)
                    {
                        start = i;
                        return Next.ContentString; // the block's bytes go to the file first
                    }
                }
            }
            catch (JsonException)
            {
                throw NotJson(); // a \u escape without four hex digits
            }

            start = i;
            return Next.MoreBytes;
        }

        private void Add(int c)
        {
            if (invalidBase64)
            {
                return;
            }

            if (c == '=')
            {
                invalidBase64 = ++padding > 2;
                return;
            }

            if (padding > 0 || !IsBase64Character(c))
            {
                invalidBase64 = true;
                return;
            }

            base64Chars++;
            if (discarding)
            {
                return;
            }

            block![blockCount++] = (byte)c;
            if (blockCount == Base64BlockChars)
            {
                DecodeBlock();
            }
        }

        /// <summary>Decodes the whole quartets waiting in the block into <see cref="decoded"/>, unless the document is already too large.</summary>
        private void DecodeBlock()
        {
            var whole = blockCount - (blockCount % 4);
            var decodedBefore = (base64Chars - blockCount) / 4 * 3;
            if (decodedBefore + (whole / 4 * 3) <= maxDecodedBytes)
            {
                if (Base64.DecodeFromUtf8(block.AsSpan(0, whole), decoded, out _, out var written) != OperationStatus.Done || written != whole / 4 * 3)
                {
                    invalidBase64 = true;
                }

                decodedCount = written;
            }

            block.AsSpan(whole, blockCount - whole).CopyTo(block);
            blockCount -= whole;
        }

        /// <summary>At the content string's closing quote: the last block, the checks of the whole, the error if any.</summary>
        private void EndContent()
        {
            if (discarding)
            {
                return;
            }

            var tail = (int)(base64Chars % 4);
            if (!invalidBase64 && (tail == 1 || (padding > 0 && (tail + padding) % 4 != 0) || (base64Chars == 0 && padding > 0)))
            {
                invalidBase64 = true;
            }

            var decodedLength = (base64Chars / 4 * 3) + (tail == 0 ? 0 : tail - 1);
            if (!invalidBase64 && base64Chars > 0 && decodedLength <= maxDecodedBytes)
            {
                DecodeBlock();
                if (decodedCount > 0)
                {
                    content!.Append(decoded.AsSpan(0, decodedCount));
                    decodedCount = 0;
                }

                if (tail > 0)
                {
                    Span<byte> quad = [(byte)'=', (byte)'=', (byte)'=', (byte)'='];
                    block.AsSpan(0, tail).CopyTo(quad);
                    Span<byte> last = stackalloc byte[3];
                    if (Base64.DecodeFromUtf8(quad, last, out _, out var lastWritten) != OperationStatus.Done || lastWritten != tail - 1)
                    {
                        invalidBase64 = true;
                    }
                    else
                    {
                        content!.Append(last[..lastWritten]);
                    }
                }
            }

            if (invalidBase64)
            {
                errors.Add(new ApiError(ErrorCodes.InvalidField, "content must be base64.", ContentField));
            }
            else if (base64Chars == 0)
            {
                errors.Add(ContentRequired());
            }
            else if (decodedLength > maxDecodedBytes)
            {
                errors.Add(ContentTooLarge(maxDecodedBytes));
            }
            else
            {
                content!.Complete();
                contentAccepted = true;
            }

            if (!contentAccepted)
            {
                DisposeContent();
            }

            ArrayPool<byte>.Shared.Return(block!);
            ArrayPool<byte>.Shared.Return(decoded!);
            block = decoded = null;
        }

        public DocumentUploadBody Result()
        {
            if (!contentAccepted && !errors.Exists(e => e.Path == ContentField))
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

        public void DisposeContent()
        {
            content?.Dispose();
            content = null;
            contentAccepted = false;
        }

        public void ReturnBuffers()
        {
            ArrayPool<byte>.Shared.Return(buffer);
            buffer = [];
            if (block is not null)
            {
                ArrayPool<byte>.Shared.Return(block);
            }

            if (decoded is not null)
            {
                ArrayPool<byte>.Shared.Return(decoded);
            }

            block = decoded = null;
        }
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

    private static ApiError ContentTooLarge(long maxDecodedBytes) =>
        new(ErrorCodes.PayloadTooLarge, $"The document is larger than the {maxDecodedBytes} bytes this server accepts.", ContentField);

    private static VardbroException BodyTooLarge(long maxDecodedBytes) =>
        new([ContentTooLarge(maxDecodedBytes) with { Details = $"The request body is larger than a document of {maxDecodedBytes} bytes needs." }]);

    private static VardbroException NotJson() =>
        new(ErrorCodes.BadInput, "The request body is not valid JSON.", "body");
}
