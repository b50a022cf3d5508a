using System.Net;
using Vardbro.Server.Tests.Infrastructure;

namespace Vardbro.Server.Tests.Processes;

/// <summary>
/// The built server as an operator runs it: what was acknowledged is still there after a restart or
/// a SIGKILL, the sandbox is seeded once, personal data stays out of the log, and production
/// defaults keep the sandbox and the admin API off.
/// </summary>
[Collection(ProcessTestGroup.Name)]
[Trait("Category", "Process")]
public sealed class RestartTests
{
    private const string L01 = "/api/emrs/webdoc/care-units/L0_1";
    private const string PersonalNumber = "197110021834";
    private const string HsaId = "SE2321000131-E000000012345";
    private const string UnitId = "restart-unit";
    private const string ResourceId = "restart-practitioner";
    private const string ServiceId = "restart-service";

    private static readonly object Patient = new { first_name = "Åsa", last_name = "Öberg", external_id = PersonalNumber };

    [Fact]
    public async Task Everything_acknowledged_survives_a_graceful_restart()
    {
        using var database = TestDatabase.Create();
        Written written;
        await using (var first = await ServerProcess.StartAsync(SandboxSettings(database)))
        {
            Assert.Contains("Sandbox mode is on", first.Output, StringComparison.Ordinal);
            written = await WriteEverythingAsync(first);
            await first.StopAsync();
            Assert.Equal(0, first.ExitCode);
        }

        await using var second = await ServerProcess.StartAsync(SandboxSettings(database));
        await AssertEverythingSurvivedAsync(second, written);
    }

    [Fact]
    public async Task Everything_acknowledged_survives_a_sigkill()
    {
        using var database = TestDatabase.Create();
        Written written;
        await using (var first = await ServerProcess.StartAsync(SandboxSettings(database)))
        {
            written = await WriteEverythingAsync(first);
            first.Kill();
            Assert.True(first.HasExited);
        }

        await using var second = await ServerProcess.StartAsync(SandboxSettings(database));
        await AssertEverythingSurvivedAsync(second, written);
    }

    [Fact]
    public async Task The_log_never_contains_personal_data()
    {
        using var database = TestDatabase.Create();
        await using var server = await ServerProcess.StartAsync(SandboxSettings(database));
        using var client = server.Sandbox();

        var created = await client.PostJsonAsync($"{L01}/patients", Patient, HttpStatusCode.Created);
        await client.PostJsonAsync($"{L01}/patients", Patient, HttpStatusCode.OK);
        await client.PostJsonAsync($"{L01}/patients", new { first_name = "Åsa", last_name = "Öberg", external_id = "se_personal_number:19711002-1834" }, HttpStatusCode.OK);
        var emrId = (string)created["emr_id"]!;

        // Concurrent identical creates: the path where a unique index may refuse the losers.
        var racers = Enumerable.Range(0, 8).Select(_ => Post(client, $"{L01}/patients", new { first_name = "Åsa", last_name = "Öberg", external_id = "194010126672" }));
        foreach (var response in await Task.WhenAll(racers))
        {
            using (response)
            {
                Assert.True(response.StatusCode is HttpStatusCode.Created or HttpStatusCode.OK, $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
            }
        }

        foreach (var id in new[] { $"se_personal_number:{PersonalNumber}", "se_personal_number:19711002-1834", "se_personal_number:711002-1834", $"emr_id:{emrId}", emrId })
        {
            var patient = await client.GetJsonAsync($"{L01}/patients/{id}");
            Assert.Equal(PersonalNumber, (string?)patient["se_personal_number"]);
        }

        Assert.Single((await client.GetJsonAsync($"{L01}/patients?first_name=%C3%85sa&last_name=%C3%96berg&birth_date=1971-10-02")).AsArray());
        Assert.NotEmpty((await client.GetJsonAsync($"{L01}/patients?last_name=oberg")).AsArray());

        // Failures with personal data in the request: not found, bad checksum, bad JSON, wrong types.
        await client.GetProblemAsync($"{L01}/patients/se_personal_number:195003042222", HttpStatusCode.NotFound, "NOT_FOUND");
        await client.GetProblemAsync($"{L01}/patients/se_personal_number:197110021835", HttpStatusCode.BadRequest, "INVALID_PATIENT_ID");
        await client.PostProblemAsync($"{L01}/patients", "{\"first_name\":\"Åsa\",\"last_name\":\"Öberg\",\"external_id\":\"197110021834\"", HttpStatusCode.BadRequest);
        await client.PostProblemAsync($"{L01}/patients", "{\"first_name\":\"Åsa\",\"last_name\":\"Öberg\",\"external_id\":197110021834}", HttpStatusCode.BadRequest);
        await client.PostProblemAsync($"{L01}/patients", new { first_name = "Åsa", last_name = "Öberg", external_id = "1971100218345" }, HttpStatusCode.BadRequest);
        using (var other = server.WithCredentials(ServerProcess.SandboxClientId, "wrong-secret"))
        {
            using var response = await other.GetAsync(new Uri($"{L01}/patients/se_personal_number:{PersonalNumber}", UriKind.Relative));
            await response.ProblemAsync(HttpStatusCode.Unauthorized, "UNAUTHORIZED");
        }

        // Stopping flushes the console logger's queue, so the whole log is there to read.
        await server.StopAsync();
        var log = server.Output;
        Assert.Contains("Application started", log, StringComparison.Ordinal);
        foreach (var personal in new[] { PersonalNumber, "19711002-1834", "711002-1834", "194010126672", "Öberg", "Åsa" })
        {
            Assert.False(log.Contains(personal, StringComparison.OrdinalIgnoreCase), $"The log contains '{personal}':\n{log}");
        }
    }

    [Fact]
    public async Task Production_defaults_keep_the_sandbox_client_and_the_admin_api_off()
    {
        using var database = TestDatabase.Create();
        var settings = database.Settings();
        settings["Sandbox:Enabled"] = "false";
        await using var server = await ServerProcess.StartAsync(settings);

        using (var sandbox = server.Sandbox())
        {
            using var response = await sandbox.GetAsync(new Uri("/api/emrs", UriKind.Relative));
            await response.ProblemAsync(HttpStatusCode.Unauthorized, "UNAUTHORIZED");
            using var patients = await sandbox.GetAsync(new Uri($"{L01}/patients/se_personal_number:191212121212", UriKind.Relative));
            await patients.ProblemAsync(HttpStatusCode.Unauthorized, "UNAUTHORIZED");
        }

        // No admin key configured: the admin API is off whatever key is sent (also the Development one).
        foreach (var key in new[] { ServerProcess.AdminKey, "sandbox-admin-key", string.Empty })
        {
            using var admin = server.Admin(key);
            using var list = await admin.GetAsync(new Uri("/api/admin/clients", UriKind.Relative));
            await list.ProblemAsync(HttpStatusCode.NotFound);
            using var content = JsonContent.Of("""{"name":"x","grants":[{"emr":"webdoc","care_units":["*"]}]}""");
            using var create = await admin.PostAsync(new Uri("/api/admin/clients", UriKind.Relative), content);
            await create.ProblemAsync(HttpStatusCode.NotFound);
        }

        Assert.DoesNotContain("Sandbox mode is on", server.Output, StringComparison.Ordinal);
    }

    private static Dictionary<string, string?> SandboxSettings(TestDatabase database)
    {
        var settings = database.Settings();
        settings["Sandbox:Enabled"] = "true";
        settings["Admin:Key"] = ServerProcess.AdminKey;
        return settings;
    }

    /// <summary>What the first process acknowledged, and what the sandbox looked like.</summary>
    private sealed record Written(
        string PatientId,
        string PatientEmrId,
        IReadOnlyList<(string Id, string EmrId)> BurstPatients,
        string ClientId,
        string ClientSecret,
        int WebdocCareUnits,
        int TakecareCareUnits,
        int L01Resources,
        int AuditEvents);

    private static async Task<Written> WriteEverythingAsync(ServerProcess server)
    {
        using var sandbox = server.Sandbox();
        using var admin = server.Admin();

        var seededUnits = (await sandbox.GetJsonAsync("/api/emrs/webdoc/care-units")).AsArray().Count;
        Assert.Equal(2, seededUnits);

        var patient = await sandbox.PostJsonAsync($"{L01}/patients", Patient, HttpStatusCode.Created);
        await sandbox.PostJsonAsync($"{L01}/patients", Patient, HttpStatusCode.OK);
        var patientId = (string)patient["id"]!;
        var patientEmrId = (string)patient["emr_id"]!;

        var credentials = await admin.PostJsonAsync(
            "/api/admin/clients",
            new { name = "Restart test client", grants = new[] { new { emr = "webdoc", care_units = new[] { "L0_1", UnitId } } } },
            HttpStatusCode.Created);
        var clientId = (string)credentials["client_id"]!;
        var clientSecret = (string)credentials["client_secret"]!;
        using (var own = server.WithCredentials(clientId, clientSecret))
        {
            await own.GetJsonAsync($"{L01}/patients/emr_id:{patientEmrId}");
        }

        await admin.PostJsonAsync(
            "/api/admin/emrs/webdoc/care-units",
            new { id = UnitId, name = "Restartkliniken", time_zone = "Europe/Stockholm", address = "Omstartsvägen 1" },
            HttpStatusCode.Created);
        await admin.PostJsonAsync(
            $"/api/admin/emrs/webdoc/care-units/{UnitId}/resources",
            new { id = ResourceId, name = "Doktor Omstart", title = "Läkare", kind = "practitioner", hsa_id = HsaId },
            HttpStatusCode.Created);
        await admin.PostJsonAsync(
            $"/api/admin/emrs/webdoc/care-units/{UnitId}/healthcare-services",
            new { id = ServiceId, name = "Omstartsbesök", description = "Efter en omstart.", duration_minutes = 20 },
            HttpStatusCode.Created);

        // A burst of concurrent creates, every one acknowledged just before the process goes away.
        var burst = await Task.WhenAll(SyntheticPersonalNumbers().Take(12).Select((pn, i) =>
            sandbox.PostJsonAsync($"{L01}/patients", new { first_name = $"Burst{i}", last_name = "Omstart", external_id = pn }, HttpStatusCode.Created)));

        var audit = await CountAuditEventsAsync(admin);
        Assert.True(audit >= 3 + burst.Length, $"Only {audit} audit events after {3 + burst.Length} audited requests.");

        return new Written(
            patientId,
            patientEmrId,
            [.. burst.Select(b => ((string)b["id"]!, (string)b["emr_id"]!))],
            clientId,
            clientSecret,
            (await sandbox.GetJsonAsync("/api/emrs/webdoc/care-units")).AsArray().Count,
            (await sandbox.GetJsonAsync("/api/emrs/takecare/care-units")).AsArray().Count,
            (await sandbox.GetJsonAsync($"{L01}/resources")).AsArray().Count,
            audit);
    }

    private static async Task AssertEverythingSurvivedAsync(ServerProcess server, Written written)
    {
        using var sandbox = server.Sandbox();
        using var admin = server.Admin();

        // Audit events first: reading them is not itself audited, so the count is comparable.
        Assert.Equal(written.AuditEvents, await CountAuditEventsAsync(admin));
        var events = (await admin.GetJsonAsync($"/api/admin/audit?patient_id={written.PatientId}")).AsArray();
        Assert.True(
            events.Any(e => (string?)e!["action"] == "patient.create" && (int)e["outcome_status"]! == 201),
            $"No patient.create event with status 201 for the patient: {events.ToJsonString()}");

        // The patient, by personal number and by emr id, with the same Vardbro id.
        var byNumber = await sandbox.GetJsonAsync($"{L01}/patients/se_personal_number:{PersonalNumber}");
        Assert.Equal(written.PatientId, (string?)byNumber["id"]);
        Assert.Equal("Åsa", (string?)byNumber["first_name"]);
        Assert.Equal("Öberg", (string?)byNumber["last_name"]);
        var byEmrId = await sandbox.GetJsonAsync($"{L01}/patients/emr_id:{written.PatientEmrId}");
        Assert.Equal(written.PatientId, (string?)byEmrId["id"]);
        Assert.Equal(PersonalNumber, (string?)byEmrId["se_personal_number"]);
        await sandbox.PostJsonAsync($"{L01}/patients", Patient, HttpStatusCode.OK);
        foreach (var (id, emrId) in written.BurstPatients)
        {
            Assert.Equal(id, (string?)(await sandbox.GetJsonAsync($"{L01}/patients/emr_id:{emrId}"))["id"]);
        }

        // The client's credentials and grants.
        using (var own = server.WithCredentials(written.ClientId, written.ClientSecret))
        {
            var patient = await own.GetJsonAsync($"{L01}/patients/emr_id:{written.PatientEmrId}");
            Assert.Equal(written.PatientId, (string?)patient["id"]);
            var units = (await own.GetJsonAsync("/api/emrs/webdoc/care-units")).AsArray();
            Assert.Equal(new[] { "L0_1", UnitId }, units.Select(u => (string)u!["id"]!).Order(StringComparer.Ordinal));
            using var takecare = await own.GetAsync(new Uri("/api/emrs/takecare/care-units/10/patients/se_personal_number:191212121212", UriKind.Relative));
            await takecare.ProblemAsync(HttpStatusCode.Forbidden, "FORBIDDEN");
        }

        using (var wrong = server.WithCredentials(written.ClientId, written.ClientSecret + "x"))
        {
            using var response = await wrong.GetAsync(new Uri("/api/emrs", UriKind.Relative));
            await response.ProblemAsync(HttpStatusCode.Unauthorized, "UNAUTHORIZED");
        }

        var clients = (await admin.GetJsonAsync("/api/admin/clients")).AsArray();
        Assert.Single(clients, c => (string?)c!["client_id"] == written.ClientId);
        Assert.Single(clients, c => (string?)c!["client_id"] == ServerProcess.SandboxClientId);
        Assert.DoesNotContain("client_secret", clients.ToJsonString(), StringComparison.Ordinal);

        // The master data.
        var webdocUnits = (await sandbox.GetJsonAsync("/api/emrs/webdoc/care-units")).AsArray();
        Assert.Equal(written.WebdocCareUnits, webdocUnits.Count);
        var unit = Assert.Single(webdocUnits, u => (string?)u!["id"] == UnitId)!;
        Assert.Equal("Restartkliniken", (string?)unit["name"]);
        Assert.Equal("Omstartsvägen 1", (string?)unit["address"]);
        var resource = await sandbox.GetJsonAsync($"/api/emrs/webdoc/care-units/{UnitId}/resources/hsa_id:{HsaId}");
        Assert.Equal(ResourceId, (string?)resource["id"]);
        Assert.Equal("Doktor Omstart", (string?)resource["name"]);
        Assert.Equal(HsaId, (string?)resource["hsa_id"]);
        var service = Assert.Single((await sandbox.GetJsonAsync($"/api/emrs/webdoc/care-units/{UnitId}/healthcare-services")).AsArray())!;
        Assert.Equal(ServiceId, (string?)service["id"]);
        Assert.Equal(20, (int)service["duration_minutes"]!);

        // The sandbox was not seeded a second time.
        Assert.Equal(written.TakecareCareUnits, (await sandbox.GetJsonAsync("/api/emrs/takecare/care-units")).AsArray().Count);
        var resources = (await sandbox.GetJsonAsync($"{L01}/resources")).AsArray();
        Assert.Equal(written.L01Resources, resources.Count);
        Assert.Equal(resources.Count, resources.Select(r => (string?)r!["hsa_id"]).Distinct().Count());
        Assert.Single((await sandbox.GetJsonAsync($"{L01}/patients?first_name=Tolvan&last_name=Tolvansson")).AsArray());
        Assert.Single((await sandbox.GetJsonAsync("/api/emrs/takecare/care-units/10/resources")).AsArray());

        // The audit chain written by the first process is intact.
        var verify = await admin.GetJsonAsync("/api/admin/audit/verify");
        Assert.True((bool)verify["valid"]!, verify.ToJsonString());
    }

    private static async Task<int> CountAuditEventsAsync(HttpClient admin)
    {
        var count = 0;
        string? cursor = null;
        do
        {
            using var response = await admin.GetAsync(new Uri("/api/admin/audit?limit=200" + (cursor is null ? string.Empty : $"&cursor={cursor}"), UriKind.Relative));
            var page = await response.JsonAsync(HttpStatusCode.OK);
            count += page.AsArray().Count;
            cursor = response.Headers.TryGetValues("Link", out var links)
                ? System.Text.RegularExpressions.Regex.Match(string.Join(',', links), "cursor=([^&>]+)").Groups[1].Value
                : null;
        }
        while (!string.IsNullOrEmpty(cursor));

        return count;
    }

    private static async Task<HttpResponseMessage> Post(HttpClient client, string url, object body)
    {
        using var content = JsonContent.Of(System.Text.Json.JsonSerializer.Serialize(body));
        return await client.PostAsync(new Uri(url, UriKind.Relative), content);
    }

    /// <summary>Checksum-valid Swedish personal numbers born 1980-01-01, none of them a sandbox patient.</summary>
    private static IEnumerable<string> SyntheticPersonalNumbers()
    {
        for (var serial = 100; serial < 1000; serial++)
        {
            var body = $"800101{serial}";
            var sum = 0;
            for (var i = 0; i < body.Length; i++)
            {
                var d = (body[i] - '0') * (i % 2 == 0 ? 2 : 1);
                sum += d > 9 ? d - 9 : d;
            }

            yield return $"19{body}{(10 - (sum % 10)) % 10}";
        }
    }
}
