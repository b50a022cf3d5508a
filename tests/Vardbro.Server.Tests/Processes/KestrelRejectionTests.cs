using System.Net.Sockets;
using System.Text;
using Vardbro.Server.Tests.Infrastructure;

namespace Vardbro.Server.Tests.Processes;

/// <summary>
/// What a client gets where Kestrel refuses a request before the application sees it (docs/api.md,
/// "Errors"): Kestrel's own bare status, no body, no envelope, and the connection closed.
/// </summary>
[Collection(ProcessTestGroup.Name)]
[Trait("Category", "Process")]
public sealed class KestrelRejectionTests
{
    [Fact]
    public async Task Nul_in_the_path_an_overlong_request_line_and_oversized_headers_get_kestrels_bare_answer()
    {
        using var database = TestDatabase.Create();
        var settings = database.Settings();
        settings["Sandbox:Enabled"] = "true";
        await using var server = await ServerProcess.StartAsync(settings);
        const string Credentials = "x-leyr-client-id: sandbox-client\r\nx-leyr-client-secret: sandbox-secret\r\n";
        var cases = new (string Request, string Status)[]
        {
            ("GET /api/emrs/web\0doc HTTP/1.1\r\nHost: x\r\n" + Credentials + "\r\n", "400"),
            ("GET /api/emrs/web%00doc/care-units HTTP/1.1\r\nHost: x\r\n" + Credentials + "\r\n", "400"),
            ("GET /api/emrs?q=" + new string('a', 9000) + " HTTP/1.1\r\nHost: x\r\n" + Credentials + "\r\n", "414"),
            ("GET /api/emrs HTTP/1.1\r\nHost: x\r\n" + Credentials + "x-big: " + new string('a', 40_000) + "\r\n\r\n", "431"),
        };
        foreach (var (request, status) in cases)
        {
            using var tcp = new TcpClient();
            await tcp.ConnectAsync(server.BaseAddress.Host, server.BaseAddress.Port);
            var stream = tcp.GetStream();
            await stream.WriteAsync(Encoding.Latin1.GetBytes(request));
            using var reader = new StreamReader(stream, Encoding.Latin1);
            var answer = await reader.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(20));
            Assert.StartsWith($"HTTP/1.1 {status} ", answer, StringComparison.Ordinal);
            Assert.Contains("Content-Length: 0", answer, StringComparison.OrdinalIgnoreCase);
            Assert.Contains("Connection: close", answer, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("x-request-id", answer, StringComparison.OrdinalIgnoreCase);
        }

        // The server is unharmed: the next ordinary request is answered.
        using var client = server.Sandbox();
        await client.GetJsonAsync("/api/emrs");
    }
}
