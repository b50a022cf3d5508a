using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.TestHost;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Vardbro.Connectors;
using Vardbro.Server.Emrs;
using Vardbro.Server.Idempotency;
using Vardbro.Server.Storage;
using Vardbro.Server.Tests.Infrastructure;

namespace Vardbro.Server.Tests.Idempotency;

/// <summary>
/// The sandbox server, where a request carrying <c>x-test-boom</c> fails with an unexpected exception
/// (a 500) when its endpoint asks for the EMR connectors — after routing and authentication, like a
/// real failure inside a handler.
/// </summary>
public sealed class BoomFactory : VardbroFactory
{
    public const string BoomHeader = "x-test-boom";

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureTestServices(s =>
        {
            s.AddHttpContextAccessor();
            s.AddScoped(sp => sp.GetRequiredService<IHttpContextAccessor>().HttpContext?.Request.Headers.ContainsKey(BoomHeader) == true
                ? throw new InvalidOperationException("boom (test)")
                : ActivatorUtilities.CreateInstance<EmrConnectors>(sp));
        });
    }
}

public sealed class IdempotencyTests(BoomFactory factory) : IClassFixture<BoomFactory>
{
    private const string Patients = "/api/emrs/webdoc/care-units/L0_1/patients";

    /// <summary>A checksum-valid Swedish personal number of its own for each test.</summary>
    private static string NewPersonalNumber(int seed) => SwedishPersonalNumber.Generate(new Random(seed), new DateOnly(1960 + seed, 1 + (seed % 12), 10));

    private static string PatientBody(string first, string last, string externalId) =>
        $$"""{"first_name":"{{first}}","last_name":"{{last}}","external_id":"{{externalId}}"}""";

    private static async Task<(HttpStatusCode Status, byte[] Body, HttpResponseMessage Response)> PostAsync(
        HttpClient client, string url, string body, string? key, params (string Name, string Value)[] headers)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(url, UriKind.Relative)) { Content = JsonContent.Of(body) };
        if (key is not null)
        {
            request.Headers.TryAddWithoutValidation(IdempotencyMiddleware.HeaderName, key);
        }

        foreach (var (name, value) in headers)
        {
            request.Headers.Add(name, value);
        }

        var response = await client.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsByteArrayAsync(), response);
    }

    private async Task<int> CountPatientsAsync(string lastName)
    {
        using var client = factory.Sandbox();
        var found = await client.GetJsonAsync($"{Patients}?last_name={lastName}");
        return found.AsArray().Count;
    }

    private static bool Replayed(HttpResponseMessage response) =>
        response.Headers.TryGetValues(IdempotencyMiddleware.ReplayedHeader, out var values) && values.Single() == "true";

    [Fact]
    public async Task The_same_key_and_body_replays_the_first_response_byte_for_byte()
    {
        using var client = factory.Sandbox();
        var key = Guid.NewGuid().ToString();
        var body = PatientBody("Lars", "Replaysson", "197110021834");

        var (firstStatus, firstBody, first) = await PostAsync(client, Patients, body, key);
        var (secondStatus, secondBody, second) = await PostAsync(client, Patients, body, key);
        using (first)
        using (second)
        {
            Assert.Equal(HttpStatusCode.Created, firstStatus);
            Assert.Equal(HttpStatusCode.Created, secondStatus);
            Assert.Equal(firstBody, secondBody);
            Assert.False(Replayed(first));
            Assert.True(Replayed(second));
            Assert.Equal(first.Headers.Location, second.Headers.Location);
            Assert.NotNull(second.Headers.Location);
            Assert.Equal(first.Content.Headers.ContentType, second.Content.Headers.ContentType);

            // The replay is a response of its own: it has its own request id.
            var firstId = first.Headers.GetValues("x-request-id").Single();
            var secondId = second.Headers.GetValues("x-request-id").Single();
            Assert.True(Guid.TryParse(secondId, out _));
            Assert.NotEqual(firstId, secondId);
        }

        Assert.Equal(1, await CountPatientsAsync("replaysson"));

        // Without the key the same request runs: the patient exists, so 200.
        await client.PostJsonAsync(Patients, body, HttpStatusCode.OK);
    }

    [Fact]
    public async Task The_same_key_with_another_body_is_422_IDEMPOTENCY_KEY_REUSED()
    {
        using var client = factory.Sandbox();
        var key = Guid.NewGuid().ToString();
        var (status, _, first) = await PostAsync(client, Patients, PatientBody("Eva", "Reuse", NewPersonalNumber(1)), key);
        first.Dispose();
        Assert.Equal(HttpStatusCode.Created, status);

        var (_, _, other) = await PostAsync(client, Patients, PatientBody("Eva", "Reuse", NewPersonalNumber(2)), key);
        using (other)
        {
            await other.ProblemAsync(HttpStatusCode.UnprocessableEntity, "IDEMPOTENCY_KEY_REUSED", "Idempotency-Key");
        }

        // Another path with the same key and body is another request too (an unknown query
        // parameter, the other way to vary the request, is refused before the key is looked at).
        var (_, _, otherPath) = await PostAsync(client, Patients + "/", PatientBody("Eva", "Reuse", NewPersonalNumber(1)), key);
        using (otherPath)
        {
            await otherPath.ProblemAsync(HttpStatusCode.UnprocessableEntity, "IDEMPOTENCY_KEY_REUSED", "Idempotency-Key");
        }

        Assert.Equal(1, await CountPatientsAsync("reuse"));
    }

    [Fact]
    public async Task Keys_belong_to_their_client()
    {
        using var admin = factory.Admin();
        var created = await admin.PostJsonAsync("/api/admin/clients", new { name = "second", grants = new[] { new { emr = "webdoc", care_units = new[] { "*" } } } }, HttpStatusCode.Created);
        using var sandbox = factory.Sandbox();
        using var second = factory.WithCredentials((string)created["client_id"]!, (string)created["client_secret"]!);
        var key = "shared-key-" + Guid.NewGuid();
        var body = PatientBody("Siv", "Scoped", NewPersonalNumber(3));

        var (status1, _, r1) = await PostAsync(sandbox, Patients, body, key);
        var (status2, _, r2) = await PostAsync(second, Patients, body, key);
        var (status3, _, r3) = await PostAsync(second, Patients, PatientBody("Siv", "Scoped", NewPersonalNumber(4)), "other-" + key);
        using (r1)
        using (r2)
        using (r3)
        {
            Assert.Equal(HttpStatusCode.Created, status1);
            Assert.Equal(HttpStatusCode.OK, status2); // ran for the second client: the patient existed
            Assert.False(Replayed(r2));
            Assert.Equal(HttpStatusCode.Created, status3);
        }

        // The second client's record is its own: a different body with the first client's key is not "reuse" for it.
        var (status4, _, r4) = await PostAsync(second, Patients, PatientBody("Siv", "Scoped", NewPersonalNumber(4)), key);
        r4.Dispose();
        Assert.Equal(HttpStatusCode.UnprocessableEntity, status4); // ...but it is reuse of its own key
    }

    [Fact]
    public async Task Ten_concurrent_requests_with_one_key_get_one_response_and_make_one_patient()
    {
        var clients = Enumerable.Range(0, 10).Select(_ => factory.Sandbox()).ToList();
        var key = Guid.NewGuid().ToString();
        var body = PatientBody("Greta", "Samtidig", NewPersonalNumber(5));
        try
        {
            using var start = new ManualResetEventSlim(false);
            var tasks = clients.Select(c => Task.Run(async () =>
            {
                start.Wait();
                var (status, bytes, response) = await PostAsync(c, Patients, body, key);
                response.Dispose();
                return (status, Body: Encoding.UTF8.GetString(bytes));
            })).ToList();
            start.Set();
            var results = await Task.WhenAll(tasks);
            Assert.All(results, r => Assert.Equal(HttpStatusCode.Created, r.status));
            Assert.Single(results.Select(r => r.Body).Distinct());
        }
        finally
        {
            clients.ForEach(c => c.Dispose());
        }

        Assert.Equal(1, await CountPatientsAsync("samtidig"));
        using var client = factory.Sandbox();
        await client.PostJsonAsync(Patients, body, HttpStatusCode.OK);
    }

    [Fact]
    public async Task A_5xx_is_not_stored_and_the_retry_runs_afresh()
    {
        using var client = factory.Sandbox();
        var key = Guid.NewGuid().ToString();
        var body = PatientBody("Bo", "Boom", NewPersonalNumber(6));

        var (_, _, failed) = await PostAsync(client, Patients, body, key, (BoomFactory.BoomHeader, "1"));
        using (failed)
        {
            await failed.ProblemAsync(HttpStatusCode.InternalServerError);
        }

        Assert.Null(await factory.WithDbAsync(db => db.IdempotencyRecords.AsNoTracking().FirstOrDefaultAsync(r => r.Key == IdempotencyStore.Stored(key))));

        var (status, _, retry) = await PostAsync(client, Patients, body, key);
        using (retry)
        {
            Assert.Equal(HttpStatusCode.Created, status);
            Assert.False(Replayed(retry));
        }

        var (again, _, replay) = await PostAsync(client, Patients, body, key);
        using (replay)
        {
            Assert.Equal(HttpStatusCode.Created, again);
            Assert.True(Replayed(replay));
        }
    }

    [Fact]
    public async Task Client_errors_are_stored_and_replayed_but_authentication_failures_are_not()
    {
        var key = Guid.NewGuid().ToString();
        var body = """{"first_name":"","last_name":"Invalid"}""";
        using (var stranger = factory.WithCredentials(VardbroFactory.SandboxClientId, "wrong-secret"))
        {
            var (_, _, unauthorized) = await PostAsync(stranger, Patients, body, key);
            using (unauthorized)
            {
                await unauthorized.ProblemAsync(HttpStatusCode.Unauthorized, "UNAUTHORIZED");
            }
        }

        using var client = factory.Sandbox();
        var (status1, body1, first) = await PostAsync(client, Patients, body, key);
        var (status2, body2, second) = await PostAsync(client, Patients, body, key);
        using (first)
        using (second)
        {
            Assert.False(Replayed(first));
            Assert.Equal(HttpStatusCode.BadRequest, status1);
            Assert.Equal(HttpStatusCode.BadRequest, status2);
            Assert.True(Replayed(second));
            Assert.Equal(body1, body2);
            Assert.Equal("application/problem+json", second.Content.Headers.ContentType?.MediaType);
        }
    }

    [Theory]
    [InlineData("   ")]
    [InlineData("nøkkel")]
    [InlineData("tab\there")]
    public async Task A_malformed_key_is_400_INVALID_FIELD(string key)
    {
        using var client = factory.Sandbox();
        var (_, _, response) = await PostAsync(client, Patients, PatientBody("Ann", "Keyless", NewPersonalNumber(7)), key);
        using (response)
        {
            await response.ProblemAsync(HttpStatusCode.BadRequest, "INVALID_FIELD", "Idempotency-Key");
        }
    }

    [Fact]
    public async Task A_key_of_255_characters_is_accepted_and_256_is_not()
    {
        using var client = factory.Sandbox();
        var body = PatientBody("Ann", "Longkey", NewPersonalNumber(8));
        var (status, _, ok) = await PostAsync(client, Patients, body, new string('k', 255));
        ok.Dispose();
        Assert.Equal(HttpStatusCode.Created, status);
        var (_, _, tooLong) = await PostAsync(client, Patients, body, new string('k', 256));
        using (tooLong)
        {
            await tooLong.ProblemAsync(HttpStatusCode.BadRequest, "INVALID_FIELD", "Idempotency-Key");
        }
    }

    [Fact]
    public async Task Admin_requests_are_scoped_to_admin()
    {
        using var admin = factory.Admin();
        var key = Guid.NewGuid().ToString();
        var body = """{"id":"IDEM_1","name":"Idempotenta kliniken","time_zone":"Europe/Stockholm"}""";
        var (status1, body1, first) = await PostAsync(admin, "/api/admin/emrs/webdoc/care-units", body, key);
        var (status2, body2, second) = await PostAsync(admin, "/api/admin/emrs/webdoc/care-units", body, key);
        using (first)
        using (second)
        {
            Assert.Equal(HttpStatusCode.Created, status1);
            Assert.Equal(HttpStatusCode.Created, status2); // without the key: 409, the care unit exists
            Assert.True(Replayed(second));
            Assert.Equal(body1, body2);
        }

        var scopes = await factory.WithDbAsync(db => db.IdempotencyRecords.AsNoTracking().Where(r => r.Key == IdempotencyStore.Stored(key)).Select(r => r.ClientId).ToListAsync());
        Assert.Equal([IdempotencyMiddleware.AdminScope], scopes);
    }

    [Fact]
    public async Task A_retry_waits_for_the_running_request_and_replays_it()
    {
        // A request with this key is "running" (its row is in progress); it completes while the retry waits.
        var key = Guid.NewGuid().ToString();
        var body = PatientBody("Vera", "Waiting", NewPersonalNumber(9));
        var now = factory.Services.GetRequiredService<TimeProvider>().GetUtcNow();
        var createdAt = new DateTimeOffset(now.UtcTicks - (now.UtcTicks % TimeSpan.TicksPerMillisecond), TimeSpan.Zero);
        await factory.WithDbAsync(async db =>
        {
            db.IdempotencyRecords.Add(new IdempotencyRow
            {
                ClientId = VardbroFactory.SandboxClientId,
                Key = IdempotencyStore.Stored(key),
                RequestHash = RequestFingerprint.Of("POST", Patients, Encoding.UTF8.GetBytes(body)),
                CreatedAt = createdAt,
            });
            return await db.SaveChangesAsync();
        });

        using var client = factory.Sandbox();
        var retry = PostAsync(client, Patients, body, key);
        await Task.Delay(300);
        Assert.False(retry.IsCompleted);
        await factory.WithDbAsync(db => db.IdempotencyRecords.Where(r => r.Key == IdempotencyStore.Stored(key)).ExecuteUpdateAsync(s => s
            .SetProperty(r => r.StatusCode, 201)
            .SetProperty(r => r.ContentType, "application/json; charset=utf-8")
            .SetProperty(r => r.Location, "/somewhere")
            .SetProperty(r => r.Body, Encoding.UTF8.GetBytes("""{"first":"response"}"""))));

        var (status, bytes, response) = await retry.WaitAsync(TimeSpan.FromSeconds(10));
        using (response)
        {
            Assert.Equal(HttpStatusCode.Created, status);
            Assert.Equal("""{"first":"response"}""", Encoding.UTF8.GetString(bytes));
            Assert.Equal("/somewhere", response.Headers.Location?.OriginalString);
            Assert.True(Replayed(response));
        }

        Assert.Equal(0, await CountPatientsAsync("waiting"));
    }

    [Fact]
    public async Task An_in_progress_record_older_than_two_minutes_is_taken_over()
    {
        var key = Guid.NewGuid().ToString();
        var body = PatientBody("Ada", "Abandoned", NewPersonalNumber(10));
        var now = factory.Services.GetRequiredService<TimeProvider>().GetUtcNow();
        await factory.WithDbAsync(async db =>
        {
            db.IdempotencyRecords.Add(new IdempotencyRow
            {
                ClientId = VardbroFactory.SandboxClientId,
                Key = IdempotencyStore.Stored(key),
                RequestHash = RequestFingerprint.Of("POST", Patients, Encoding.UTF8.GetBytes(body)),
                CreatedAt = now.AddMinutes(-3).ToUniversalTime(),
            });
            return await db.SaveChangesAsync();
        });

        using var client = factory.Sandbox();
        var (status, _, response) = await PostAsync(client, Patients, body, key).WaitAsync(TimeSpan.FromSeconds(10));
        using (response)
        {
            Assert.Equal(HttpStatusCode.Created, status);
            Assert.False(Replayed(response));
        }

        var row = await factory.WithDbAsync(db => db.IdempotencyRecords.AsNoTracking().SingleAsync(r => r.Key == IdempotencyStore.Stored(key)));
        Assert.Equal(201, row.StatusCode);
    }

    [Fact]
    public async Task Requests_without_a_key_and_other_methods_are_untouched()
    {
        using var client = factory.Sandbox();
        var body = PatientBody("Nils", "Nokey", NewPersonalNumber(11));
        await client.PostJsonAsync(Patients, body, HttpStatusCode.Created);
        await client.PostJsonAsync(Patients, body, HttpStatusCode.OK);

        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri($"{Patients}?last_name=nokey", UriKind.Relative));
        request.Headers.Add(IdempotencyMiddleware.HeaderName, "ignored-on-get");
        using var response = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(0, await factory.WithDbAsync(db => db.IdempotencyRecords.CountAsync(r => r.Key == IdempotencyStore.Stored("ignored-on-get"))));
    }
}
