using System.Net;
using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using Vardbro.Server.Tests.Infrastructure;

namespace Vardbro.Server.Tests.Webhooks;

/// <summary>Subscriptions managed by the client itself (API.md §8), with the operator's default: safe targets only.</summary>
public sealed class WebhookSubscriptionTests(VardbroFactory factory) : IClassFixture<VardbroFactory>
{
    private async Task<HttpClient> ClientAsync(string emr, params string[] units)
    {
        using var admin = factory.Admin();
        var created = await admin.PostJsonAsync("/api/admin/clients", new { name = "hooks", grants = new[] { new { emr, care_units = units } } }, HttpStatusCode.Created);
        return factory.WithCredentials((string)created["client_id"]!, (string)created["client_secret"]!);
    }

    [Fact]
    public async Task A_client_creates_lists_reads_rotates_and_deletes_its_own_subscriptions_only()
    {
        using var client = await ClientAsync("webdoc", "L0_1");
        var created = await client.PostJsonAsync("/api/webhooks", new { url = "https://hooks.example.com/vardbro", events = new[] { "appointment.created", "appointment.cancelled" }, emr = "webdoc", care_units = new[] { "L0_1" } }, HttpStatusCode.Created);
        var id = (string)created["id"]!;
        var secret = (string)created["secret"]!;
        Assert.StartsWith("whsec_", secret, StringComparison.Ordinal);
        Assert.Equal(32, Convert.FromBase64String(secret["whsec_".Length..]).Length);
        Assert.True((bool)created["enabled"]!);
        Assert.Equal(["appointment.created", "appointment.cancelled"], created["events"]!.AsArray().Select(e => (string?)e));

        var listed = Assert.Single((await client.GetJsonAsync("/api/webhooks")).AsArray())!;
        Assert.Equal(id, (string?)listed["id"]);
        Assert.Null(listed["secret"]);
        Assert.Equal("https://hooks.example.com/vardbro", (string?)(await client.GetJsonAsync($"/api/webhooks/{id}"))["url"]);

        using (var rotate = await client.PostAsync(new Uri($"/api/webhooks/{id}/secret", UriKind.Relative), null))
        {
            var rotated = await rotate.JsonAsync(HttpStatusCode.OK);
            Assert.StartsWith("whsec_", (string)rotated["secret"]!, StringComparison.Ordinal);
            Assert.NotEqual(secret, (string?)rotated["secret"]);
        }

        // Another client neither sees nor touches it: the same answer as for none.
        using var other = await ClientAsync("webdoc", "*");
        Assert.Empty((await other.GetJsonAsync("/api/webhooks")).AsArray());
        await other.GetProblemAsync($"/api/webhooks/{id}", HttpStatusCode.NotFound, "NOT_FOUND", "webhook_id");
        using (var steal = await other.DeleteAsync(new Uri($"/api/webhooks/{id}", UriKind.Relative)))
        {
            await steal.ProblemAsync(HttpStatusCode.NotFound, "NOT_FOUND");
        }

        using (var delete = await client.DeleteAsync(new Uri($"/api/webhooks/{id}", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        }

        await client.GetProblemAsync($"/api/webhooks/{id}", HttpStatusCode.NotFound);
    }

    [Theory]
    [InlineData("http://hooks.example.com/x", "url")]
    [InlineData("https://127.0.0.1/x", "url")]
    [InlineData("https://localhost:8443/x", "url")]
    [InlineData("https://localhost./x", "url")]
    [InlineData("https://api.localhost/x", "url")]
    [InlineData("https://10.1.2.3/x", "url")]
    [InlineData("https://192.168.0.10/x", "url")]
    [InlineData("https://169.254.169.254/latest/meta-data", "url")]
    [InlineData("https://[::1]/x", "url")]
    [InlineData("https://[fd00::1]/x", "url")]
    [InlineData("not a url", "url")]
    public async Task An_unsafe_or_malformed_target_is_refused(string url, string path)
    {
        using var client = factory.Sandbox();
        await client.PostProblemAsync("/api/webhooks", new { url, events = new[] { "*" }, emr = "webdoc", care_units = new[] { "*" } }, HttpStatusCode.BadRequest, "INVALID_FIELD", path);
    }

    [Fact]
    public async Task Events_and_care_units_are_checked_against_the_types_and_the_grants()
    {
        using var client = await ClientAsync("webdoc", "L0_1");
        const string Url = "https://hooks.example.com/x";
        await client.PostProblemAsync("/api/webhooks", new { url = Url, events = new[] { "patient.deleted" }, emr = "webdoc", care_units = new[] { "*" } }, HttpStatusCode.BadRequest, "INVALID_FIELD", "events[0]");
        await client.PostProblemAsync("/api/webhooks", new { url = Url, events = new[] { "*", "patient.created" }, emr = "webdoc", care_units = new[] { "*" } }, HttpStatusCode.BadRequest, "INVALID_FIELD", "events[0]");
        await client.PostProblemAsync("/api/webhooks", new { url = Url, emr = "webdoc", care_units = new[] { "*" } }, HttpStatusCode.BadRequest, "MISSING_REQUIRED_FIELD", "events");
        await client.PostProblemAsync("/api/webhooks", new { url = Url, events = new[] { "*" }, emr = "takecare", care_units = new[] { "*" } }, HttpStatusCode.Forbidden, "FORBIDDEN", "emr");
        await client.PostProblemAsync("/api/webhooks", new { url = Url, events = new[] { "*" }, emr = "webdoc", care_units = new[] { "L0_2" } }, HttpStatusCode.Forbidden, "FORBIDDEN", "care_units[0]");

        using var all = await ClientAsync("webdoc", "*");
        await all.PostProblemAsync("/api/webhooks", new { url = Url, events = new[] { "*" }, emr = "webdoc", care_units = new[] { "no-such-unit" } }, HttpStatusCode.NotFound, "NOT_FOUND", "care_units[0]");
        var created = await all.PostJsonAsync("/api/webhooks", new { url = Url, events = new[] { "*" }, emr = "webdoc", care_units = new[] { "*" } }, HttpStatusCode.Created);
        Assert.Equal(["*"], created["care_units"]!.AsArray().Select(u => (string?)u));
    }

    [Fact]
    public async Task A_name_that_resolves_to_a_loopback_address_is_refused_at_delivery()
    {
        using var client = factory.Sandbox();
        var created = await client.PostJsonAsync("/api/webhooks", new { url = "https://hooks.example.com/hook", events = new[] { "*" }, emr = "webdoc", care_units = new[] { "*" } }, HttpStatusCode.Created);
        var id = (string)created["id"]!;

        // As if the name now resolved to a loopback address (DNS rebinding): the URL passed its check
        // when made, and the check at connect time is what refuses it.
        await factory.WithDbAsync(async db =>
        {
            var row = await db.Webhooks.SingleAsync(w => w.Id == id);
            row.Url = "https://localhost:9/hook";
            return await db.SaveChangesAsync();
        });
        using (var test = await client.PostAsync(new Uri($"/api/webhooks/{id}/test", UriKind.Relative), null))
        {
            Assert.Equal(HttpStatusCode.Accepted, test.StatusCode);
        }

        JsonNode delivery = new JsonObject();
        for (var i = 0; i < 100 && (int?)delivery["attempts"] is null or 0; i++)
        {
            await Task.Delay(100);
            delivery = (await client.GetJsonAsync($"/api/webhooks/{id}/deliveries")).AsArray().Single()!;
        }

        Assert.Equal(1, (int)delivery["attempts"]!);
        Assert.Equal("pending", (string?)delivery["status"]);
        Assert.Contains("no address that may receive webhooks", (string?)delivery["last_error"], StringComparison.Ordinal);
        Assert.NotNull(delivery["next_attempt_at"]);
    }
}
