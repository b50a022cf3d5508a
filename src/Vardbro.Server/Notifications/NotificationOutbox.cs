using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Vardbro.Connectors;
using Vardbro.Server.Storage;

namespace Vardbro.Server.Notifications;

/// <summary>The states of a <see cref="NotificationRow"/>.</summary>
public static class NotificationStatus
{
    /// <summary>Waiting for the http sender (again, after a failed attempt).</summary>
    public const string Pending = "pending";

    public const string Sent = "sent";

    /// <summary>Kept in the outbox only (the outbox sender).</summary>
    public const string Stored = "stored";

    /// <summary>Given up after <see cref="NotificationDispatcher.MaxAttempts"/> attempts.</summary>
    public const string Failed = "failed";
}

/// <summary>
/// Queues a message to a patient (a confirmation code by SMS) in the caller's own unit of work: the
/// row is only added to the context, so it is saved (or not) together with what caused it. The
/// dispatcher finds it at its next poll (at most <see cref="NotificationDispatcher.PollInterval"/>);
/// <see cref="NotificationDispatcher.Signal"/> after the commit sends it at once.
/// </summary>
public static class NotificationOutbox
{
    public const string Sms = "sms";
    public const string Email = "email";

    public const int MaxChannelLength = 16;
    public const int MaxRecipientLength = 64;
    public const int MaxBodyLength = 1000;

    /// <summary>
    /// Adds the message to <paramref name="db"/> without saving and returns the row (its id is set on save).
    /// The sender setting and the clock come from the application's services, which the context was made with.
    /// </summary>
    public static NotificationRow Add(VardbroDb db, string channel, string recipient, string body, string? emr, string? appointmentId)
    {
        ArgumentNullException.ThrowIfNull(db);
        var services = db.GetService<IDbContextOptions>().FindExtension<CoreOptionsExtension>()?.ApplicationServiceProvider
            ?? throw new InvalidOperationException("This context was not made by the application's services; use the overload that takes the settings and the clock.");
        return Add(db, services.GetRequiredService<NotificationSettings>(), services.GetRequiredService<TimeProvider>(), channel, recipient, body, emr, appointmentId);
    }

    /// <summary>As <see cref="Add(VardbroDb, string, string, string, string?, string?)"/>, with the settings and the clock given.</summary>
    public static NotificationRow Add(
        VardbroDb db, NotificationSettings settings, TimeProvider time, string channel, string recipient, string body, string? emr, string? appointmentId)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentException.ThrowIfNullOrWhiteSpace(channel);
        ArgumentException.ThrowIfNullOrWhiteSpace(recipient);
        ArgumentException.ThrowIfNullOrEmpty(body);
        var to = CanonicalRecipient(channel, recipient);
        if (channel.Length > MaxChannelLength || to.Length > MaxRecipientLength || body.Length > MaxBodyLength)
        {
            throw new ArgumentException($"A notification takes a channel of at most {MaxChannelLength}, a recipient of at most {MaxRecipientLength} and a body of at most {MaxBodyLength} characters.");
        }

        var now = time.GetUtcNow();
        var row = new NotificationRow
        {
            Channel = channel,
            Recipient = to,
            Body = body,
            Emr = emr,
            AppointmentId = appointmentId,
            Status = settings.SendsOverHttp ? NotificationStatus.Pending : NotificationStatus.Stored,
            Attempts = 0,
            CreatedAt = now,
            NextAttemptAt = now,
        };
        db.Notifications.Add(row);
        return row;
    }

    /// <summary>
    /// The recipient as stored and sent: an SMS number in international form (<c>+46701234567</c>), an
    /// e-mail address in lower case, anything else trimmed.
    /// </summary>
    public static string CanonicalRecipient(string channel, string recipient)
    {
        ArgumentNullException.ThrowIfNull(recipient);
        var trimmed = recipient.Trim();
        return channel switch
        {
            Sms => PhoneNumbers.Normalize(trimmed) is { } digits ? "+" + digits : trimmed,
            Email => PhoneNumbers.NormalizeEmail(trimmed),
            _ => trimmed,
        };
    }

    /// <summary>The stored forms a search term may match, whichever accepted form it was given in.</summary>
    public static IReadOnlyList<string> RecipientCandidates(string recipient)
    {
        ArgumentNullException.ThrowIfNull(recipient);
        var trimmed = recipient.Trim();
        var candidates = new List<string> { trimmed, CanonicalRecipient(Sms, trimmed) };
        if (trimmed.Contains('@', StringComparison.Ordinal))
        {
            candidates.Add(CanonicalRecipient(Email, trimmed));
        }

        return candidates.Distinct(StringComparer.Ordinal).ToList();
    }
}

/// <summary>
/// The outbox as connectors see it (<see cref="INotificationOutbox"/>): a staged message is added to
/// the request's <see cref="VardbroDb"/>, so the connector's next save on that context stores it in the
/// same transaction as the change that caused it.
/// </summary>
public sealed class OutboxPort(VardbroDb db, NotificationSettings settings, TimeProvider time) : INotificationOutbox
{
    public void Stage(OutboxMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        NotificationOutbox.Add(db, settings, time, message.Channel, message.Recipient, message.Body, message.Emr, message.AppointmentId);
    }
}
