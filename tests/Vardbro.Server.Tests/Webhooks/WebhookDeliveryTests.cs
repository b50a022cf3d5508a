using System.Net;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using StandardWebhooks;
using Vardbro.Server.Features.Webhooks;
using Vardbro.Server.Tests.Infrastructure;

namespace Vardbro.Server.Tests.Webhooks;

/// <summary>Deliveries to a loopback receiver: insecure targets allowed, retries 1 s apart, 2 s time-out.</summary>
public sealed class WebhookDeliveryFactory : VardbroFactory
{
    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureAppConfiguration(c => c.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Webhooks:AllowInsecureTargets"] = "true",
            ["Webhooks:RetryDelaysSeconds"] = "1,1",
            ["Webhooks:TimeoutSeconds"] = "2",
        }));
    }
}

// The receiver is disposed by IAsyncLifetime.DisposeAsync, which xunit calls after each test.
#pragma warning disable CA1001
public sealed class WebhookDeliveryTests(WebhookDeliveryFactory factory) : IClassFixture<WebhookDeliveryFactory>, IAsyncLifetime
{
    private const string L01 = "/api/emrs/webdoc/care-units/L0_1";
    private const string L02 = "/api/emrs/webdoc/care-units/L0_2";

    private readonly WebhookReceiver receiver = new();
#pragma warning restore CA1001

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await receiver.DisposeAsync();

    private static async Task<(string Id, string Secret)> SubscribeAsync(HttpClient client, string url, string[] events, string[]? units = null)
    {
        var created = await client.PostJsonAsync("/api/webhooks", new { url, events, emr = "webdoc", care_units = units ?? ["*"] }, HttpStatusCode.Created);
        return ((string)created["id"]!, (string)created["secret"]!);
    }

    private static async Task<string> BookAsync(HttpClient client, string unit, int day)
    {
        var slots = (await client.GetJsonAsync($"{unit}/timeslots?start={TimeProvider.System.GetUtcNow().AddDays(day):yyyy-MM-dd}T00:00:00Z&end={TimeProvider.System.GetUtcNow().AddDays(day + 7):yyyy-MM-dd}T00:00:00Z")).AsArray();
        var slot = slots[Random.Shared.Next(slots.Count)]!;
        var booked = await client.PostJsonAsync($"{unit}/appointments", new
        {
            start = (string)slot["start"]!,
            end = (string)slot["end"]!,
            patient_id = "se_personal_number:191212121212",
            resource_id = (string)slot["resource_id"]!,
        }, HttpStatusCode.Created);
        return (string)booked[0]!["id"]!;
    }

    private static HeaderDictionary Headers(ReceivedWebhook r, string? timestamp = null) => new()
    {
        ["webhook-id"] = r.Id,
        ["webhook-timestamp"] = timestamp ?? r.Timestamp,
        ["webhook-signature"] = r.Signature,
    };

    [Fact]
    public async Task A_delivery_verifies_with_the_StandardWebhooks_library_and_a_tampered_or_old_one_does_not()
    {
        using var client = factory.Sandbox();
        var (_, secret) = await SubscribeAsync(client, receiver.Url("signed"), ["appointment.created"], ["L0_1"]);
        var id = await BookAsync(client, L01, 20);

        var received = (await receiver.WaitAsync("signed", r => r.Any(x => x.Body.Contains(id, StringComparison.Ordinal)))).First(x => x.Body.Contains(id, StringComparison.Ordinal));
        var webhook = new StandardWebhook(secret);
        webhook.Verify(received.Body, Headers(received));

        var body = JsonNode.Parse(received.Body)!;
        Assert.Equal("appointment.created", (string?)body["type"]);
        Assert.Equal(received.Id, (string?)body["data"]!["id"]);
        Assert.Equal(("appointment", id), ((string?)body["data"]!["subject"]!["type"], (string?)body["data"]!["subject"]!["id"]));
        Assert.Equal(("webdoc", "L0_1"), ((string?)body["data"]!["emr"], (string?)body["data"]!["care_unit_id"]));
        Assert.DoesNotContain("Tolvan", received.Body, StringComparison.Ordinal);
        Assert.DoesNotContain("191212121212", received.Body, StringComparison.Ordinal);

        Assert.ThrowsAny<Exception>(() => webhook.Verify(received.Body.Replace(id, id + "x", StringComparison.Ordinal), Headers(received)));
        var old = TimeProvider.System.GetUtcNow().AddMinutes(-10).ToUnixTimeSeconds();
        var signedOld = received with { Timestamp = old.ToString(System.Globalization.CultureInfo.InvariantCulture), Signature = WebhookDispatcher.Sign(secret, received.Id, old, received.Body) };
        Assert.ThrowsAny<Exception>(() => webhook.Verify(signedOld.Body, Headers(signedOld)));
        Assert.ThrowsAny<Exception>(() => new StandardWebhook(Features.Webhooks.Webhooks.NewSecret()).Verify(received.Body, Headers(received)));
    }

    [Fact]
    public async Task A_receiver_that_is_down_gets_the_message_on_a_retry_and_the_deliveries_say_so()
    {
        using var client = factory.Sandbox();
        receiver.Answer("flaky", 500, 503);
        var (hook, _) = await SubscribeAsync(client, receiver.Url("flaky"), ["appointment.created"], ["L0_1"]);
        var id = await BookAsync(client, L01, 30);

        var got = await receiver.WaitAsync("flaky", r => r.Count(x => x.Body.Contains(id, StringComparison.Ordinal)) >= 3);
        var attempts = got.Where(x => x.Body.Contains(id, StringComparison.Ordinal)).ToList();
        Assert.Equal(3, attempts.Count);
        Assert.Single(attempts.Select(a => a.Id).Distinct());
        var stamps = attempts.Select(a => long.Parse(a.Timestamp, System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.True(stamps[1] - stamps[0] >= 1 && stamps[2] - stamps[1] >= 1, string.Join(",", stamps));

        JsonNode delivery = new JsonObject();
        for (var i = 0; i < 50 && (string?)delivery["status"] != "delivered"; i++)
        {
            await Task.Delay(100);
            delivery = (await client.GetJsonAsync($"/api/webhooks/{hook}/deliveries")).AsArray().First(d => (string?)d!["message_id"] == attempts[0].Id)!;
        }

        Assert.Equal(("delivered", 3, 204), ((string?)delivery["status"], (int)delivery["attempts"]!, (int?)delivery["last_status_code"]));
        Assert.True((bool)(await client.GetJsonAsync($"/api/webhooks/{hook}"))["enabled"]!);
    }

    [Fact]
    public async Task Retries_exhausted_disable_the_subscription_visibly_until_the_client_enables_it()
    {
        using var client = factory.Sandbox();
        receiver.Answer("down", 500, 500, 500);
        var (hook, _) = await SubscribeAsync(client, receiver.Url("down"), ["*"], ["L0_1"]);
        var id = await BookAsync(client, L01, 40);

        JsonNode webhook = new JsonObject();
        for (var i = 0; i < 150 && (webhook["enabled"] is null || (bool)webhook["enabled"]!); i++)
        {
            await Task.Delay(100);
            webhook = await client.GetJsonAsync($"/api/webhooks/{hook}");
        }

        Assert.False((bool)webhook["enabled"]!);
        Assert.Contains("re-enable", (string?)webhook["disabled_reason"], StringComparison.Ordinal);
        var failed = (await client.GetJsonAsync($"/api/webhooks/{hook}/deliveries")).AsArray().Single()!;
        Assert.Equal(("failed", 3, 500), ((string?)failed["status"], (int)failed["attempts"]!, (int?)failed["last_status_code"]));
        Assert.Equal(3, receiver.At("down").Count);

        // Disabled, it receives nothing; enabled again, it receives what comes next.
        using (var cancel = await client.PatchAsync(new Uri($"{L01}/appointments/{id}", UriKind.Relative), JsonContent.Of("""{"status":"cancelled"}""")))
        {
            await cancel.JsonAsync(HttpStatusCode.OK);
        }

        await Task.Delay(2500);
        Assert.Equal(3, receiver.At("down").Count);
        using (var enable = await client.PatchAsync(new Uri($"/api/webhooks/{hook}", UriKind.Relative), JsonContent.Of("""{"enabled":true}""")))
        {
            Assert.True((bool)(await enable.JsonAsync(HttpStatusCode.OK))["enabled"]!);
        }

        var after = await receiver.WaitAsync("down", r => r.Count >= 4);
        Assert.Equal("appointment.cancelled", (string?)JsonNode.Parse(after[3].Body)!["type"]);
    }

    [Fact]
    public async Task Events_of_one_subject_arrive_in_order_and_a_client_gets_none_outside_its_grants()
    {
        using var admin = factory.Admin();
        var created = await admin.PostJsonAsync("/api/admin/clients", new { name = "L0_1 only", grants = new[] { new { emr = "webdoc", care_units = new[] { "L0_1" } } } }, HttpStatusCode.Created);
        using var narrow = factory.WithCredentials((string)created["client_id"]!, (string)created["client_secret"]!);
        await SubscribeAsync(narrow, receiver.Url("narrow"), ["*"]);

        using var client = factory.Sandbox();
        receiver.Answer("ordered", 500);
        await SubscribeAsync(client, receiver.Url("ordered"), ["appointment.created", "appointment.cancelled"], ["L0_1"]);
        var id = await BookAsync(client, L01, 50);
        using (var cancel = await client.PatchAsync(new Uri($"{L01}/appointments/{id}", UriKind.Relative), JsonContent.Of("""{"status":"cancelled"}""")))
        {
            await cancel.JsonAsync(HttpStatusCode.OK);
        }

        // The first attempt of "created" fails; "cancelled" still waits for it.
        var got = await receiver.WaitAsync("ordered", r => r.Count(x => x.Body.Contains(id, StringComparison.Ordinal)) >= 3);
        Assert.Equal(["appointment.created", "appointment.created", "appointment.cancelled"], got.Where(x => x.Body.Contains(id, StringComparison.Ordinal)).Select(x => (string?)JsonNode.Parse(x.Body)!["type"]));

        var other = await BookAsync(client, L02, 50);
        await receiver.WaitAsync("narrow", r => r.Any(x => x.Body.Contains(id, StringComparison.Ordinal)));
        await Task.Delay(2500);
        var narrowBodies = receiver.At("narrow").Select(x => x.Body).ToList();
        Assert.Contains(narrowBodies, b => b.Contains(id, StringComparison.Ordinal));
        Assert.DoesNotContain(narrowBodies, b => b.Contains(other, StringComparison.Ordinal) || b.Contains("\"L0_2\"", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_test_message_is_sent_signed()
    {
        using var client = factory.Sandbox();
        var (hook, secret) = await SubscribeAsync(client, receiver.Url("test"), ["patient.created"]);
        using var test = await client.PostAsync(new Uri($"/api/webhooks/{hook}/test", UriKind.Relative), null);
        var queued = await test.JsonAsync(HttpStatusCode.Accepted);
        Assert.Equal(("webhook.test", "pending"), ((string?)queued["type"], (string?)queued["status"]));
        var got = Assert.Single(await receiver.WaitAsync("test", r => r.Count >= 1));
        new StandardWebhook(secret).Verify(got.Body, Headers(got));
        Assert.Equal(hook, (string?)JsonNode.Parse(got.Body)!["data"]!["webhook_id"]);
    }
}
