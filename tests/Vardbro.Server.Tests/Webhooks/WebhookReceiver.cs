using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace Vardbro.Server.Tests.Webhooks;

/// <summary>One request a <see cref="WebhookReceiver"/> took: path, the three Standard Webhooks headers and the body.</summary>
public sealed record ReceivedWebhook(string Path, string Id, string Timestamp, string Signature, string Body);

/// <summary>
/// An HTTP receiver on a loopback port: records every request and answers each path with the statuses
/// queued for it, then 204.
/// </summary>
public sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly HttpListener listener = new();
    private readonly ConcurrentDictionary<string, ConcurrentQueue<int>> answers = new(StringComparer.Ordinal);
    private readonly Task loop;

    public WebhookReceiver()
        : this(FreePort())
    {
    }

    /// <summary>A receiver on <paramref name="port"/> (a test that starts it late, after deliveries to it failed).</summary>
    public WebhookReceiver(int port)
    {
        Port = port;
        listener.Prefixes.Add($"http://127.0.0.1:{Port}/");
        listener.Start();
        loop = Task.Run(ServeAsync);
    }

    public int Port { get; }

    /// <summary>A loopback port nothing listens on now.</summary>
    public static int FreePort()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return port;
    }

    public ConcurrentQueue<ReceivedWebhook> Received { get; } = new();

    public string Url(string path) => $"http://127.0.0.1:{Port}/{path}";

    /// <summary>The next requests to <paramref name="path"/> are answered with these statuses, in order.</summary>
    public void Answer(string path, params int[] statuses)
    {
        var queue = answers.GetOrAdd("/" + path, _ => new ConcurrentQueue<int>());
        foreach (var status in statuses)
        {
            queue.Enqueue(status);
        }
    }

    public IReadOnlyList<ReceivedWebhook> At(string path) => Received.Where(r => r.Path == "/" + path).ToList();

    /// <summary>Waits until <paramref name="done"/> holds for what was received (at most <paramref name="seconds"/>).</summary>
    public async Task<IReadOnlyList<ReceivedWebhook>> WaitAsync(string path, Func<IReadOnlyList<ReceivedWebhook>, bool> done, int seconds = 30)
    {
        var until = TimeProvider.System.GetUtcNow().AddSeconds(seconds);
        while (TimeProvider.System.GetUtcNow() < until)
        {
            var now = At(path);
            if (done(now))
            {
                return now;
            }

            await Task.Delay(100);
        }

        return At(path);
    }

    private async Task ServeAsync()
    {
        while (listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await listener.GetContextAsync();
            }
            catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            using var reader = new StreamReader(context.Request.InputStream);
            var body = await reader.ReadToEndAsync();
            var path = context.Request.Url!.AbsolutePath;
            Received.Enqueue(new ReceivedWebhook(
                path, context.Request.Headers["webhook-id"] ?? "", context.Request.Headers["webhook-timestamp"] ?? "", context.Request.Headers["webhook-signature"] ?? "", body));
            context.Response.StatusCode = answers.TryGetValue(path, out var queue) && queue.TryDequeue(out var status) ? status : 204;
            context.Response.Close();
        }
    }

    public async ValueTask DisposeAsync()
    {
        listener.Stop();
        listener.Close();
        await loop;
    }
}
