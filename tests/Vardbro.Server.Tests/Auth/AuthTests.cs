using System.Net;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Vardbro.Server.Tests.Infrastructure;

namespace Vardbro.Server.Tests.Auth;

/// <summary>Authentication, grants, secret rotation and revocation, the admin key, request ids (API.md §1, §2).</summary>
public sealed partial class AuthTests(VardbroFactory factory) : IClassFixture<VardbroFactory>
{
    private const string Clients = "/api/admin/clients";
    private const string L01 = "/api/emrs/webdoc/care-units/L0_1";
    private const string L02 = "/api/emrs/webdoc/care-units/L0_2";
    private const string OnlyL01 = """[{"emr":"webdoc","care_units":["L0_1"]}]""";

    [Fact]
    public async Task Every_failed_authentication_answers_byte_for_byte_the_same()
    {
        var other = await CreateClientAsync("auth-other", OnlyL01);
        var revoked = await CreateClientAsync("auth-revoked", OnlyL01);
        using (var admin = factory.Admin())
        {
            using var deleted = await admin.DeleteAsync(new Uri($"{Clients}/{revoked.Id}", UriKind.Relative));
            Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        }

        var sandboxId = VardbroFactory.SandboxClientId;
        var sandboxSecret = VardbroFactory.SandboxSecret;
        var variants = new List<(string Name, (string, string)[] Headers)>
        {
            ("no credentials", []),
            ("missing secret", [("x-leyr-client-id", sandboxId)]),
            ("missing id", [("x-leyr-client-secret", sandboxSecret)]),
            ("empty id and secret", [("x-leyr-client-id", string.Empty), ("x-leyr-client-secret", string.Empty)]),
            ("wrong secret", [("x-leyr-client-id", sandboxId), ("x-leyr-client-secret", "wrong-secret")]),
            ("secret in another case", [("x-leyr-client-id", sandboxId), ("x-leyr-client-secret", sandboxSecret.ToUpperInvariant())]),
            ("secret with a suffix", [("x-leyr-client-id", sandboxId), ("x-leyr-client-secret", sandboxSecret + "x")]),
            ("unknown client", [("x-leyr-client-id", "cli_does_not_exist"), ("x-leyr-client-secret", sandboxSecret)]),
            ("another client's secret", [("x-leyr-client-id", sandboxId), ("x-leyr-client-secret", other.Secret)]),
            ("a client with the sandbox secret", [("x-leyr-client-id", other.Id), ("x-leyr-client-secret", sandboxSecret)]),
            ("a revoked client with its own secret", [("x-leyr-client-id", revoked.Id), ("x-leyr-client-secret", revoked.Secret)]),
            ("an id of 10 KB", [("x-leyr-client-id", new string('c', 10_000)), ("x-leyr-client-secret", sandboxSecret)]),
            ("the admin key as secret", [("x-leyr-client-id", sandboxId), ("x-leyr-client-secret", VardbroFactory.AdminKey)]),
        };
        string[] urls = ["/api/emrs", $"{L01}/patients?first_name=Tolvan", "/api/emrs/nope/care-units", $"{L01}/patients/se_personal_number:191212121212"];

        string? reference = null;
        foreach (var url in urls)
        {
            foreach (var (name, headers) in variants)
            {
                using var response = await SendAsync(HttpMethod.Get, url, headers);
                var problem = await response.ProblemAsync(HttpStatusCode.Unauthorized, "UNAUTHORIZED");
                Assert.Equal("UNAUTHORIZED", (string?)problem["code"]);
                var detail = (string?)problem["detail"];
                Assert.DoesNotContain(sandboxId, detail, StringComparison.Ordinal);
                Assert.DoesNotContain(other.Id, detail, StringComparison.Ordinal);
                var body = WithoutInstance(problem);
                reference ??= body;
                Assert.True(reference == body, $"'{name}' on {url} answers differently:\n{body}\nvs\n{reference}");
            }
        }
    }

    [Fact]
    public async Task A_client_granted_one_care_unit_is_refused_the_others_with_403()
    {
        var (id, secret) = await CreateClientAsync("auth-l01", OnlyL01);
        using var client = factory.WithCredentials(id, secret);
        await client.GetJsonAsync($"{L01}/resources");
        await client.GetJsonAsync($"{L01}/healthcare-services");
        await client.GetJsonAsync($"{L01}/patients?first_name=Tolvan");
        await client.GetJsonAsync($"{L01}/patients/se_personal_number:191212121212");

        string[] refused =
        [
            $"{L02}/resources",
            $"{L02}/resources/2001",
            $"{L02}/healthcare-services",
            $"{L02}/patients?first_name=Tolvan",
            $"{L02}/patients/se_personal_number:191212121212",
            "/api/emrs/webdoc/care-units/L0_9/resources",
            "/api/emrs/takecare/care-units",
            "/api/emrs/takecare/care-units/10/resources",
            "/api/emrs/takecare/care-units/10/patients/se_personal_number:197110021834",
        ];
        foreach (var url in refused)
        {
            var problem = await client.GetProblemAsync(url, HttpStatusCode.Forbidden, "FORBIDDEN");
            Assert.Equal("FORBIDDEN", (string?)problem["code"]);
        }

        await client.PostProblemAsync($"{L02}/patients", """{"first_name":"Grant","last_name":"Refused"}""", HttpStatusCode.Forbidden, "FORBIDDEN");
        using var sandbox = factory.Sandbox();
        var none = await sandbox.GetJsonAsync("/api/emrs/webdoc/care-units/L0_2/patients?first_name=Grant&last_name=Refused");
        Assert.Empty(none.AsArray());
    }

    [Fact]
    public async Task Discovery_lists_only_what_is_granted()
    {
        var (id, secret) = await CreateClientAsync("auth-discovery", OnlyL01);
        using var client = factory.WithCredentials(id, secret);
        Assert.Equal("webdoc", Joined(await client.GetJsonAsync("/api/emrs"), "code"));
        Assert.Equal("L0_1", Joined(await client.GetJsonAsync("/api/emrs/webdoc/care-units"), "id"));

        using var sandbox = factory.Sandbox();
        Assert.Equal("takecare,webdoc", Joined(await sandbox.GetJsonAsync("/api/emrs"), "code"));
        var units = Ids(await sandbox.GetJsonAsync("/api/emrs/webdoc/care-units"), "id");
        Assert.Contains("L0_1", units);
        Assert.Contains("L0_2", units);
    }

    [Fact]
    public async Task A_patient_of_the_emr_is_found_from_any_granted_care_unit()
    {
        using var sandbox = factory.Sandbox();
        var created = await sandbox.PostJsonAsync($"{L02}/patients", """{"first_name":"Elsewhere","last_name":"Registered","birth_date":"1980-01-01"}""", HttpStatusCode.Created);
        var (id, secret) = await CreateClientAsync("auth-emr-patients", OnlyL01);
        using var client = factory.WithCredentials(id, secret);
        var read = await client.GetJsonAsync($"{L01}/patients/emr_id:{(string)created["emr_id"]!}");
        Assert.Equal((string?)created["id"], (string?)read["id"]);
        Assert.Equal("L0_2", (string?)read["care_unit_id"]);
    }

    [Fact]
    public async Task Changed_grants_take_effect_on_the_next_request()
    {
        var (id, secret) = await CreateClientAsync("auth-regrant", OnlyL01);
        using var client = factory.WithCredentials(id, secret);
        await client.GetJsonAsync($"{L01}/resources");
        await client.GetProblemAsync("/api/emrs/takecare/care-units/10/resources", HttpStatusCode.Forbidden, "FORBIDDEN");

        using var admin = factory.Admin();
        var updated = await admin.PutJsonAsync($"{Clients}/{id}/grants", """{"grants":[{"emr":"takecare","care_units":["*"]}]}""", HttpStatusCode.OK);
        AssertNoSecretMaterial(updated, secret);

        await client.GetJsonAsync("/api/emrs/takecare/care-units/10/resources");
        await client.GetProblemAsync($"{L01}/resources", HttpStatusCode.Forbidden, "FORBIDDEN");
        await client.GetProblemAsync("/api/emrs/webdoc/care-units", HttpStatusCode.Forbidden, "FORBIDDEN");
        Assert.Equal("takecare", Joined(await client.GetJsonAsync("/api/emrs"), "code"));
        Assert.Equal("10", Joined(await client.GetJsonAsync("/api/emrs/takecare/care-units"), "id"));

        await admin.PutJsonAsync($"{Clients}/{id}/grants", """{"grants":[{"emr":"webdoc","care_units":["L0_1","L0_2"]}]}""", HttpStatusCode.OK);
        Assert.Equal("L0_1,L0_2", Joined(await client.GetJsonAsync("/api/emrs/webdoc/care-units"), "id"));
        await client.GetJsonAsync($"{L02}/resources");
        await client.GetProblemAsync("/api/emrs/takecare/care-units/10/resources", HttpStatusCode.Forbidden, "FORBIDDEN");
    }

    [Fact]
    public async Task Rotation_stops_the_old_secret_at_once_and_the_new_one_works()
    {
        var (id, oldSecret) = await CreateClientAsync("auth-rotate", OnlyL01);
        using var old = factory.WithCredentials(id, oldSecret);
        await old.GetJsonAsync("/api/emrs");
        await old.GetJsonAsync("/api/emrs");

        using var admin = factory.Admin();
        var rotated = await admin.PostJsonAsync($"{Clients}/{id}/secret", "{}", HttpStatusCode.OK);
        Assert.Equal(id, (string?)rotated["client_id"]);
        var newSecret = (string?)rotated["client_secret"];
        Assert.False(string.IsNullOrEmpty(newSecret));
        Assert.NotEqual(oldSecret, newSecret);

        await old.GetProblemAsync("/api/emrs", HttpStatusCode.Unauthorized, "UNAUTHORIZED");
        using var fresh = factory.WithCredentials(id, newSecret!);
        await fresh.GetJsonAsync("/api/emrs");
        await fresh.GetJsonAsync($"{L01}/resources");
        await old.GetProblemAsync("/api/emrs", HttpStatusCode.Unauthorized, "UNAUTHORIZED");

        // A second rotation retires the first new secret too.
        var again = await admin.PostJsonAsync($"{Clients}/{id}/secret", "{}", HttpStatusCode.OK);
        await fresh.GetProblemAsync("/api/emrs", HttpStatusCode.Unauthorized, "UNAUTHORIZED");
        using var newest = factory.WithCredentials(id, (string)again["client_secret"]!);
        await newest.GetJsonAsync("/api/emrs");

        var list = await admin.GetJsonAsync(Clients);
        AssertNoSecretMaterial(list, newSecret);
        AssertNoSecretMaterial(list, (string?)again["client_secret"]);
    }

    [Fact]
    public async Task Revocation_refuses_the_very_next_request()
    {
        var (id, secret) = await CreateClientAsync("auth-revoke", OnlyL01);
        using var client = factory.WithCredentials(id, secret);
        await client.GetJsonAsync("/api/emrs");
        await client.GetJsonAsync($"{L01}/resources");

        using var admin = factory.Admin();
        using (var deleted = await admin.DeleteAsync(new Uri($"{Clients}/{id}", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        }

        await client.GetProblemAsync("/api/emrs", HttpStatusCode.Unauthorized, "UNAUTHORIZED");
        await client.GetProblemAsync($"{L01}/resources", HttpStatusCode.Unauthorized, "UNAUTHORIZED");
        await client.PostProblemAsync($"{L01}/patients", """{"first_name":"Revoked","last_name":"Client"}""", HttpStatusCode.Unauthorized, "UNAUTHORIZED");

        // Nothing the admin API does afterwards brings a revoked client back.
        using (var rotated = await admin.PostAsync(new Uri($"{Clients}/{id}/secret", UriKind.Relative), JsonContent.Of("{}")))
        {
            if (rotated.IsSuccessStatusCode)
            {
                var body = await rotated.JsonAsync(rotated.StatusCode);
                using var resurrected = factory.WithCredentials(id, (string)body["client_secret"]!);
                await resurrected.GetProblemAsync("/api/emrs", HttpStatusCode.Unauthorized, "UNAUTHORIZED");
            }
            else
            {
                await rotated.ProblemAsync(HttpStatusCode.NotFound, "NOT_FOUND");
            }
        }

        using (var regranted = await admin.PutAsync(new Uri($"{Clients}/{id}/grants", UriKind.Relative), JsonContent.Of("""{"grants":[{"emr":"webdoc","care_units":["*"]}]}""")))
        {
            Assert.True(regranted.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.OK, $"got {(int)regranted.StatusCode}");
        }

        await client.GetProblemAsync("/api/emrs", HttpStatusCode.Unauthorized, "UNAUTHORIZED");

        // Other clients are untouched.
        using var sandbox = factory.Sandbox();
        await sandbox.GetJsonAsync("/api/emrs");
    }

    [Fact]
    public async Task The_secret_is_shown_only_at_creation_and_rotation()
    {
        using var admin = factory.Admin();
        using var response = await admin.PostAsync(new Uri(Clients, UriKind.Relative), JsonContent.Of("""{"name":"auth-secret-shown-once","grants":[{"emr":"webdoc","care_units":["*"]}]}"""));
        var created = await response.JsonAsync(HttpStatusCode.Created);
        var id = (string)created["client_id"]!;
        var secret = (string)created["client_secret"]!;
        Assert.True(secret.Length >= 16, "a secret this short can be guessed");
        Assert.Equal("auth-secret-shown-once", (string?)created["name"]);
        Assert.DoesNotContain(secret, response.Headers.Location?.OriginalString ?? string.Empty, StringComparison.Ordinal);

        var list = await admin.GetJsonAsync(Clients);
        var mine = Assert.Single(list.AsArray(), c => (string?)c!["client_id"] == id);
        Assert.Equal("auth-secret-shown-once", (string?)mine!["name"]);
        AssertNoSecretMaterial(list, secret);
        AssertNoSecretMaterial(list, VardbroFactory.SandboxSecret);

        var regranted = await admin.PutJsonAsync($"{Clients}/{id}/grants", """{"grants":[{"emr":"takecare","care_units":["10"]}]}""", HttpStatusCode.OK);
        AssertNoSecretMaterial(regranted, secret);

        var rotated = await admin.PostJsonAsync($"{Clients}/{id}/secret", "{}", HttpStatusCode.OK);
        var newSecret = (string)rotated["client_secret"]!;
        AssertNoSecretMaterial(await admin.GetJsonAsync(Clients), newSecret);

        var audit = await admin.GetJsonAsync("/api/admin/audit?limit=200");
        Assert.DoesNotContain(secret, audit.ToJsonString(), StringComparison.Ordinal);
        Assert.DoesNotContain(newSecret, audit.ToJsonString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_admin_api_refuses_a_missing_or_wrong_key_with_401()
    {
        (string, string)[][] callers =
        [
            [],
            [("x-admin-key", "wrong")],
            [("x-admin-key", string.Empty)],
            [("x-admin-key", VardbroFactory.AdminKey.ToUpperInvariant())],
            [("x-admin-key", VardbroFactory.AdminKey + " ")],
            [("x-leyr-client-id", VardbroFactory.SandboxClientId), ("x-leyr-client-secret", VardbroFactory.SandboxSecret)],
        ];
        var requests = new List<(HttpMethod Method, string Url, string? Body)>
        {
            (HttpMethod.Get, Clients, null),
            (HttpMethod.Post, Clients, """{"name":"intruder","grants":[{"emr":"webdoc","care_units":["*"]}]}"""),
            (HttpMethod.Put, $"{Clients}/{VardbroFactory.SandboxClientId}/grants", """{"grants":[{"emr":"takecare","care_units":["10"]}]}"""),
            (HttpMethod.Post, $"{Clients}/{VardbroFactory.SandboxClientId}/secret", "{}"),
            (HttpMethod.Delete, $"{Clients}/{VardbroFactory.SandboxClientId}", null),
            (HttpMethod.Get, "/api/admin/audit", null),
            (HttpMethod.Get, "/api/admin/audit/verify", null),
            (HttpMethod.Post, "/api/admin/emrs/webdoc/care-units", """{"id":"intruder","name":"Intruder"}"""),
            (HttpMethod.Delete, "/api/admin/emrs/webdoc/care-units/L0_1/resources/1003", null),
            (HttpMethod.Get, "/api/admin/definitely-not-here", null),
        };

        foreach (var headers in callers)
        {
            foreach (var (method, url, body) in requests)
            {
                using var response = await SendAsync(method, url, headers, body);
                await response.ProblemAsync(HttpStatusCode.Unauthorized, "UNAUTHORIZED");
            }
        }

        // None of it happened: the sandbox client keeps its secret and grants, resource 1003 exists.
        using var sandbox = factory.Sandbox();
        Assert.Contains("webdoc", Ids(await sandbox.GetJsonAsync("/api/emrs"), "code"));
        await sandbox.GetJsonAsync($"{L01}/resources/1003");
        await sandbox.GetProblemAsync("/api/emrs/webdoc/care-units/intruder/resources", HttpStatusCode.NotFound, "NOT_FOUND");
        using var admin = factory.Admin();
        var list = (await admin.GetJsonAsync(Clients)).AsArray();
        Assert.DoesNotContain(list, c => (string?)c!["name"] == "intruder");
    }

    [Fact]
    public async Task Every_response_carries_a_uuid_request_id_and_errors_repeat_it()
    {
        var ids = new List<string>();
        using var sandbox = factory.Sandbox();
        using var admin = factory.Admin();
        using var anonymous = factory.CreateClient();

        async Task<HttpResponseMessage> Track(Task<HttpResponseMessage> call)
        {
            var response = await call;
            var values = response.Headers.TryGetValues("x-request-id", out var v) ? v.ToList() : [];
            var id = Assert.Single(values);
            Assert.True(Guid.TryParse(id, out _), $"x-request-id '{id}' is not a UUID");
            ids.Add(id);
            return response;
        }

        // Successes.
        (await Track(sandbox.GetAsync(new Uri("/api/emrs", UriKind.Relative)))).Dispose();
        (await Track(sandbox.GetAsync(new Uri($"{L01}/patients?first_name=Tolvan", UriKind.Relative)))).Dispose();
        (await Track(anonymous.GetAsync(new Uri("/healthz", UriKind.Relative)))).Dispose();
        (await Track(anonymous.GetAsync(new Uri("/openapi/v1.json", UriKind.Relative)))).Dispose();
        using var created = await Track(admin.PostAsync(new Uri(Clients, UriKind.Relative), JsonContent.Of("""{"name":"auth-request-id","grants":[{"emr":"webdoc","care_units":["L0_1"]}]}""")));
        var client = await created.JsonAsync(HttpStatusCode.Created);
        using var deleted = await Track(admin.DeleteAsync(new Uri($"{Clients}/{(string)client["client_id"]!}", UriKind.Relative)));
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);

        // Errors: ProblemAsync checks that instance repeats the header.
        using (var r = await Track(anonymous.GetAsync(new Uri("/api/emrs", UriKind.Relative))))
        {
            await r.ProblemAsync(HttpStatusCode.Unauthorized, "UNAUTHORIZED");
        }

        using (var r = await Track(anonymous.GetAsync(new Uri(Clients, UriKind.Relative))))
        {
            await r.ProblemAsync(HttpStatusCode.Unauthorized, "UNAUTHORIZED");
        }

        using (var r = await Track(sandbox.GetAsync(new Uri($"{L01}/patients", UriKind.Relative))))
        {
            await r.ProblemAsync(HttpStatusCode.BadRequest, "MISSING_REQUIRED_FIELD");
        }

        using (var r = await Track(sandbox.PostAsync(new Uri($"{L01}/patients", UriKind.Relative), JsonContent.Of("{"))))
        {
            await r.ProblemAsync(HttpStatusCode.BadRequest);
        }

        using (var r = await Track(sandbox.GetAsync(new Uri($"{L01}/patients/emr_id:nobody-here", UriKind.Relative))))
        {
            await r.ProblemAsync(HttpStatusCode.NotFound, "NOT_FOUND");
        }

        using (var r = await Track(sandbox.GetAsync(new Uri("/api/definitely-not-here", UriKind.Relative))))
        {
            await r.ProblemAsync(HttpStatusCode.NotFound, "NOT_FOUND");
        }

        using (var r = await Track(sandbox.DeleteAsync(new Uri("/api/emrs", UriKind.Relative))))
        {
            await r.ProblemAsync(HttpStatusCode.MethodNotAllowed);
        }

        var (restrictedId, restrictedSecret) = await CreateClientAsync("auth-request-id-403", OnlyL01);
        using var restricted = factory.WithCredentials(restrictedId, restrictedSecret);
        using (var r = await Track(restricted.GetAsync(new Uri($"{L02}/resources", UriKind.Relative))))
        {
            await r.ProblemAsync(HttpStatusCode.Forbidden, "FORBIDDEN");
        }

        Assert.Equal(ids.Count, ids.Distinct(StringComparer.OrdinalIgnoreCase).Count());
    }

    [Fact]
    public async Task A_request_id_sent_by_the_caller_does_not_replace_the_servers_uuid()
    {
        using var sandbox = factory.Sandbox();
        sandbox.DefaultRequestHeaders.Add("x-request-id", "not-a-uuid\"<script>");
        using var ok = await sandbox.GetAsync(new Uri("/api/emrs", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.True(Guid.TryParse(ok.Headers.GetValues("x-request-id").Single(), out _));

        using var error = await sandbox.GetAsync(new Uri($"{L01}/patients", UriKind.Relative));
        await error.ProblemAsync(HttpStatusCode.BadRequest, "MISSING_REQUIRED_FIELD");
    }

    [Fact]
    public async Task A_clients_requests_with_an_actor_id_succeed_and_the_actor_is_audited()
    {
        var (id, secret) = await CreateClientAsync("auth-actor", OnlyL01);
        using var client = factory.WithCredentials(id, secret);
        const string actor = "SE2321000131-E000000000101";
        client.DefaultRequestHeaders.Add("x-actor-id", actor);
        await client.GetJsonAsync("/api/emrs");
        await client.GetJsonAsync($"{L01}/resources");
        var found = await client.GetJsonAsync($"{L01}/patients?first_name=Tolvan&last_name=Tolvansson");
        Assert.NotEmpty(found.AsArray());
        var patient = await client.GetJsonAsync($"{L01}/patients/se_personal_number:191212121212");

        using var longActor = factory.WithCredentials(id, secret);
        longActor.DefaultRequestHeaders.Add("x-actor-id", new string('a', 2000));
        await longActor.GetJsonAsync($"{L01}/patients/se_personal_number:191212121212");

        using var admin = factory.Admin();
        var events = (await admin.GetJsonAsync($"/api/admin/audit?client_id={id}")).AsArray();
        Assert.Contains(events, e => (string?)e!["actor_id"] == actor && (string?)e["action"] == "patient.search");
        Assert.Contains(events, e => (string?)e!["actor_id"] == actor
            && e["patient_ids"]!.AsArray().Any(p => (string?)p == (string?)patient["id"]));
        Assert.All(events, e => Assert.Equal(id, (string?)e!["client_id"]));
    }

    // ---- helpers -------------------------------------------------------------------------------

    private async Task<(string Id, string Secret)> CreateClientAsync(string name, string grantsJson)
    {
        using var admin = factory.Admin();
        var created = await admin.PostJsonAsync(Clients, $$"""{"name":"{{name}}","grants":{{grantsJson}}}""", HttpStatusCode.Created);
        var id = (string?)created["client_id"];
        var secret = (string?)created["client_secret"];
        Assert.False(string.IsNullOrEmpty(id));
        Assert.False(string.IsNullOrEmpty(secret));
        return (id!, secret!);
    }

    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, string url, IEnumerable<(string Name, string Value)> headers, string? json = null)
    {
        using var client = factory.CreateClient();
        using var request = new HttpRequestMessage(method, new Uri(url, UriKind.Relative));
        foreach (var (name, value) in headers)
        {
            Assert.True(request.Headers.TryAddWithoutValidation(name, value), name);
        }

        if (json is not null)
        {
            request.Content = JsonContent.Of(json);
        }

        var response = await client.SendAsync(request);
        await response.Content.LoadIntoBufferAsync();
        return response;
    }

    private static List<string> Ids(JsonNode list, string field) =>
        list.AsArray().Select(x => (string?)x![field] ?? string.Empty).ToList();

    /// <summary>The values of <paramref name="field"/>, sorted and comma-separated.</summary>
    private static string Joined(JsonNode list, string field) => string.Join(',', Ids(list, field).Order(StringComparer.Ordinal));

    private static string WithoutInstance(JsonNode problem)
    {
        var copy = problem.DeepClone().AsObject();
        copy.Remove("instance");
        return copy.ToJsonString();
    }

    /// <summary>No secret, and nothing that looks like a stored hash, salt or digest.</summary>
    private static void AssertNoSecretMaterial(JsonNode? node, string? secret)
    {
        switch (node)
        {
            case JsonObject obj:
                foreach (var (name, value) in obj)
                {
                    Assert.DoesNotContain("secret", name, StringComparison.OrdinalIgnoreCase);
                    Assert.DoesNotContain("hash", name, StringComparison.OrdinalIgnoreCase);
                    Assert.DoesNotContain("salt", name, StringComparison.OrdinalIgnoreCase);
                    Assert.DoesNotContain("stamp", name, StringComparison.OrdinalIgnoreCase);
                    AssertNoSecretMaterial(value, secret);
                }

                break;
            case JsonArray array:
                foreach (var item in array)
                {
                    AssertNoSecretMaterial(item, secret);
                }

                break;
            case JsonValue value when value.TryGetValue<string>(out var text):
                if (!string.IsNullOrEmpty(secret))
                {
                    Assert.DoesNotContain(secret, text, StringComparison.Ordinal);
                }

                Assert.DoesNotContain("pbkdf2", text, StringComparison.OrdinalIgnoreCase);
                Assert.DoesNotContain("$", text, StringComparison.Ordinal);
                Assert.DoesNotMatch(OpaqueToken(), text);
                break;
        }
    }

    /// <summary>32 or more base64/hex characters in one run: a hash, salt or secret.</summary>
    [GeneratedRegex("[A-Za-z0-9+/=_-]{32,}")]
    private static partial Regex OpaqueToken();
}

/// <summary>A server without an admin key: the admin API is off.</summary>
public sealed class NoAdminKeyFactory : VardbroFactory
{
    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureAppConfiguration(c => c.AddInMemoryCollection(new Dictionary<string, string?> { ["Admin:Key"] = string.Empty }));
    }
}

public sealed class AdminApiOffTests(NoAdminKeyFactory factory) : IClassFixture<NoAdminKeyFactory>
{
    [Theory]
    [InlineData("GET", "/api/admin/clients", null)]
    [InlineData("POST", "/api/admin/clients", """{"name":"x","grants":[{"emr":"webdoc","care_units":["*"]}]}""")]
    [InlineData("POST", "/api/admin/clients/sandbox-client/secret", "{}")]
    [InlineData("DELETE", "/api/admin/clients/sandbox-client", null)]
    [InlineData("GET", "/api/admin/audit", null)]
    [InlineData("GET", "/api/admin/audit/verify", null)]
    [InlineData("POST", "/api/admin/emrs/webdoc/care-units", """{"name":"x"}""")]
    [InlineData("GET", "/api/admin/definitely-not-here", null)]
    public async Task Without_a_configured_key_the_admin_api_is_404_whatever_key_is_sent(string method, string url, string? body)
    {
        string?[] keys = [null, string.Empty, VardbroFactory.AdminKey, "anything"];
        foreach (var key in keys)
        {
            using var client = factory.CreateClient();
            using var request = new HttpRequestMessage(new HttpMethod(method), new Uri(url, UriKind.Relative));
            if (key is not null)
            {
                Assert.True(request.Headers.TryAddWithoutValidation("x-admin-key", key));
            }

            if (body is not null)
            {
                request.Content = JsonContent.Of(body);
            }

            using var response = await client.SendAsync(request);
            var problem = await response.ProblemAsync(HttpStatusCode.NotFound, "NOT_FOUND");
            Assert.Equal("NOT_FOUND", (string?)problem["code"]);
        }

        // The client API is unaffected, and the sandbox client was not revoked.
        using var sandbox = factory.Sandbox();
        await sandbox.GetJsonAsync("/api/emrs");
    }
}
