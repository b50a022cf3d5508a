namespace Vardbro.Server.Notifications;

/// <summary>
/// How notifications leave the server, from <c>Notifications:*</c>: <c>Sender</c> = <c>outbox</c>
/// (kept in the outbox only, listed by <c>GET /api/admin/outbox</c>; the sandbox's way) or <c>http</c>
/// (POSTed as JSON to <c>Http:Url</c>, e.g. an SMS gateway's webhook). Without <c>Sender</c>: <c>http</c>
/// when a URL is set, else <c>outbox</c>. Read when first needed, so later configuration sources count.
/// </summary>
public sealed class NotificationSettings
{
    public const string Outbox = "outbox";
    public const string Http = "http";

    public NotificationSettings(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var url = configuration["Notifications:Http:Url"];
        var sender = configuration["Notifications:Sender"] is { Length: > 0 } s ? s.Trim().ToLowerInvariant() : string.IsNullOrWhiteSpace(url) ? Outbox : Http;
        switch (sender)
        {
            case Outbox:
                break;
            case Http:
                if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
                {
                    throw new InvalidOperationException("Notifications:Sender is http but Notifications:Http:Url is not an absolute http(s) URL.");
                }

                Url = uri;
                break;
            default:
                throw new InvalidOperationException($"Notifications:Sender must be 'outbox' or 'http', not '{sender}'.");
        }

        Sender = sender;
    }

    public string Sender { get; }

    public bool SendsOverHttp => Sender == Http;

    /// <summary>Where the http sender posts; null for the outbox.</summary>
    public Uri? Url { get; }
}
