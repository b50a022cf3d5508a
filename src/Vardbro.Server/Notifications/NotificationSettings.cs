using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Vardbro.Server.Notifications;

/// <summary>
/// <c>Notifications:*</c>: <c>Sender</c> = <c>outbox</c> (kept in the outbox only, listed by
/// <c>GET /api/admin/outbox</c>; the sandbox's way) or <c>http</c> (POSTed as JSON to <c>Http:Url</c>,
/// e.g. an SMS gateway's webhook). Without <c>Sender</c>: <c>http</c> when a URL is set, else <c>outbox</c>.
/// </summary>
public sealed class NotificationsOptions : IValidatableObject
{
    public const string Section = "Notifications";

    public string? Sender { get; set; }

    public HttpSenderOptions Http { get; set; } = new();

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext) =>
        NotificationSettings.Problem(this) is { } problem ? [problem] : [];

    public sealed class HttpSenderOptions
    {
        public string? Url { get; set; }
    }
}

/// <summary>How notifications leave the server, as <see cref="NotificationsOptions"/> say.</summary>
public sealed class NotificationSettings
{
    public const string Outbox = "outbox";
    public const string Http = "http";

    public NotificationSettings(IOptions<NotificationsOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var value = options.Value;
        if (Problem(value) is { } problem)
        {
            throw new InvalidOperationException($"{NotificationsOptions.Section}:{problem.MemberNames.First()} {problem.ErrorMessage}");
        }

        Sender = SenderOf(value);
        Url = Sender == Http ? new Uri(value.Http.Url!, UriKind.Absolute) : null;
    }

    public string Sender { get; }

    public bool SendsOverHttp => Sender == Http;

    /// <summary>Where the http sender posts; null for the outbox.</summary>
    public Uri? Url { get; }

    internal static ValidationResult? Problem(NotificationsOptions options)
    {
        var sender = SenderOf(options);
        if (sender is not (Outbox or Http))
        {
            return new ValidationResult($"must be 'outbox' or 'http', not '{sender}'.", [nameof(NotificationsOptions.Sender)]);
        }

        var url = options.Http.Url;
        if (sender == Http && (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps)))
        {
            return new ValidationResult("is http, but Notifications:Http:Url is not an absolute http(s) URL.", [nameof(NotificationsOptions.Sender)]);
        }

        return null;
    }

    private static string SenderOf(NotificationsOptions options) =>
        options.Sender is { Length: > 0 } s ? s.Trim().ToLowerInvariant() : string.IsNullOrWhiteSpace(options.Http.Url) ? Outbox : Http;
}
