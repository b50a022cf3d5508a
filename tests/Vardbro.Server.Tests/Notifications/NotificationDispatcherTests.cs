using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Hosting;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Vardbro.Server.Notifications;
using Vardbro.Server.Storage;
using Vardbro.Server.Tests.Infrastructure;

namespace Vardbro.Server.Tests.Notifications;

/// <summary>The sandbox server on a test clock, sending notifications over HTTP to <see cref="Url"/>.</summary>
public abstract class HttpSenderFactory : VardbroFactory
{
    protected override bool UseFakeTime => true;

    protected abstract Uri Url { get; }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureAppConfiguration(c => c.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Notifications:Http:Url"] = Url.ToString(),
        }));
    }

    public NotificationDispatcher Dispatcher => Services.GetRequiredService<NotificationDispatcher>();

    public Task<long> AddAsync(string recipient, string body) => WithDbAsync(async db =>
    {
        var row = NotificationOutbox.Add(db, NotificationOutbox.Sms, recipient, body, "webdoc", "appointment-1");
        await db.SaveChangesAsync();
        return row.Id;
    });

    public Task<NotificationRow> RowAsync(long id) => WithDbAsync(db => db.Notifications.AsNoTracking().SingleAsync(n => n.Id == id));
}

/// <summary>Sends to a <see cref="NotificationReceiver"/> started with the fixture.</summary>
public sealed class ReceiverFactory : HttpSenderFactory, IAsyncLifetime
{
    public NotificationReceiver Receiver { get; private set; } = null!;

    protected override Uri Url => Receiver.Url;

    public async Task InitializeAsync() => Receiver = await NotificationReceiver.StartAsync();

    async Task IAsyncLifetime.DisposeAsync()
    {
        await DisposeAsync();
        await Receiver.DisposeAsync();
    }
}

/// <summary>Sends to a loopback port where nothing listens.</summary>
public sealed class DeadUrlFactory : HttpSenderFactory
{
    private static readonly Uri DeadUrl = FreePortUrl();

    protected override Uri Url => DeadUrl;

    private static Uri FreePortUrl()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return new Uri($"http://127.0.0.1:{port}/sms");
    }
}

public sealed class NotificationDispatcherTests(ReceiverFactory factory) : IClassFixture<ReceiverFactory>
{
    [Fact]
    public async Task A_message_refused_twice_is_retried_with_backoff_and_then_sent()
    {
        var id = await factory.AddAsync("070-000 00 01", "Vårdcentralen: your code is 123456.");
        var row = await factory.RowAsync(id);
        Assert.Equal(NotificationStatus.Pending, row.Status);
        Assert.Equal(NotificationReceiver.FlakyRecipient, row.Recipient);

        await factory.Dispatcher.DispatchDueAsync(CancellationToken.None);
        row = await factory.RowAsync(id);
        Assert.Equal((NotificationStatus.Pending, 1), (row.Status, row.Attempts));
        Assert.Equal(factory.Time.GetUtcNow() + TimeSpan.FromSeconds(1), row.NextAttemptAt);

        // Not due yet: nothing is sent.
        factory.Time.Advance(TimeSpan.FromMilliseconds(500));
        await factory.Dispatcher.DispatchDueAsync(CancellationToken.None);
        Assert.Equal(1, (await factory.RowAsync(id)).Attempts);

        factory.Time.Advance(TimeSpan.FromMilliseconds(500));
        await factory.Dispatcher.DispatchDueAsync(CancellationToken.None);
        row = await factory.RowAsync(id);
        Assert.Equal((NotificationStatus.Pending, 2), (row.Status, row.Attempts));
        Assert.Equal(factory.Time.GetUtcNow() + TimeSpan.FromSeconds(2), row.NextAttemptAt);

        factory.Time.Advance(TimeSpan.FromSeconds(2));
        await factory.Dispatcher.DispatchDueAsync(CancellationToken.None);
        row = await factory.RowAsync(id);
        Assert.Equal((NotificationStatus.Sent, 3), (row.Status, row.Attempts));
        Assert.Equal(factory.Time.GetUtcNow(), row.SentAt);

        var received = factory.Receiver.For(id);
        Assert.Equal(3, received.Count);
        Assert.All(received, m =>
        {
            Assert.Equal("sms", (string?)m["channel"]);
            Assert.Equal(NotificationReceiver.FlakyRecipient, (string?)m["to"]);
            Assert.Equal("Vårdcentralen: your code is 123456.", (string?)m["body"]);
        });
    }

    [Fact]
    public async Task The_running_dispatcher_sends_when_signalled()
    {
        var id = await factory.AddAsync("+46 70 000 00 03", "Your code is 654321.");
        factory.Dispatcher.Signal();
        var row = await factory.RowAsync(id);
        for (var i = 0; i < 200 && row.Status != NotificationStatus.Sent; i++)
        {
            await Task.Delay(50);
            row = await factory.RowAsync(id);
        }

        Assert.Equal((NotificationStatus.Sent, 1), (row.Status, row.Attempts));
        Assert.Single(factory.Receiver.For(id));
    }

    [Fact]
    public async Task A_message_always_refused_fails_after_ten_attempts()
    {
        var id = await factory.AddAsync(NotificationReceiver.RefusedRecipient, "Your code is 000000.");
        await DriveToTheEndAsync(factory, id);
        Assert.Equal(NotificationDispatcher.MaxAttempts, factory.Receiver.For(id).Count);
    }

    /// <summary>Runs due passes on the test clock until the message is no longer pending, checking each wait.</summary>
    internal static async Task DriveToTheEndAsync(HttpSenderFactory factory, long id)
    {
        for (var attempt = 1; attempt <= NotificationDispatcher.MaxAttempts; attempt++)
        {
            await factory.Dispatcher.DispatchDueAsync(CancellationToken.None);
            var row = await factory.RowAsync(id);
            Assert.Equal(attempt, row.Attempts);
            if (attempt < NotificationDispatcher.MaxAttempts)
            {
                Assert.Equal(NotificationStatus.Pending, row.Status);
                Assert.Equal(factory.Time.GetUtcNow() + NotificationDispatcher.Backoff(attempt), row.NextAttemptAt);
                factory.Time.Advance(NotificationDispatcher.Backoff(attempt));
            }
        }

        var last = await factory.RowAsync(id);
        Assert.Equal((NotificationStatus.Failed, NotificationDispatcher.MaxAttempts), (last.Status, last.Attempts));
        Assert.Null(last.SentAt);

        // Failed is final.
        factory.Time.Advance(TimeSpan.FromHours(1));
        await factory.Dispatcher.DispatchDueAsync(CancellationToken.None);
        Assert.Equal(NotificationDispatcher.MaxAttempts, (await factory.RowAsync(id)).Attempts);
    }

    [Fact]
    public void Backoff_doubles_from_one_second_up_to_five_minutes()
    {
        var waits = Enumerable.Range(1, 12).Select(n => NotificationDispatcher.Backoff(n).TotalSeconds).ToArray();
        Assert.Equal([1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300], waits);
    }
}

public sealed class UnreachableReceiverTests(DeadUrlFactory factory) : IClassFixture<DeadUrlFactory>
{
    [Fact]
    public async Task A_message_to_an_unreachable_url_fails_after_ten_attempts()
    {
        var id = await factory.AddAsync("+46701234567", "Your code is 111111.");
        await NotificationDispatcherTests.DriveToTheEndAsync(factory, id);
    }
}
