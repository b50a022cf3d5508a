using System.Net.Http.Json;
using System.Text.Json.Serialization;
using Vardbro.Server.Storage;

namespace Vardbro.Server.Notifications;

/// <summary>
/// Posts one notification as JSON <c>{id, channel, to, body}</c> to <c>Notifications:Http:Url</c>;
/// any 2xx answer counts as sent. Delivery is at least once: a receiver may see an <c>id</c> twice
/// (after a timeout whose request did arrive, or a crash between sending and recording) and should
/// ignore repeats. A typed client: register with <c>AddHttpClient&lt;HttpNotificationSender&gt;(HttpNotificationSender.Configure)</c>.
/// </summary>
public sealed class HttpNotificationSender(HttpClient client, NotificationSettings settings)
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    public static void Configure(HttpClient client)
    {
        ArgumentNullException.ThrowIfNull(client);
        client.Timeout = Timeout;
    }

    /// <summary>The wire form; the names are fixed here, whatever the server's JSON settings.</summary>
    public sealed record Message(
        [property: JsonPropertyName("id")] long Id,
        [property: JsonPropertyName("channel")] string Channel,
        [property: JsonPropertyName("to")] string To,
        [property: JsonPropertyName("body")] string Body);

    /// <summary>Sent when the receiver answered 2xx; not sent for any other answer. Throws when the receiver cannot be reached.</summary>
    public async Task<SendResult> SendAsync(NotificationRow row, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(row);
        var url = settings.Url ?? throw new InvalidOperationException("The http notification sender has no URL (Notifications:Http:Url).");
        using var response = await client.PostAsJsonAsync(url, new Message(row.Id, row.Channel, row.Recipient, row.Body), cancellationToken);
        return new SendResult(response.IsSuccessStatusCode, (int)response.StatusCode);
    }

    public readonly record struct SendResult(bool Sent, int Status);
}
