using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Vardbro.Connectors;
using Vardbro.Server.Api;
using Vardbro.Server.Features.Documents;
using Xunit.Abstractions;

namespace Vardbro.Server.Tests.Documents;

public class DocumentUploadReaderTests(ITestOutputHelper output)
{
    private const long TwentyFiveMiB = 25L * 1024 * 1024;
    private static readonly byte[] Pdf = Encoding.Latin1.GetBytes("%PDF-1.7\n%\u00e2\u00e3\u00cf\u00d3\n1 0 obj <<>> endobj\n%%EOF\n");

    // ---- the happy path ----------------------------------------------------------------------

    [Fact]
    public async Task ValidUploadRoundTrips()
    {
        var body = Json(Convert.ToBase64String(Pdf), "application/pdf", "Remiss", "referral", "res-1");

        var upload = await ReadAsync(Request(body));

        Assert.Equal(Pdf, upload.Content);
        Assert.Equal("application/pdf", upload.Format);
        Assert.Equal("Remiss", upload.Title);
        Assert.Equal("referral", upload.Type);
        Assert.Equal("res-1", upload.CreatedById);
    }

    [Fact]
    public async Task FiveMegabyteRandomPayloadRoundTripsExactly()
    {
        var payload = RandomBytes(5 * 1000 * 1000, seed: 5);
        var body = Json(Convert.ToBase64String(payload));

        var upload = await ReadAsync(Request(body));

        Assert.True(payload.AsSpan().SequenceEqual(upload.Content));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(6)]
    public async Task EveryLengthRemainderRoundTripsWithAndWithoutPadding(int length)
    {
        var payload = RandomBytes(length, seed: length);
        var padded = Convert.ToBase64String(payload);

        Assert.Equal(payload, (await ReadAsync(Request(Json(padded)))).Content);
        Assert.Equal(payload, (await ReadAsync(Request(Json(padded.TrimEnd('='))))).Content);
    }

    [Fact]
    public async Task EscapedSlashesAreUnescaped()
    {
        var payload = RandomBytes(10_000, seed: 7);
        var base64 = Convert.ToBase64String(payload);
        Assert.Contains('/', base64);
        var body = Json(base64.Replace("/", "\\/", StringComparison.Ordinal), raw: true);

        var upload = await ReadAsync(Request(body));

        Assert.Equal(payload, upload.Content);
    }

    [Fact]
    public async Task SystemTextJsonClientsWithTheDefaultEncoderRoundTrip()
    {
        // JsonSerializer's default encoder writes '+' as \u002B: what a .NET client sends for a string.
        var payload = RandomBytes(10_000, seed: 8);
        var body = JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, string>
        {
            ["content"] = Convert.ToBase64String(payload),
            ["format"] = "application/pdf",
            ["title"] = "Remiss",
            ["type"] = "referral",
            ["created_by_id"] = "res-1",
        });
        Assert.Contains("\\u002B", Encoding.UTF8.GetString(body), StringComparison.Ordinal);

        Assert.Equal(payload, (await ReadAsync(Request(body))).Content);
    }

    [Fact]
    public async Task SystemTextJsonByteArraysRoundTrip()
    {
        var payload = RandomBytes(10_000, seed: 9);
        var body = JsonSerializer.SerializeToUtf8Bytes(new { content = payload, format = "image/png", title = "t", type = "x", created_by_id = "r" });

        Assert.Equal(payload, (await ReadAsync(Request(body))).Content);
    }

    [Theory]
    [InlineData("\\r\\n")]
    [InlineData("\\n")]
    [InlineData("\\u000D\\u000A")]
    public async Task LineBreaksInsideTheBase64AreDropped(string lineBreak)
    {
        var payload = RandomBytes(10_000, seed: 10);
        var mime = Convert.ToBase64String(payload, Base64FormattingOptions.InsertLineBreaks);
        Assert.Contains("\r\n", mime, StringComparison.Ordinal);
        var body = Json(mime.Replace("\r\n", lineBreak, StringComparison.Ordinal) + lineBreak, raw: true);

        Assert.Equal(payload, (await ReadAsync(Request(body))).Content);
    }

    [Fact]
    public async Task EscapedBodyNearTheDecodedLimitIsNotRefusedForItsEscapes()
    {
        // 3 MiB with '+' as \u002B, '/' as \/ and an escaped CRLF every 76 characters: ~20 % more
        // body than plain base64, well over the 64 KiB of JSON overhead; the document itself is allowed.
        var payload = RandomBytes(3 * 1024 * 1024, seed: 11);
        var escaped = Convert.ToBase64String(payload, Base64FormattingOptions.InsertLineBreaks)
            .Replace("+", "\\u002B", StringComparison.Ordinal)
            .Replace("/", "\\/", StringComparison.Ordinal)
            .Replace("\r\n", "\\r\\n", StringComparison.Ordinal);
        var body = Json(escaped, raw: true);
        Assert.True(body.Length > ((payload.Length + 2) / 3 * 4) + DocumentUploadReader.JsonOverheadBytes);

        var upload = await ReadAsync(Request(body), payload.Length);

        Assert.True(payload.AsSpan().SequenceEqual(upload.Content));
    }

    [Fact]
    public async Task UnknownFieldsAreSkippedAndNamesMatchAsTheOtherEndpointsDo()
    {
        var body = Utf8("""
            {"patient": {"nested": [1, {"content": "not this"}]}, "Content": "SGVq", "FORMAT": "text/plain",
             "extra": [[[]]], "title": "T", "type": "note", "created_by_id": "r", "tail": null}
            """);

        var upload = await ReadAsync(Request(body));

        Assert.Equal("Hej"u8.ToArray(), upload.Content);
        Assert.Equal("text/plain", upload.Format);
    }

    [Fact]
    public async Task EscapedStringFieldsAreUnescaped()
    {
        var body = Utf8("""{"content": "SGVq", "format": "text\/plain", "title": "\u00c5rsrapport \"2025\"", "type": "t", "created_by_id": "r"}""");

        var upload = await ReadAsync(Request(body));

        Assert.Equal("text/plain", upload.Format);
        Assert.Equal("Årsrapport \"2025\"", upload.Title);
    }

    [Fact]
    public async Task Utf8BomBeforeTheBodyIsAccepted()
    {
        var upload = await ReadAsync(Request([.. Encoding.UTF8.Preamble, .. Json("SGVq")]));

        Assert.Equal("Hej"u8.ToArray(), upload.Content);
    }

    [Theory]
    [InlineData("application/json")]
    [InlineData("application/json; charset=utf-8")]
    [InlineData("Application/JSON; charset=UTF-8")]
    [InlineData("application/json;charset=utf8")]
    public async Task JsonContentTypesAreAccepted(string contentType)
    {
        var upload = await ReadAsync(Request(Json("SGVq"), contentType));

        Assert.Equal("Hej"u8.ToArray(), upload.Content);
    }

    // ---- refused bodies ----------------------------------------------------------------------

    [Theory]
    [InlineData("abc$")]
    [InlineData("ab cd")]
    [InlineData("SGVq ")]
    [InlineData("SGVq\\t")]
    [InlineData("SGVq\\\\")]
    [InlineData("SGVq\\\"")]
    [InlineData("S")]
    [InlineData("SGVqS")]
    [InlineData("SG=q")]
    [InlineData("SGV==")]
    [InlineData("SG===")]
    [InlineData("S===")]
    [InlineData("==")]
    [InlineData("SGVq-_")]
    [InlineData("SGVq\\u00e5")]
    [InlineData("data:application/pdf;base64,SGVq")]
    public async Task InvalidBase64IsAnInvalidContentField(string content)
    {
        var error = await RefusedAsync(Request(Json(content, raw: true)));

        Assert.Equal(typeof(VardbroException), error.GetType());
        var only = Assert.Single(error.Errors);
        Assert.Equal(ErrorCodes.InvalidField, only.ErrorCode);
        Assert.Equal("content", only.Path);
        Assert.Contains("content must be base64", only.Details, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MissingFieldsAreReportedTogether()
    {
        var error = await RefusedAsync(Request(Utf8("{}")));

        Assert.Equal(typeof(VardbroException), error.GetType());
        Assert.All(error.Errors, e => Assert.Equal(ErrorCodes.MissingRequiredField, e.ErrorCode));
        Assert.Equal(["content", "format", "title", "type", "created_by_id"], error.Errors.Select(e => e.Path));
    }

    [Fact]
    public async Task NullAndBlankValuesAreMissing()
    {
        var body = Utf8("""{"content": "", "format": null, "title": "   ", "type": "\t", "created_by_id": null}""");

        var error = await RefusedAsync(Request(body));

        Assert.All(error.Errors, e => Assert.Equal(ErrorCodes.MissingRequiredField, e.ErrorCode));
        Assert.Equal(["content", "format", "title", "type", "created_by_id"], error.Errors.Select(e => e.Path));
    }

    [Fact]
    public async Task ProblemsOfDifferentKindsAreReportedTogether()
    {
        var body = Utf8("""{"content": "not base64!", "title": 5, "type": "letter"}""");

        var error = await RefusedAsync(Request(body));

        Assert.Equal(typeof(VardbroException), error.GetType());
        Assert.Equal(
            [(ErrorCodes.InvalidField, "content"), (ErrorCodes.InvalidField, "title"), (ErrorCodes.MissingRequiredField, "format"), (ErrorCodes.MissingRequiredField, "created_by_id")],
            error.Errors.Select(e => (e.ErrorCode, e.Path!)));
    }

    [Fact]
    public async Task NonStringValuesAreInvalidFields()
    {
        var body = Utf8("""{"content": 123, "format": ["application/pdf"], "title": {"sv": "Remiss"}, "type": true, "created_by_id": 42}""");

        var error = await RefusedAsync(Request(body));

        Assert.Equal(typeof(VardbroException), error.GetType());
        Assert.All(error.Errors, e => Assert.Equal(ErrorCodes.InvalidField, e.ErrorCode));
        Assert.Equal(["content", "format", "title", "type", "created_by_id"], error.Errors.Select(e => e.Path));
    }

    [Fact]
    public async Task AFieldGivenTwiceIsRefused()
    {
        var body = Utf8("""{"content": "SGVq", "format": "text/plain", "title": "a", "title": "b", "type": "t", "created_by_id": "r"}""");

        var error = await RefusedAsync(Request(body));

        var only = Assert.Single(error.Errors);
        Assert.Equal((ErrorCodes.InvalidField, "title"), (only.ErrorCode, only.Path));
    }

    [Theory]
    [InlineData("[]")]
    [InlineData("[{\"content\": \"SGVq\"}]")]
    [InlineData("\"SGVq\"")]
    [InlineData("42")]
    [InlineData("null")]
    [InlineData("true")]
    public async Task ABodyThatIsNotAnObjectIsBadInput(string json)
    {
        var error = await RefusedAsync(Request(Utf8(json)));

        Assert.Equal(typeof(VardbroException), error.GetType());
        var only = Assert.Single(error.Errors);
        Assert.Equal((ErrorCodes.BadInput, "body"), (only.ErrorCode, only.Path));
    }

    [Theory]
    [InlineData("")]
    [InlineData(" \r\n\t")]
    [InlineData("\uFEFF")] // a byte order mark alone
    public async Task AnEmptyBodyIsAMissingBodyAsOnTheOtherEndpoints(string json)
    {
        var error = await RefusedAsync(Request(Utf8(json)));

        Assert.Equal(typeof(VardbroException), error.GetType());
        var only = Assert.Single(error.Errors);
        Assert.Equal((ErrorCodes.MissingRequiredField, "body"), (only.ErrorCode, only.Path));
    }

    [Theory]
    [InlineData("{")]
    [InlineData("{\"content\": ")]
    [InlineData("{\"content\": \"SGVq")]
    [InlineData("{\"content\": \"SGVq\",}")]
    [InlineData("{'content': 'SGVq'}")]
    [InlineData("{content: \"SGVq\"}")]
    [InlineData("{\"content\": \"SGVq\"} trailing")]
    [InlineData("{\"content\": \"SGVq\"}{}")]
    [InlineData("{\"content\": \"SG\nVq\"}")] // a raw line break inside a string
    [InlineData("{\"content\": \"SGVq\\x\"}")] // an unknown escape
    [InlineData("{\"content\": \"SGVq\\u00\"}")] // a short \u escape
    [InlineData("{/* comment */ \"content\": \"SGVq\"}")]
    [InlineData("{\"title\": \"\\uD800\"}")] // a lone surrogate
    public async Task MalformedJsonIsBadInputNever500(string json)
    {
        var error = await RefusedAsync(Request(Utf8(json)));

        Assert.Equal(typeof(VardbroException), error.GetType());
        var only = Assert.Single(error.Errors);
        Assert.Equal((ErrorCodes.BadInput, "body"), (only.ErrorCode, only.Path));
    }

    [Fact]
    public async Task InvalidUtf8InAStringIsBadInput()
    {
        var error = await RefusedAsync(Request([.. "{\"title\": \""u8, 0xC3, 0x28, .. "\"}"u8]));

        var only = Assert.Single(error.Errors);
        Assert.Equal((ErrorCodes.BadInput, "body"), (only.ErrorCode, only.Path));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("text/plain")]
    [InlineData("application/xml")]
    [InlineData("multipart/form-data; boundary=x")]
    [InlineData("application/x-www-form-urlencoded")]
    [InlineData("application/json; charset=utf-16")]
    [InlineData("application/jsonx")]
    [InlineData("not a media type")]
    public async Task OtherContentTypesAre415WithoutReading(string? contentType)
    {
        var request = Request(Json("SGVq"), contentType);
        request.Body = new ThrowingStream();

        var error = await RefusedAsync(request);

        Assert.Equal(415, ErrorTable.StatusOf(error));
        var only = Assert.Single(error.Errors);
        Assert.Equal((ErrorCodes.BadInput, "body"), (only.ErrorCode, only.Path));
    }

    // ---- sizes -------------------------------------------------------------------------------

    [Fact]
    public async Task ContentLengthOverTheLimitIs413BeforeReading()
    {
        var request = Request(Json("SGVq"));
        request.Body = new ThrowingStream();
        request.ContentLength = DocumentUploadReader.MaxBodyBytes(TwentyFiveMiB) + 1;

        var error = await RefusedAsync(request);

        Assert.Equal(413, ErrorTable.StatusOf(error));
        var only = Assert.Single(error.Errors);
        Assert.Equal((ErrorCodes.PayloadTooLarge, "content"), (only.ErrorCode, only.Path));
    }

    [Fact]
    public async Task ChunkedBodyOverTheLimitIs413AndReadingStopsAtTheLimit()
    {
        const long maxDecoded = 3_000;
        var limit = DocumentUploadReader.MaxBodyBytes(maxDecoded);
        var body = Json(new string('A', (int)limit)); // valid JSON, but more than the limit
        var stream = new ChunkedStream(body, chunk: 8192);
        var request = Request(body);
        request.Body = stream;
        request.ContentLength = null;

        var error = await RefusedAsync(request, maxDecoded);

        Assert.Equal(413, ErrorTable.StatusOf(error));
        Assert.Equal((ErrorCodes.PayloadTooLarge, "content"), (error.Errors[0].ErrorCode, error.Errors[0].Path));
        Assert.True(stream.BytesRead <= limit + 1, $"read {stream.BytesRead} bytes of a {limit}-byte limit");
    }

    [Fact]
    public async Task ContentLengthSmallerThanTheBodyStillCannotPassTheLimit()
    {
        const long maxDecoded = 3_000;
        var limit = DocumentUploadReader.MaxBodyBytes(maxDecoded);
        var body = Json(new string('A', (int)limit));
        var stream = new ChunkedStream(body, chunk: 100_000);
        var request = Request(body);
        request.Body = stream;
        request.ContentLength = 100;

        var error = await RefusedAsync(request, maxDecoded);

        Assert.Equal(413, ErrorTable.StatusOf(error));
        Assert.True(stream.BytesRead <= limit + 1);
    }

    [Fact]
    public async Task ChunkedBodyUnderTheLimitRoundTrips()
    {
        var payload = RandomBytes(300_000, seed: 12);
        var body = Json(Convert.ToBase64String(payload));
        var request = Request(body);
        request.Body = new ChunkedStream(body, chunk: 1000);
        request.ContentLength = null;

        var upload = await ReadAsync(request);

        Assert.Equal(payload, upload.Content);
    }

    [Fact]
    public async Task DecodedSizeExactlyAtTheLimitIsAcceptedAndOneByteMoreIs413()
    {
        const int maxDecoded = 30_000;
        var atLimit = RandomBytes(maxDecoded, seed: 13);
        var overLimit = RandomBytes(maxDecoded + 1, seed: 14);

        var accepted = await ReadAsync(Request(Json(Convert.ToBase64String(atLimit))), maxDecoded);
        var error = await RefusedAsync(Request(Json(Convert.ToBase64String(overLimit))), maxDecoded);

        Assert.Equal(atLimit, accepted.Content);
        Assert.Equal(413, ErrorTable.StatusOf(error));
        var only = Assert.Single(error.Errors);
        Assert.Equal((ErrorCodes.PayloadTooLarge, "content"), (only.ErrorCode, only.Path));
    }

    [Fact]
    public async Task TooLargeContentComesFirstWithTheOtherProblems()
    {
        var body = Utf8($$"""{"title": 1, "content": "{{Convert.ToBase64String(new byte[101])}}"}""");

        var error = await RefusedAsync(Request(body), maxDecodedBytes: 100);

        Assert.Equal(413, ErrorTable.StatusOf(error));
        Assert.Equal(ErrorCodes.PayloadTooLarge, error.Errors[0].ErrorCode);
        Assert.Equal(["content", "title", "format", "type", "created_by_id"], error.Errors.Select(e => e.Path));
    }

    [Fact]
    public void MaxBodyBytesLeavesRoomForBase64EscapesAndTheOtherFields()
    {
        Assert.Equal(64 * 1024, DocumentUploadReader.MaxBodyBytes(0));
        Assert.Equal(4 + 1 + (64 * 1024), DocumentUploadReader.MaxBodyBytes(1));
        var base64 = (TwentyFiveMiB + 2) / 3 * 4;
        Assert.Equal(base64 + (base64 / 4) + (64 * 1024), DocumentUploadReader.MaxBodyBytes(TwentyFiveMiB));
        Assert.Equal(Array.MaxLength - 1, DocumentUploadReader.MaxBodyBytes(long.MaxValue));
        Assert.Throws<ArgumentOutOfRangeException>(() => DocumentUploadReader.MaxBodyBytes(-1));
    }

    // ---- memory ---------------------------------------------------------------------------------

    [Theory]
    [InlineData(false)]
    [InlineData(true)] // every '+' as \u002B, as System.Text.Json's default encoder writes it
    public async Task ReadingA20MegabytePayloadAllocatesAFewBuffersNotThePayload(bool escaped)
    {
        const int size = 20 * 1000 * 1000;
        var payload = RandomBytes(size, seed: 20);
        var base64 = Convert.ToBase64String(payload);
        var body = Json(escaped ? base64.Replace("+", "\\u002B", StringComparison.Ordinal) : base64, raw: true);
        var request = Request(body);
        await ReadAsync(Request(Json("SGVq"))); // warm up: JIT and first-use allocations are not the reader's

        // A MemoryStream completes synchronously and the decoded bytes go to their file synchronously:
        // the whole read runs on this thread within the call.
        var before = GC.GetAllocatedBytesForCurrentThread();
        var reading = DocumentUploadReader.ReadAsync(request, TwentyFiveMiB, CancellationToken.None);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(reading.IsCompletedSuccessfully);
        using var upload = (await reading).Content;

        output.WriteLine($"escaped {escaped}: payload {size:N0} B, body {body.Length:N0} B, allocated {allocated:N0} B = {(double)allocated / size:F4} x payload");
        var back = await upload.ToArrayAsync(CancellationToken.None);
        Assert.True(payload.AsSpan().SequenceEqual(back));
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(payload)), upload.Sha256);
        Assert.True(allocated < 512 * 1024, $"allocated {allocated:N0} bytes for a {size:N0}-byte payload");
    }

    [Fact]
    public async Task AChunkedBodyIsReadWithoutGrowingItsBuffer()
    {
        const int size = 20 * 1000 * 1000;
        var payload = RandomBytes(size, seed: 21);
        var body = Json(Convert.ToBase64String(payload));
        var request = Request(body);
        request.Body = new ChunkedStream(body, chunk: 1024 * 1024);
        request.ContentLength = null;
        await ReadAsync(Request(Json("SGVq")));

        var before = GC.GetAllocatedBytesForCurrentThread();
        var reading = DocumentUploadReader.ReadAsync(request, TwentyFiveMiB, CancellationToken.None);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(reading.IsCompletedSuccessfully);
        using var upload = (await reading).Content;

        output.WriteLine($"chunked: payload {size:N0} B, body {body.Length:N0} B, allocated {allocated:N0} B = {(double)allocated / size:F4} x payload");
        var back = await upload.ToArrayAsync(CancellationToken.None);
        Assert.True(payload.AsSpan().SequenceEqual(back));
        Assert.True(allocated < 512 * 1024, $"allocated {allocated:N0} bytes");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(5)]
    [InlineData(7)]
    public async Task EscapesAndFieldsSplitAcrossReadsRoundTrip(int chunk)
    {
        // Every escape the content may carry, cut at every position by reads of a few bytes.
        var payload = RandomBytes(3000, seed: 22);
        var escaped = Convert.ToBase64String(payload, Base64FormattingOptions.InsertLineBreaks)
            .Replace("+", "\\u002B", StringComparison.Ordinal)
            .Replace("/", "\\/", StringComparison.Ordinal)
            .Replace("\r\n", "\\r\\n", StringComparison.Ordinal);
        var body = Utf8($$"""{"title" : "T\u00e5", "content"  :  "{{escaped}}" , "format":"application/pdf","type":"t","created_by_id":"r"}""");
        var request = Request(body);
        request.Body = new ChunkedStream(body, chunk);
        request.ContentLength = null;

        var upload = await ReadAsync(request);

        Assert.Equal(payload, upload.Content);
        Assert.Equal("Tå", upload.Title);
    }

    [Fact]
    public async Task TheContentsFileHasNoNameOutsideWindowsAndIsGoneOnceDisposed()
    {
        var named = Directory.GetFiles(Path.GetTempPath(), "vardbro-upload-*").ToHashSet(StringComparer.Ordinal);
        var body = await DocumentUploadReader.ReadAsync(Request(Json(Convert.ToBase64String(Pdf))), TwentyFiveMiB, CancellationToken.None);
        if (!OperatingSystem.IsWindows())
        {
            // Other tests upload at the same time: only a file of this size could be this upload's.
            Assert.DoesNotContain(
                Directory.GetFiles(Path.GetTempPath(), "vardbro-upload-*").Where(f => !named.Contains(f)),
                f => LengthOrNone(f) == Pdf.Length);
        }

        using (var stream = body.Content.OpenRead())
        {
            Assert.Equal(Pdf.Length, stream.Length);
            stream.Position = 5;
            using var rest = new MemoryStream();
            await stream.CopyToAsync(rest);
            Assert.Equal(Pdf[5..], rest.ToArray());
        }

        body.Content.Dispose();

        Assert.Throws<ObjectDisposedException>(() => body.Content.OpenRead().Dispose());
    }

    // ---- helpers -------------------------------------------------------------------------------

    /// <summary>An accepted upload with its content read back whole (and its temporary file removed).</summary>
    private sealed record Upload(byte[] Content, string? Format, string? Title, string? Type, string? CreatedById);

    private static async Task<Upload> ReadAsync(HttpRequest request, long maxDecodedBytes = TwentyFiveMiB)
    {
        var body = await DocumentUploadReader.ReadAsync(request, maxDecodedBytes, CancellationToken.None);
        using var content = body.Content;
        var bytes = await content.ToArrayAsync(CancellationToken.None);
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes)), content.Sha256);
        return new Upload(bytes, body.Format, body.Title, body.Type, body.CreatedById);
    }

    private static Task<VardbroException> RefusedAsync(HttpRequest request, long maxDecodedBytes = TwentyFiveMiB) =>
        Assert.ThrowsAnyAsync<VardbroException>(() => DocumentUploadReader.ReadAsync(request, maxDecodedBytes, CancellationToken.None));

    private static HttpRequest Request(byte[] body, string? contentType = "application/json")
    {
        var context = new DefaultHttpContext();
        context.Request.Method = HttpMethods.Post;
        context.Request.ContentType = contentType;
        context.Request.ContentLength = body.Length;
        context.Request.Body = new MemoryStream(body, writable: false);
        return context.Request;
    }

    /// <summary>A complete upload body; <paramref name="raw"/> puts <paramref name="content"/> in as JSON text, unescaped.</summary>
    private static byte[] Json(string content, string format = "application/pdf", string title = "Remiss", string type = "referral", string createdById = "res-1", bool raw = false)
    {
        // Relaxed: base64 goes in as it is ('+' unescaped); SystemTextJsonClients… covers the default encoder.
        var text = raw ? content : JsonEncodedText.Encode(content, JavaScriptEncoder.UnsafeRelaxedJsonEscaping).ToString();
        return Utf8($$"""{"content":"{{text}}","format":"{{format}}","title":"{{title}}","type":"{{type}}","created_by_id":"{{createdById}}"}""");
    }

    private static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);

    private static long LengthOrNone(string path)
    {
        try
        {
            return new FileInfo(path).Length;
        }
        catch (FileNotFoundException)
        {
            return -1;
        }
    }

    private static byte[] RandomBytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    /// <summary>A body that must not be read.</summary>
    private sealed class ThrowingStream : Stream
    {
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new InvalidOperationException("The body was read.");
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => throw new InvalidOperationException("The body was read.");
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    /// <summary>A chunked upload: no length, not seekable, at most <c>chunk</c> bytes per read.</summary>
    private sealed class ChunkedStream(byte[] data, int chunk) : Stream
    {
        public long BytesRead { get; private set; }
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            var n = (int)Math.Min(Math.Min(buffer.Length, chunk), data.Length - BytesRead);
            data.AsSpan((int)BytesRead, n).CopyTo(buffer);
            BytesRead += n;
            return n;
        }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => ValueTask.FromResult(Read(buffer.Span));
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
