using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Vardbro.Server.Tests.Notifications;

/// <summary>
/// A stand-in SMS gateway on a loopback port: records every message it is sent and answers by
/// recipient — <see cref="FlakyRecipient"/> gets 500 twice, then 200; <see cref="RefusedRecipient"/>
/// always 503; anyone else 200.
/// </summary>
public sealed class NotificationReceiver : IAsyncDisposable
{
    public const string FlakyRecipient = "+46700000001";
    public const string RefusedRecipient = "+46700000002";

    private readonly WebApplication app;
    private readonly ConcurrentDictionary<string, int> calls = new(StringComparer.Ordinal);

    private NotificationReceiver(WebApplication app) => this.app = app;

    public ConcurrentQueue<JsonObject> Received { get; } = new();

    public Uri Url { get; private set; } = null!;

    public static async Task<NotificationReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        // An explicit endpoint: it takes precedence over any Urls setting the test directory's appsettings carry.
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var receiver = new NotificationReceiver(app);
        app.MapPost("/sms", (Delegate)receiver.ReceiveAsync);
        await app.StartAsync();
        receiver.Url = new Uri(new Uri(app.Urls.Single()), "/sms");
        return receiver;
    }

    private async Task<IResult> ReceiveAsync(HttpContext http)
    {
        var message = await http.Request.ReadFromJsonAsync<JsonObject>() ?? [];
        Received.Enqueue(message);
        var to = (string?)message["to"] ?? "";
        var count = calls.AddOrUpdate(to, 1, (_, n) => n + 1);
        return to switch
        {
            FlakyRecipient when count <= 2 => Results.StatusCode(500),
            RefusedRecipient => Results.StatusCode(503),
            _ => Results.Ok(),
        };
    }

    public IReadOnlyList<JsonObject> For(long id) => Received.Where(m => (long?)m["id"] == id).ToList();

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
    }
}
