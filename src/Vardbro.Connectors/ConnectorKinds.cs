using System.Collections.Concurrent;

namespace Vardbro.Connectors;

/// <summary>One EMR as configured under <c>Emrs:&lt;code&gt;</c>.</summary>
/// <param name="Connector">The name of its <see cref="IConnectorKind"/>.</param>
/// <param name="Settings">What its kind read from its section (<see cref="IConnectorKind.ReadSettings"/>); null where the kind has none.</param>
/// <param name="ChangePollSeconds">
/// How often the server asks an EHR that changes outside Vardbro what changed, for the change feed
/// (<c>ChangePollSeconds</c>, 60 by default; 0: never). A connector with a feed of its own ignores it.
/// </param>
public sealed record EmrDefinition(
    string Code,
    string Name,
    string Connector,
    IReadOnlyList<IdType> PatientIdTypes,
    IReadOnlyList<IdType> ResourceIdTypes,
    object? Settings = null,
    int ChangePollSeconds = EmrDefinition.DefaultChangePollSeconds)
{
    public const int DefaultChangePollSeconds = 60;
}

/// <summary>
/// A kind of EHR connector (<c>local</c>, <c>fhir</c>, <c>cliniko</c>, …), registered by the project
/// that implements it (<c>services.AddXConnector()</c>). The server looks kinds up by the name an
/// EMR's <c>Connector</c> setting gives and never names one itself: a new EHR is a new project, one
/// line in <c>Program.cs</c> and a contract-test subclass (ADR 6).
/// </summary>
public interface IConnectorKind
{
    /// <summary>What operators write in <c>Emrs:&lt;code&gt;:Connector</c>.</summary>
    string Name { get; }

    /// <summary>
    /// The type of this kind's connectors. The capability interfaces it implements are what
    /// <c>GET /api/emrs</c> lists and what a request can require; the rest is 400 NOT_SUPPORTED.
    /// </summary>
    Type ConnectorType { get; }

    /// <summary>The patient id types an EMR of this kind accepts when its <c>PatientIdTypes</c> is not set.</summary>
    IReadOnlyList<IdType> DefaultPatientIdTypes => [IdType.EmrId, IdType.SePersonalNumber];

    /// <summary>
    /// Reads and checks the EMR's own settings. <paramref name="setting"/> answers keys relative to
    /// <c>Emrs:&lt;code&gt;</c> (nested with <c>:</c>); each problem is added as a sentence naming its
    /// full key. Returns what <see cref="Create"/> will be handed as <see cref="EmrDefinition.Settings"/>.
    /// </summary>
    object? ReadSettings(string code, Func<string, string?> setting, ICollection<string> problems);

    /// <summary>The connector for one EMR within one request scope (<paramref name="services"/> are that scope's).</summary>
    object Create(EmrDefinition emr, IServiceProvider services);
}

/// <summary>Reading a connector kind's settings: the checks every kind's settings share.</summary>
public static class ConnectorSettings
{
    /// <summary>
    /// The whole number at <paramref name="key"/> (relative to <c>Emrs:&lt;code&gt;</c>), <paramref name="fallback"/>
    /// when unset; out of [<paramref name="min"/>, <paramref name="max"/>] or not a number is a problem naming the key.
    /// </summary>
    public static int Number(string code, Func<string, string?> get, string key, int fallback, int min, int max, ICollection<string> problems)
    {
        ArgumentNullException.ThrowIfNull(get);
        ArgumentNullException.ThrowIfNull(problems);
        var raw = get(key);
        if (raw is null)
        {
            return fallback;
        }

        if (int.TryParse(raw, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var value) && value >= min && value <= max)
        {
            return value;
        }

        problems.Add($"Emrs:{code}:{key} must be a whole number from {min} to {max}.");
        return fallback;
    }
}

/// <summary>
/// One long-lived object per EMR code (an HTTP client, a transport with its rate budget), made on first
/// use and shared by every request for the server's life; disposed with the server.
/// </summary>
public abstract class PerEmr<T> : IDisposable
    where T : class, IDisposable
{
    private readonly ConcurrentDictionary<string, Lazy<T>> items = new(StringComparer.Ordinal);

    protected T GetOrCreate(string emr, Func<T> create) => items.GetOrAdd(emr, _ => new Lazy<T>(create)).Value;

    public void Dispose()
    {
        foreach (var item in items.Values.Where(i => i.IsValueCreated))
        {
            item.Value.Dispose();
        }

        GC.SuppressFinalize(this);
    }
}
