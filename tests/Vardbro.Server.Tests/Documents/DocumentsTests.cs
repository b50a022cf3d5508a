using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Vardbro.Server.Tests.Infrastructure;

namespace Vardbro.Server.Tests.Documents;

public sealed class DocumentsTests(VardbroFactory factory) : IClassFixture<VardbroFactory>
{
    private const string L01 = "/api/emrs/webdoc/care-units/L0_1";
    private const string Documents = L01 + "/patients/se_personal_number:191212121212/documents";

    public static byte[] Pdf(int size = 2048)
    {
        var bytes = new byte[size];
        new Random(size).NextBytes(bytes);
        Encoding.ASCII.GetBytes("%PDF-1.7\n").CopyTo(bytes, 0);
        return bytes;
    }

    private static readonly byte[] PngHeader = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13];

    private static string Upload(byte[] content, string format = "application/pdf", string title = "Provsvar", string type = "Lab Result", string author = "1001") =>
        new JsonObject { ["content"] = Convert.ToBase64String(content), ["format"] = format, ["title"] = title, ["type"] = type, ["created_by_id"] = author }.ToJsonString();

    [Fact]
    public async Task A_document_of_several_read_ranges_and_decode_blocks_round_trips_with_its_length()
    {
        // Over 512 KiB (a PostgreSQL download's range) and 48 KiB (an upload's decode block), not a multiple of either.
        using var client = factory.Sandbox();
        var pdf = Pdf((1300 * 1024) + 17);
        var id = (string)(await client.PostJsonAsync(Documents, Upload(pdf), HttpStatusCode.Created))["id"]!;

        using var download = await client.GetAsync(new Uri($"{Documents}/{id}/content", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, download.StatusCode);
        Assert.Equal(pdf.Length, download.Content.Headers.ContentLength);
        Assert.Equal(pdf, await download.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Plain_text_is_checked_as_UTF_8_to_its_last_byte()
    {
        // Multi-byte characters across every decode block's edge; then the same with one bad byte at the very end.
        using var client = factory.Sandbox();
        var text = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat("Remiss åäö ø æ 😀 ", 12_000)));
        var id = (string)(await client.PostJsonAsync(Documents, Upload(text, "text/plain"), HttpStatusCode.Created))["id"]!;
        using (var download = await client.GetAsync(new Uri($"{Documents}/{id}/content", UriKind.Relative)))
        {
            Assert.Equal(text, await download.Content.ReadAsByteArrayAsync());
        }

        await client.PostProblemAsync(Documents, Upload([.. text, 0xC3], "text/plain"), HttpStatusCode.BadRequest, "INVALID_DOCUMENT_FORMAT", "content");
        await client.PostProblemAsync(Documents, Upload([.. text, 0], "text/plain"), HttpStatusCode.BadRequest, "INVALID_DOCUMENT_FORMAT", "content");
    }

    [Fact]
    public async Task Attach_a_document_quickstart_round_trips_the_bytes()
    {
        using var client = factory.Sandbox();
        var pdf = Pdf(300_000);
        var created = await client.PostJsonAsync(Documents, Upload(pdf), HttpStatusCode.Created);
        var id = (string)created["id"]!;
        var sha = Convert.ToHexStringLower(SHA256.HashData(pdf));
        Assert.Equal(sha, (string?)created["sha256"]);
        Assert.Equal(pdf.Length, (long)created["size_bytes"]!);
        Assert.Equal("Lab Result", (string?)created["type"]);
        Assert.Equal("application/pdf", (string?)created["format"]);
        Assert.Equal("1001", (string?)created["created_by_id"]);

        var list = (await client.GetJsonAsync(Documents)).AsArray();
        Assert.Contains(list, d => (string?)d!["id"] == id);
        var meta = await client.GetJsonAsync($"{Documents}/{id}");
        Assert.Equal(created.ToJsonString(), meta.ToJsonString());

        using var download = await client.GetAsync(new Uri($"{Documents}/{id}/content", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, download.StatusCode);
        Assert.Equal("application/pdf", download.Content.Headers.ContentType?.MediaType);
        Assert.Equal(pdf.Length, download.Content.Headers.ContentLength);
        Assert.Equal($"\"{sha}\"", download.Headers.ETag?.Tag);
        Assert.Equal(pdf, await download.Content.ReadAsByteArrayAsync());

        using var conditional = new HttpRequestMessage(HttpMethod.Get, new Uri($"{Documents}/{id}/content", UriKind.Relative));
        conditional.Headers.IfNoneMatch.Add(new EntityTagHeaderValue($"\"{sha}\""));
        using var notModified = await client.SendAsync(conditional);
        Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);
    }

    [Fact]
    public async Task The_same_bytes_twice_are_two_documents_sharing_one_blob()
    {
        using var client = factory.Sandbox();
        var pdf = Pdf(4096);
        var a = await client.PostJsonAsync(Documents, Upload(pdf, title: "Första"), HttpStatusCode.Created);
        var b = await client.PostJsonAsync(Documents, Upload(pdf, title: "Andra"), HttpStatusCode.Created);
        Assert.NotEqual((string?)a["id"], (string?)b["id"]);
        using var download = await client.GetAsync(new Uri($"{Documents}/{(string)b["id"]!}/content", UriKind.Relative));
        Assert.Equal(pdf, await download.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Every_format_with_matching_bytes_is_accepted()
    {
        using var client = factory.Sandbox();
        var samples = new (string Format, byte[] Bytes)[]
        {
            ("image/png", [.. PngHeader, 1, 2, 3]),
            ("image/jpeg", [0xFF, 0xD8, 0xFF, 0xE0, 0, 16]),
            ("image/tiff", [0x49, 0x49, 0x2A, 0x00, 8, 0, 0, 0]),
            ("text/plain", Encoding.UTF8.GetBytes("Remiss: åter om två veckor.")),
        };
        foreach (var (format, bytes) in samples)
        {
            var created = await client.PostJsonAsync(Documents, Upload(bytes, format), HttpStatusCode.Created);
            using var download = await client.GetAsync(new Uri($"{Documents}/{(string)created["id"]!}/content", UriKind.Relative));
            Assert.Equal(format, download.Content.Headers.ContentType?.MediaType);
            Assert.Equal(bytes, await download.Content.ReadAsByteArrayAsync());
        }
    }

    [Fact]
    public async Task Every_validation_error_of_the_area()
    {
        using var client = factory.Sandbox();
        await client.PostProblemAsync(Documents, Upload([.. PngHeader, 1, 2]), HttpStatusCode.BadRequest, "INVALID_DOCUMENT_FORMAT", "content");
        await client.PostProblemAsync(Documents, Upload(Pdf(), format: "application/msword"), HttpStatusCode.BadRequest, "INVALID_DOCUMENT_FORMAT", "format");
        await client.PostProblemAsync(Documents, Upload([0xC3, 0x28, 0x41], format: "text/plain"), HttpStatusCode.BadRequest, "INVALID_DOCUMENT_FORMAT", "content");
        await client.PostProblemAsync(Documents, """{"content":"not base64!!","format":"application/pdf","title":"T","type":"X","created_by_id":"1001"}""", HttpStatusCode.BadRequest, "INVALID_FIELD", "content");
        await client.PostProblemAsync(Documents, Upload(Pdf(), author: "2001"), HttpStatusCode.BadRequest, "INVALID_CREATED_BY_ID", "created_by_id");
        await client.PostProblemAsync(Documents, """{"format":"application/pdf","title":"T","type":"X","created_by_id":"1001"}""", HttpStatusCode.BadRequest, "MISSING_REQUIRED_FIELD", "content");
        await client.PostProblemAsync(Documents, """{"content":"JVBERi0=","format":"application/pdf","created_by_id":"1001"}""", HttpStatusCode.BadRequest, "MISSING_REQUIRED_FIELD", "title");
        await client.PostProblemAsync(Documents, "{broken", HttpStatusCode.BadRequest, "BAD_INPUT", "body");
        await client.PostProblemAsync($"{L01}/patients/se_personal_number:197110021834/documents", Upload(Pdf()), HttpStatusCode.NotFound, "NOT_FOUND", "patient_id");
        await client.GetProblemAsync($"{Documents}/doc_missing", HttpStatusCode.NotFound, "NOT_FOUND", "document_id");
        await client.GetProblemAsync($"{Documents}/doc_missing/content", HttpStatusCode.NotFound, "NOT_FOUND", "document_id");
        using var text = new StringContent(Upload(Pdf()), Encoding.UTF8, "text/plain");
        using var wrongType = await client.PostAsync(new Uri(Documents, UriKind.Relative), text);
        await wrongType.ProblemAsync(HttpStatusCode.UnsupportedMediaType);
    }

    [Fact]
    public async Task Larger_than_25_MiB_is_413_and_25_MiB_is_accepted()
    {
        using var client = factory.Sandbox();
        const int limit = 25 * 1024 * 1024;
        var exact = Pdf(limit);
        var created = await client.PostJsonAsync(Documents, Upload(exact, title: "Stor"), HttpStatusCode.Created);
        Assert.Equal(limit, (long)created["size_bytes"]!);
        await client.PostProblemAsync(Documents, Upload(Pdf(limit + 1), title: "För stor"), HttpStatusCode.RequestEntityTooLarge, "PAYLOAD_TOO_LARGE");
        using var download = await client.GetAsync(new Uri($"{Documents}/{(string)created["id"]!}/content", UriKind.Relative));
        Assert.Equal(SHA256.HashData(exact), SHA256.HashData(await download.Content.ReadAsByteArrayAsync()));
    }

    [Fact]
    public async Task Document_reads_and_writes_are_audited_without_their_content()
    {
        using var client = factory.Sandbox();
        var created = await client.PostJsonAsync(Documents, Upload(Encoding.UTF8.GetBytes("SENTINEL dokumenttext"), "text/plain"), HttpStatusCode.Created);
        var id = (string)created["id"]!;
        using (var download = await client.GetAsync(new Uri($"{Documents}/{id}/content", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.OK, download.StatusCode);
        }

        using var admin = factory.Admin();
        var events = (await admin.GetJsonAsync("/api/admin/audit?limit=200")).AsArray();
        Assert.Contains(events, e => (string?)e!["action"] == "document.create" && (string?)e["resource_id"] == id);
        Assert.Contains(events, e => (string?)e!["action"] == "document.content" && (string?)e["resource_id"] == id);
        Assert.DoesNotContain("SENTINEL", events.ToJsonString(), StringComparison.Ordinal);
    }
}
