using System.Buffers.Text;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.Data.Sqlite;
using Npgsql;
using Vardbro.Server.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Vardbro.Server.Tests.Processes;

/// <summary>
/// Documents (API.md §5) against the built server: an upload that was acknowledged survives a SIGKILL
/// in the middle of other uploads, no document row ever names missing or partial bytes, and a 25 MiB
/// upload costs the server a bounded amount of memory.
/// </summary>
[Collection(ProcessTestGroup.Name)]
[Trait("Category", "Process")]
public sealed partial class DocumentDurabilityTests(ITestOutputHelper output)
{
    private const string Documents = "/api/emrs/webdoc/care-units/L0_1/patients/se_personal_number:191212121212/documents";
    private const int Uploaders = 8;
    private const int MinUploadBytes = 512 * 1024;
    private const int MaxUploadBytes = 3 * 1024 * 1024;
    private const int MaxKillRounds = 3;
    private const int LargeDocumentBytes = 25 * 1024 * 1024;

    [Fact]
    public async Task Killing_the_server_during_uploads_loses_no_acknowledged_document()
    {
        using var database = TestDatabase.Create();
        var acknowledged = new ConcurrentDictionary<string, string>(StringComparer.Ordinal);
        var failures = new ConcurrentQueue<string>();
        var acknowledgedBeforeKill = 0;
        var cutOff = 0;

        // Upload from 8 loops, SIGKILL the server while they are in flight; again on a new process
        // (same database) until a round has both acknowledged uploads and cut-off ones.
        for (var round = 1; round <= MaxKillRounds; round++)
        {
            var result = await UploadAndKillAsync(database, acknowledged, failures);
            output.WriteLine($"Round {round}: {result.Acknowledged} acknowledged, {result.CutOff} cut off by the kill after {result.KilledAfter.TotalMilliseconds:F0} ms.");
            Assert.True(failures.IsEmpty, string.Join('\n', failures));
            acknowledgedBeforeKill += result.Acknowledged;
            cutOff += result.CutOff;
            if (result.Acknowledged >= 3 && result.CutOff >= 1)
            {
                break;
            }
        }

        Assert.True(acknowledgedBeforeKill >= 3, $"Only {acknowledgedBeforeKill} uploads were acknowledged before the kills: the test proved nothing.");
        Assert.True(cutOff >= 1, "No upload was in flight when the server was killed: the test proved nothing.");

        await using var server = await ServerProcess.StartAsync(SandboxSettings(database));
        using var client = server.Sandbox();

        // (a) Every acknowledged document is there, byte for byte.
        foreach (var (id, sha256) in acknowledged)
        {
            var (status, etag, actualSha, length) = await DownloadAsync(client, id);
            Assert.True(status == HttpStatusCode.OK, $"Acknowledged document {id} ({sha256}): GET content answered {(int)status}.");
            Assert.Equal(sha256, actualSha);
            Assert.Equal($"\"{sha256}\"", etag);
            Assert.InRange(length, MinUploadBytes, MaxUploadBytes);
        }

        // (b) Every document the API lists downloads whole, with the hash and size its metadata states.
        var listed = await ListAllAsync(client);
        Assert.Equal(listed.Count, listed.Select(d => d.Id).Distinct(StringComparer.Ordinal).Count());
        foreach (var id in acknowledged.Keys)
        {
            Assert.Contains(listed, d => d.Id == id);
        }

        foreach (var document in listed)
        {
            var (status, _, actualSha, length) = await DownloadAsync(client, document.Id);
            Assert.True(status == HttpStatusCode.OK, $"Listed document {document.Id}: GET content answered {(int)status}.");
            Assert.True(
                document.Sha256 == actualSha && document.SizeBytes == length,
                $"Listed document {document.Id} states sha256 {document.Sha256} and {document.SizeBytes} bytes; its content has sha256 {actualSha} and {length} bytes.");
            if (acknowledged.TryGetValue(document.Id, out var sent))
            {
                Assert.Equal(sent, document.Sha256);
            }
        }

        // (c) The database itself: no row names bytes that are not there.
        var rows = TestDatabase.IsPostgres
            ? await CheckPostgresAsync(database)
            : CheckSqlite(database);
        foreach (var document in listed)
        {
            Assert.Contains(document.Id, rows);
        }

        output.WriteLine($"{acknowledged.Count} acknowledged, {listed.Count} listed, {rows.Count} rows in local_documents, all intact.");
        if (!TestDatabase.IsPostgres)
        {
            var temporary = Path.Combine(database.DataDirectory, "blobs", "tmp");
            var leftovers = Directory.Exists(temporary) ? Directory.GetFiles(temporary).Length : 0;
            var referenced = ReferencedSqliteBlobs(database);
            var unreferenced = Directory.EnumerateFiles(Path.Combine(database.DataDirectory, "blobs"), "*", SearchOption.AllDirectories)
                .Count(f => !f.StartsWith(temporary, StringComparison.Ordinal) && !referenced.Contains(Path.GetFileName(f)));
            output.WriteLine($"Left behind by the kills (harmless, never cleaned up): {leftovers} temporary file(s) in {temporary}, {unreferenced} blob file(s) no row names.");
        }
    }

    [Fact]
    public async Task A_25_MiB_upload_raises_peak_memory_by_at_most_1_2_times_its_size()
    {
        if (!OperatingSystem.IsLinux())
        {
            output.WriteLine("Not measured: /proc/{pid}/status is Linux only.");
            return;
        }

        using var database = TestDatabase.Create();
        await using var server = await ServerProcess.StartAsync(SandboxSettings(database));
        using var client = server.Sandbox();

        // Warm up the upload and download paths (JIT, pools, connections) with small documents.
        for (var i = 0; i < 5; i++)
        {
            var pdf = RandomPdf(64 * 1024 * (i + 1));
            var created = await PostAsync(client, UploadBody(pdf, $"Uppvärmning {i}"));
            Assert.True(created.Status == HttpStatusCode.Created, $"Warm-up upload: {(int)created.Status} {created.Body}");
            var (status, _, sha, _) = await DownloadAsync(client, created.Id!);
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.Equal(Sha256(pdf), sha);
        }

        var measurements = new List<Measurement>();
        for (var run = 1; run <= 2; run++)
        {
            var pdf = RandomPdf(LargeDocumentBytes);
            var body = UploadBody(pdf, $"Stor {run}");
            // The peak so far may be another request's (the previous download): start the peak afresh
            // at the current RSS where the kernel lets us, so the figure is this upload's own.
            var reset = TryResetPeak(server.ProcessId);
            var hwmBefore = ReadStatusKb(server.ProcessId, "VmHWM");
            var rssBefore = ReadStatusKb(server.ProcessId, "VmRSS");
            var created = await PostAsync(client, body);
            var hwmAfter = ReadStatusKb(server.ProcessId, "VmHWM");
            var rssAfter = ReadStatusKb(server.ProcessId, "VmRSS");
            Assert.True(created.Status == HttpStatusCode.Created, $"25 MiB upload {run}: {(int)created.Status} {created.Body}");
            var (status, _, sha, length) = await DownloadAsync(client, created.Id!);
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.Equal(LargeDocumentBytes, length);
            Assert.Equal(Sha256(pdf), sha);
            measurements.Add(new Measurement(run, body.Length, reset, hwmBefore, hwmAfter, rssBefore, rssAfter));
        }

        var provider = TestDatabase.ProviderName;
        var results = Path.Combine(ServerProcess.RepositoryRoot, "bench", "results");
        Directory.CreateDirectory(results);
        var stamp = TimeProvider.System.GetUtcNow().ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
        foreach (var m in measurements)
        {
            var line = string.Create(
                CultureInfo.InvariantCulture,
                $"{stamp} provider={provider} upload={m.Run} document_bytes={LargeDocumentBytes} body_bytes={m.BodyBytes} peak_reset={(m.PeakReset ? "yes" : "no")} vmhwm_before_kb={m.HwmBeforeKb} vmhwm_after_kb={m.HwmAfterKb} increase_kb={m.IncreaseKb} increase_mib={m.IncreaseKb / 1024.0:F1} ratio_to_document={m.Ratio:F2} vmrss_before_kb={m.RssBeforeKb} vmrss_after_kb={m.RssAfterKb}");
            output.WriteLine(line);
            await File.AppendAllTextAsync(Path.Combine(results, "document-upload-memory.txt"), line + Environment.NewLine);
        }

        var first = measurements[0];
        Assert.True(
            first.IncreaseKb * 1024L * 10 <= 12L * LargeDocumentBytes,
            $"A 25 MiB upload raised the server's peak RSS (VmHWM) from {first.HwmBeforeKb} kB to {first.HwmAfterKb} kB: +{first.IncreaseKb / 1024.0:F1} MiB, {first.Ratio:F2}× the document (limit 1.2×: the upload is streamed).");
        var second = measurements[1];
        Assert.True(
            second.IncreaseKb * 1024L * 10 <= 12L * LargeDocumentBytes,
            $"The second 25 MiB upload raised the server's peak RSS (VmHWM) from {second.HwmBeforeKb} kB to {second.HwmAfterKb} kB: +{second.IncreaseKb / 1024.0:F1} MiB, {second.Ratio:F2}× the document (limit 1.2×: the upload is streamed).");
    }

    private sealed record Measurement(int Run, int BodyBytes, bool PeakReset, long HwmBeforeKb, long HwmAfterKb, long RssBeforeKb, long RssAfterKb)
    {
        public long IncreaseKb => HwmAfterKb - HwmBeforeKb;

        public double Ratio => IncreaseKb * 1024.0 / LargeDocumentBytes;
    }

    private sealed record RoundResult(int Acknowledged, int CutOff, TimeSpan KilledAfter);

    private sealed record ListedDocument(string Id, string Sha256, long SizeBytes);

    private async Task<RoundResult> UploadAndKillAsync(TestDatabase database, ConcurrentDictionary<string, string> acknowledged, ConcurrentQueue<string> failures)
    {
        await using var server = await ServerProcess.StartAsync(SandboxSettings(database));
        using var client = server.Sandbox();

        // One warm-up upload so that the first round does not spend its time on JIT and connections.
        var warm = RandomPdf(MinUploadBytes);
        var warmed = await PostAsync(client, UploadBody(warm, "Uppvärmning"));
        Assert.True(warmed.Status == HttpStatusCode.Created, $"Warm-up upload: {(int)warmed.Status} {warmed.Body}");
        acknowledged[warmed.Id!] = Sha256(warm);

        var killed = 0;
        var acknowledgedThisRound = 0;
        var cutOff = 0;
        var clock = Stopwatch.StartNew();

        async Task UploadLoopAsync(int loop)
        {
            for (var n = 0; Volatile.Read(ref killed) == 0; n++)
            {
                var pdf = RandomPdf(Random.Shared.Next(MinUploadBytes, MaxUploadBytes + 1));
                var sha256 = Sha256(pdf);
                var body = UploadBody(pdf, $"Lasttest {loop}-{n}");
                if (Volatile.Read(ref killed) != 0)
                {
                    return;
                }

                try
                {
                    var response = await PostAsync(client, body);
                    if (response.Status == HttpStatusCode.Created)
                    {
                        if (response.Sha256 != sha256 || response.SizeBytes != pdf.Length)
                        {
                            failures.Enqueue($"Upload {loop}-{n} answered 201 with sha256 {response.Sha256} and size {response.SizeBytes}; sent {sha256}, {pdf.Length} bytes.");
                        }

                        acknowledged[response.Id!] = sha256;
                        Interlocked.Increment(ref acknowledgedThisRound);
                    }
                    else if (Volatile.Read(ref killed) == 0)
                    {
                        failures.Enqueue($"Upload {loop}-{n} ({pdf.Length} bytes) answered {(int)response.Status}: {response.Body}");
                        return;
                    }
                }
                catch (Exception e) when (e is HttpRequestException or IOException or TaskCanceledException)
                {
                    // The kill is marked before it happens, so a failure seen unmarked is not the kill's.
                    if (Volatile.Read(ref killed) == 0)
                    {
                        failures.Enqueue($"Upload {loop}-{n} failed before the kill: {e}");
                        return;
                    }

                    // Started before the kill (checked just above) and never answered: cut off.

                    Interlocked.Increment(ref cutOff);
                    return;
                }
            }
        }

        var loops = Enumerable.Range(0, Uploaders).Select(i => Task.Run(() => UploadLoopAsync(i))).ToList();
        await Task.Delay(TimeSpan.FromMilliseconds(1500 + Random.Shared.Next(500)));
        var killedAfter = clock.Elapsed;

        // Mark the kill before it happens, so that every request failing from here on counts as cut off.
        Volatile.Write(ref killed, 1);
        var acknowledgedAtKill = Volatile.Read(ref acknowledgedThisRound);
        var inFlight = Uploaders - loops.Count(l => l.IsCompleted);
        server.Kill();
        Assert.True(server.HasExited);
        await Task.WhenAll(loops);

        // A request that was answered in the instant between marking and killing counts as acknowledged
        // (it is in the dictionary); only requests that failed count as cut off.
        output.WriteLine($"pid {server.ProcessId}: {acknowledgedAtKill} acknowledged when killed, {inFlight} loops running.");
        return new RoundResult(Volatile.Read(ref acknowledgedThisRound), Volatile.Read(ref cutOff), killedAfter);
    }

    private static HashSet<string> CheckSqlite(TestDatabase database)
    {
        var connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = Path.Combine(database.DataDirectory, "vardbro.db"),
            Mode = SqliteOpenMode.ReadOnly,
            Pooling = false,
        }.ToString();
        var ids = new HashSet<string>(StringComparer.Ordinal);
        using var connection = new SqliteConnection(connectionString);
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = """SELECT "Id", "Sha256", "SizeBytes" FROM local_documents""";
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            var id = reader.GetString(0);
            var sha256 = reader.GetString(1);
            var size = reader.GetInt64(2);
            ids.Add(id);
            var path = Path.Combine(database.DataDirectory, "blobs", sha256[..2], sha256[2..4], sha256);
            Assert.True(File.Exists(path), $"local_documents row {id} names blob {sha256}, which is not at {path}.");
            var bytes = File.ReadAllBytes(path);
            Assert.True(
                bytes.Length == size && Sha256(bytes) == sha256,
                $"local_documents row {id} states {size} bytes with sha256 {sha256}; {path} holds {bytes.Length} bytes with sha256 {Sha256(bytes)}.");
        }

        return ids;
    }

    private static HashSet<string> ReferencedSqliteBlobs(TestDatabase database)
    {
        var connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = Path.Combine(database.DataDirectory, "vardbro.db"),
            Mode = SqliteOpenMode.ReadOnly,
            Pooling = false,
        }.ToString();
        var shas = new HashSet<string>(StringComparer.Ordinal);
        using var connection = new SqliteConnection(connectionString);
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = """SELECT DISTINCT "Sha256" FROM local_documents""";
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            shas.Add(reader.GetString(0));
        }

        return shas;
    }

    private static async Task<HashSet<string>> CheckPostgresAsync(TestDatabase database)
    {
        await using var connection = new NpgsqlConnection(database.ConnectionString);
        await connection.OpenAsync();

        var orphans = new List<string>();
        await using (var command = new NpgsqlCommand(
            """
            SELECT d."Id", d."Sha256", d."SizeBytes", length(b."Bytes"), encode(sha256(b."Bytes"), 'hex')
            FROM local_documents d LEFT JOIN local_blobs b ON b."Sha256" = d."Sha256"
            WHERE b."Sha256" IS NULL OR length(b."Bytes") <> d."SizeBytes" OR encode(sha256(b."Bytes"), 'hex') <> d."Sha256"
            """,
            connection))
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                orphans.Add(reader.IsDBNull(3)
                    ? $"{reader.GetString(0)} names blob {reader.GetString(1)}, which local_blobs lacks"
                    : $"{reader.GetString(0)} states {reader.GetInt64(2)} bytes with sha256 {reader.GetString(1)}; local_blobs holds {reader.GetInt32(3)} bytes with sha256 {reader.GetString(4)}");
            }
        }

        Assert.True(orphans.Count == 0, "local_documents rows without their bytes:\n" + string.Join('\n', orphans));

        var ids = new HashSet<string>(StringComparer.Ordinal);
        await using (var command = new NpgsqlCommand("""SELECT "Id" FROM local_documents""", connection))
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                ids.Add(reader.GetString(0));
            }
        }

        return ids;
    }

    private static async Task<List<ListedDocument>> ListAllAsync(HttpClient client)
    {
        var documents = new List<ListedDocument>();
        string? url = Documents + "?limit=200";
        for (var page = 0; url is not null; page++)
        {
            Assert.True(page < 1000, "The Link headers of the document list never end.");
            using var response = await client.GetAsync(new Uri(url, UriKind.Relative));
            var items = (await response.JsonAsync(HttpStatusCode.OK)).AsArray();
            documents.AddRange(items.Select(d => new ListedDocument((string)d!["id"]!, (string)d["sha256"]!, (long)d["size_bytes"]!)));
            url = response.Headers.TryGetValues("Link", out var links)
                ? NextLink().Match(string.Join(',', links)) is { Success: true } match ? match.Groups[1].Value : null
                : null;
        }

        return documents;
    }

    private static async Task<(HttpStatusCode Status, string? ETag, string? Sha256, long Length)> DownloadAsync(HttpClient client, string id)
    {
        using var response = await client.GetAsync(new Uri($"{Documents}/{id}/content", UriKind.Relative), HttpCompletionOption.ResponseHeadersRead);
        if (response.StatusCode != HttpStatusCode.OK)
        {
            return (response.StatusCode, null, null, 0);
        }

        await using var stream = await response.Content.ReadAsStreamAsync();
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[81920];
        long length = 0;
        int read;
        while ((read = await stream.ReadAsync(buffer)) > 0)
        {
            hash.AppendData(buffer, 0, read);
            length += read;
        }

        return (response.StatusCode, response.Headers.ETag?.Tag, Convert.ToHexStringLower(hash.GetHashAndReset()), length);
    }

    private sealed record Posted(HttpStatusCode Status, string Body, string? Id, string? Sha256, long SizeBytes);

    private static async Task<Posted> PostAsync(HttpClient client, byte[] body)
    {
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var response = await client.PostAsync(new Uri(Documents, UriKind.Relative), content);
        var text = await response.Content.ReadAsStringAsync();
        if (response.StatusCode != HttpStatusCode.Created)
        {
            return new Posted(response.StatusCode, text, null, null, 0);
        }

        var created = JsonNode.Parse(text)!;
        return new Posted(response.StatusCode, text, (string?)created["id"], (string?)created["sha256"], (long?)created["size_bytes"] ?? -1);
    }

    /// <summary>The upload JSON as UTF-8 bytes, the base64 written straight into the array.</summary>
    private static byte[] UploadBody(byte[] pdf, string title)
    {
        var prefix = Encoding.UTF8.GetBytes("{\"content\":\"");
        var suffix = Encoding.UTF8.GetBytes(
            new JsonObject { ["format"] = "application/pdf", ["title"] = title, ["type"] = "Lab Result", ["created_by_id"] = "1001" }.ToJsonString()[1..]);
        var base64Length = Base64.GetMaxEncodedToUtf8Length(pdf.Length);
        var body = new byte[prefix.Length + base64Length + 2 + suffix.Length];
        prefix.CopyTo(body, 0);
        Base64.EncodeToUtf8(pdf, body.AsSpan(prefix.Length, base64Length), out _, out var written);
        Assert.Equal(base64Length, written);
        var at = prefix.Length + written;
        body[at++] = (byte)'"';
        body[at++] = (byte)',';
        suffix.CopyTo(body, at);
        return body;
    }

    private static byte[] RandomPdf(int size)
    {
        var bytes = GC.AllocateUninitializedArray<byte>(size);
        Random.Shared.NextBytes(bytes);
        Encoding.ASCII.GetBytes("%PDF-1.7\n").CopyTo(bytes, 0);
        return bytes;
    }

    private static string Sha256(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    /// <summary>A field of <c>/proc/{pid}/status</c> such as <c>VmHWM:   123456 kB</c>, in kB.</summary>
    private static long ReadStatusKb(int processId, string field)
    {
        foreach (var line in File.ReadLines($"/proc/{processId.ToString(CultureInfo.InvariantCulture)}/status"))
        {
            if (line.StartsWith(field + ":", StringComparison.Ordinal))
            {
                return long.Parse(line[(field.Length + 1)..].Replace("kB", string.Empty, StringComparison.Ordinal).Trim(), CultureInfo.InvariantCulture);
            }
        }

        throw new InvalidOperationException($"/proc/{processId}/status has no {field}.");
    }

    /// <summary>Resets the process's VmHWM to its current RSS (writing 5 to <c>/proc/{pid}/clear_refs</c>, Linux 4.0+), if allowed.</summary>
    private static bool TryResetPeak(int processId)
    {
        try
        {
            File.WriteAllText($"/proc/{processId.ToString(CultureInfo.InvariantCulture)}/clear_refs", "5");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static Dictionary<string, string?> SandboxSettings(TestDatabase database)
    {
        var settings = database.Settings();
        settings["Sandbox:Enabled"] = "true";
        return settings;
    }

    [GeneratedRegex("<([^>]+)>\\s*;\\s*rel=\"next\"")]
    private static partial Regex NextLink();
}
