using System.Net;
using System.Text.Json.Nodes;
using Vardbro.Server.Tests.Infrastructure;
using Vardbro.Server.Tests.Webhooks;

namespace Vardbro.Server.Tests.Processes;

/// <summary>Webhook deliveries across processes: two instances on one database, and a SIGKILL before delivery.</summary>
[Collection(ProcessTestGroup.Name)]
[Trait("Category", "Process")]
public sealed class WebhookProcessTests
{
    private const string L01 = "/api/emrs/webdoc/care-units/L0_1";

    private static Dictionary<string, string?> Settings(TestDatabase database)
    {
        var settings = database.Settings();
        settings["Sandbox:Enabled"] = "true";
        settings["Webhooks:AllowInsecureTargets"] = "true";
        settings["Webhooks:RetryDelaysSeconds"] = "1,1,1,1,1,1,1,1,1,1";
        return settings;
    }

    private static async Task<string> SubscribeAsync(ServerProcess server, string url)
    {
        using var client = server.Sandbox();
        var created = await client.PostJsonAsync("/api/webhooks", new { url, events = new[] { "patient.created" }, emr = "webdoc", care_units = new[] { "L0_1" } }, HttpStatusCode.Created);
        return (string)created["id"]!;
    }

    private static async Task<string> CreatePatientAsync(HttpClient client, string last) =>
        (string)(await client.PostJsonAsync($"{L01}/patients", new { first_name = "Webb", last_name = last, birth_date = "1977-07-07" }, HttpStatusCode.Created))["emr_id"]!;

    [Fact]
    public async Task Two_instances_deliver_every_event_and_none_twice()
    {
        using var database = TestDatabase.Create();
        var settings = Settings(database);
        await using var receiver = new WebhookReceiver();
        await using var first = await ServerProcess.StartAsync(settings);
        await using var second = await ServerProcess.StartAsync(settings);
        await SubscribeAsync(first, receiver.Url("two"));

        using var a = first.Sandbox();
        using var b = second.Sandbox();
        var made = await Task.WhenAll(Enumerable.Range(0, 40).Select(i => CreatePatientAsync(i % 2 == 0 ? a : b, $"Instans{i:D2}")));

        await receiver.WaitAsync("two", r => r.Select(x => x.Id).Distinct().Count() >= made.Length);
        await Task.Delay(3000);
        var got = receiver.At("two");
        Assert.Equal(made.Order(StringComparer.Ordinal), got.Select(x => (string)JsonNode.Parse(x.Body)!["data"]!["subject"]!["id"]!).Order(StringComparer.Ordinal));
        Assert.Equal(got.Count, got.Select(x => x.Id).Distinct().Count());
    }

    [Fact]
    public async Task An_event_committed_before_a_SIGKILL_is_delivered_after_the_restart()
    {
        using var database = TestDatabase.Create();
        var settings = Settings(database);
        var port = WebhookReceiver.FreePort();
        string patient;
        await using (var server = await ServerProcess.StartAsync(settings))
        {
            await SubscribeAsync(server, $"http://127.0.0.1:{port}/late");
            using var client = server.Sandbox();
            patient = await CreatePatientAsync(client, "Dödad");

            // The receiver is down: the first attempt fails and the delivery waits for its retry.
            using var check = server.Sandbox();
            var hook = (string)(await check.GetJsonAsync("/api/webhooks"))[0]!["id"]!;
            for (var i = 0; i < 100 && !(await check.GetJsonAsync($"/api/webhooks/{hook}/deliveries")).AsArray().Any(d => (int)d!["attempts"]! >= 1); i++)
            {
                await Task.Delay(100);
            }

            server.Kill();
        }

        await using var receiver = new WebhookReceiver(port);
        await using var restarted = await ServerProcess.StartAsync(settings);
        var got = await receiver.WaitAsync("late", r => r.Count >= 1);
        Assert.Contains(got, x => (string?)JsonNode.Parse(x.Body)!["data"]!["subject"]!["id"] == patient);
    }
}
