using System.Net;
using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.DependencyInjection;
using Vardbro.Server.Notifications;
using Vardbro.Server.Tests.Infrastructure;

namespace Vardbro.Server.Tests.Notifications;

public sealed class OutboxTests(VardbroFactory factory) : IClassFixture<VardbroFactory>
{
    private async Task<long> AddAsync(string channel, string recipient, string body, string? appointmentId) => await factory.WithDbAsync(async db =>
    {
        var row = NotificationOutbox.Add(db, channel, recipient, body, "webdoc", appointmentId);
        await db.SaveChangesAsync();
        return row.Id;
    });

    [Fact]
    public async Task Without_a_sender_url_messages_are_stored_and_listed_newest_first()
    {
        var first = await AddAsync("sms", "070-111 22 33", "Outbox test: code 111111.", "outbox-a1");
        var second = await AddAsync("sms", "+46 70 111 22 33", "Outbox test: code 222222.", "outbox-a2");
        var third = await AddAsync("sms", "+4670999", "Outbox test: code 333333.", null);

        // The dispatcher has nothing to do in outbox mode.
        Assert.Equal(0, await factory.Services.GetRequiredService<NotificationDispatcher>().DispatchDueAsync(CancellationToken.None));

        using var admin = factory.Admin();
        var all = (await admin.GetJsonAsync("/api/admin/outbox")).AsArray();
        var ours = all.Where(m => ((string?)m!["body"])!.StartsWith("Outbox test", StringComparison.Ordinal)).ToList();
        Assert.Equal([third, second, first], ours.Select(m => (long)m!["id"]!));
        var message = ours[1]!;
        Assert.Equal("sms", (string?)message["channel"]);
        Assert.Equal("+46701112233", (string?)message["to"]);
        Assert.Equal("Outbox test: code 222222.", (string?)message["body"]);
        Assert.Equal("stored", (string?)message["status"]);
        Assert.Equal(0, (int)message["attempts"]!);
        Assert.Equal("webdoc", (string?)message["emr"]);
        Assert.Equal("outbox-a2", (string?)message["appointment_id"]);
        Assert.NotNull((string?)message["created_at"]);
        Assert.Null(message["sent_at"]);
        Assert.Equal(
            ["id", "channel", "to", "body", "status", "attempts", "emr", "appointment_id", "created_at", "sent_at"],
            message.AsObject().Select(p => p.Key));
        Assert.All(await factory.WithDbAsync(db => db.Notifications.AsNoTracking().Where(n => n.Id >= first).Select(n => n.Status).ToListAsync()),
            s => Assert.Equal(NotificationStatus.Stored, s));
    }

    [Theory]
    [InlineData("0701112244")]
    [InlineData("+46 70-111 22 44")]
    [InlineData("0046701112244")]
    public async Task The_recipient_filter_matches_any_way_of_writing_the_number(string recipient)
    {
        var id = await AddAsync("sms", "070 111 22 44", "Filter test.", null);
        using var admin = factory.Admin();
        var found = (await admin.GetJsonAsync($"/api/admin/outbox?recipient={Uri.EscapeDataString(recipient)}")).AsArray();
        Assert.Contains(id, found.Select(m => (long)m!["id"]!));
        Assert.All(found, m => Assert.Equal("+46701112244", (string?)m!["to"]));

        var none = (await admin.GetJsonAsync("/api/admin/outbox?recipient=%2B4699999999")).AsArray();
        Assert.Empty(none);
    }

    [Fact]
    public async Task The_list_pages_with_limit_and_a_Link_header()
    {
        for (var i = 0; i < 3; i++)
        {
            await AddAsync("sms", "+46 70 555 00 00", $"Paging {i}.", null);
        }

        using var admin = factory.Admin();
        using var response = await admin.GetAsync(new Uri("/api/admin/outbox?recipient=%2B46705550000&limit=2", UriKind.Relative));
        var page = (await response.JsonAsync(HttpStatusCode.OK)).AsArray();
        Assert.Equal(["Paging 2.", "Paging 1."], page.Select(m => (string?)m!["body"]));
        var next = response.Headers.GetValues("Link").Single();
        var url = next[(next.IndexOf('<', StringComparison.Ordinal) + 1)..next.IndexOf('>', StringComparison.Ordinal)];
        var rest = (await admin.GetJsonAsync(url)).AsArray();
        Assert.Equal(["Paging 0."], rest.Select(m => (string?)m!["body"]));

        await admin.GetProblemAsync("/api/admin/outbox?limit=0", HttpStatusCode.BadRequest, "INVALID_FIELD", "limit");
        await admin.GetProblemAsync("/api/admin/outbox?cursor=abc", HttpStatusCode.BadRequest, "INVALID_FIELD", "cursor");
    }

    [Fact]
    public async Task The_outbox_takes_the_admin_key()
    {
        using var client = factory.Sandbox();
        await client.GetProblemAsync("/api/admin/outbox", HttpStatusCode.Unauthorized, "UNAUTHORIZED");
        using var anonymous = factory.CreateClient();
        await anonymous.GetProblemAsync("/api/admin/outbox", HttpStatusCode.Unauthorized, "UNAUTHORIZED");
    }

    [Fact]
    public void The_sender_setting_is_checked()
    {
        static NotificationSettings Read(params (string Key, string Value)[] values) =>
            new(Options.Create(new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value))).Build()
                .GetSection(NotificationsOptions.Section).Get<NotificationsOptions>() ?? new NotificationsOptions()));

        Assert.Equal("outbox", Read().Sender);
        Assert.Equal("http", Read(("Notifications:Http:Url", "http://127.0.0.1:9/sms")).Sender);
        Assert.Equal("outbox", Read(("Notifications:Http:Url", "http://127.0.0.1:9/sms"), ("Notifications:Sender", "outbox")).Sender);
        Assert.Throws<InvalidOperationException>(() => Read(("Notifications:Sender", "http")));
        Assert.Throws<InvalidOperationException>(() => Read(("Notifications:Sender", "carrier-pigeon")));
    }
}
