using Vardbro.Connectors;
using Vardbro.Connectors.Local;
using Vardbro.Server.Storage;

namespace Vardbro.Server.Emrs;

/// <summary>
/// The configured EMRs, read once at start through the registered connector kinds; a bad entry stops
/// the server with one message naming every problem by its key.
/// </summary>
public sealed class EmrCatalog
{
    private readonly Dictionary<string, EmrDefinition> byCode = new(StringComparer.Ordinal);
    private readonly Dictionary<string, IConnectorKind> kinds;

    public EmrCatalog(IConfiguration configuration, IEnumerable<IConnectorKind> kinds)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        this.kinds = kinds.ToDictionary(k => k.Name, StringComparer.Ordinal);
        var problems = new List<string>();
        foreach (var section in configuration.GetSection("Emrs").GetChildren())
        {
            var code = section.Key;
            var name = section["Connector"];
            if (string.IsNullOrEmpty(name) || !this.kinds.TryGetValue(name, out var kind))
            {
                problems.Add($"Emrs:{code}:Connector {(string.IsNullOrEmpty(name) ? "is required" : $"'{name}' is not a known connector")} (known: {string.Join(", ", this.kinds.Keys.Order(StringComparer.Ordinal))}).");
                continue;
            }

            var settings = kind.ReadSettings(code, key => section[key], problems);
            byCode[code] = new EmrDefinition(
                code,
                section["Name"] ?? code,
                kind.Name,
                ReadTypes(section.GetSection("PatientIdTypes"), IdSubject.Patient, code, [.. kind.DefaultPatientIdTypes], problems),
                ReadTypes(section.GetSection("ResourceIdTypes"), IdSubject.Resource, code, [IdType.EmrId], problems),
                settings,
                ReadPollSeconds(section["ChangePollSeconds"], code, problems));
        }

        if (problems.Count > 0)
        {
            throw new InvalidOperationException(string.Join(" ", problems));
        }
    }

    public IEnumerable<EmrDefinition> All => byCode.Values.OrderBy(x => x.Code, StringComparer.Ordinal);

    public EmrDefinition? Find(string code) => byCode.GetValueOrDefault(code);

    /// <summary>The kind serving <paramref name="emr"/>.</summary>
    public IConnectorKind KindOf(EmrDefinition emr)
    {
        ArgumentNullException.ThrowIfNull(emr);
        return kinds[emr.Connector];
    }

    private static int ReadPollSeconds(string? value, string code, List<string> problems)
    {
        if (value is null)
        {
            return EmrDefinition.DefaultChangePollSeconds;
        }

        if (int.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var seconds) && seconds <= 86_400)
        {
            return seconds;
        }

        problems.Add($"Emrs:{code}:ChangePollSeconds must be a whole number of seconds from 0 (never) to 86400.");
        return 0;
    }

    private static List<IdType> ReadTypes(IConfigurationSection section, IdSubject subject, string code, IdType[] defaults, List<string> problems)
    {
        var names = section.GetChildren().Select(c => c.Value).OfType<string>().ToList();
        if (names.Count == 0)
        {
            return [.. defaults];
        }

        var types = new List<IdType>();
        foreach (var name in names)
        {
            if (!IdTypes.TryParseName(name, out var type) || !IdTypes.AppliesTo(type, subject))
            {
                problems.Add($"Emrs:{code}: '{name}' is not a {subject.ToString().ToLowerInvariant()} id type.");
                continue;
            }

            types.Add(type);
        }

        if (!types.Contains(IdType.EmrId))
        {
            types.Insert(0, IdType.EmrId);
        }

        return types;
    }
}

/// <summary>
/// The one seam: hands out the connector configured for an EMR code, as the capability asked for.
/// Scoped, so connectors share the request's services (the built-in EHR its database context).
/// </summary>
public sealed class EmrConnectors(EmrCatalog catalog, IServiceProvider services)
{
    private readonly Dictionary<string, object> created = new(StringComparer.Ordinal);

    public EmrDefinition Definition(string emr) =>
        catalog.Find(emr) ?? throw new VardbroException(ErrorCodes.NotFound, "No EMR with that code is configured; GET /api/emrs lists them.", "emr");

    /// <summary>The connector of <paramref name="emr"/> as <typeparamref name="T"/>; 400 NOT_SUPPORTED where it lacks it.</summary>
    public T Require<T>(string emr)
        where T : class
    {
        var connector = Connector(emr);
        return connector as T ?? throw Unsupported(emr);
    }

    public T? Find<T>(string emr)
        where T : class => Connector(emr) as T;

    private static readonly (Type Capability, string[] Names)[] CapabilityNames =
    [
        (typeof(ICareUnitDirectory), ["care_units", "resources", "healthcare_services"]),
        (typeof(IPatientDirectory), ["patients"]),
        (typeof(IPatientUpdates), ["patient_updates"]),
        (typeof(IScheduling), ["schedules", "timeslots"]),
        (typeof(IAppointmentBooking), ["appointments"]),
        (typeof(IMedicalNotes), ["medical_notes"]),
        (typeof(IDocuments), ["documents"]),
        (typeof(IMasterDataAdmin), ["master_data"]),
        (typeof(IChangeFeed), ["events"]),
    ];

    /// <summary>What the EMR's connector offers, named as in <c>GET /api/emrs</c>.</summary>
    public static IReadOnlyList<string> Capabilities(EmrCatalog catalog, EmrDefinition emr)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        var type = catalog.KindOf(emr).ConnectorType;
        var names = CapabilityNames.Where(c => c.Capability.IsAssignableFrom(type)).SelectMany(c => c.Names).ToList();
        if (PollsChanges(catalog, emr))
        {
            names.Add("events");
        }

        return names;
    }

    /// <summary>
    /// Whether the server polls the EMR for the changes of its feed: its connector keeps no feed of its
    /// own, lists a care unit's appointments by the time they changed, and polling is not off.
    /// </summary>
    public static bool PollsChanges(EmrCatalog catalog, EmrDefinition emr)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(emr);
        var type = catalog.KindOf(emr).ConnectorType;
        return emr.ChangePollSeconds > 0 && !typeof(IChangeFeed).IsAssignableFrom(type)
            && typeof(IAppointmentBooking).IsAssignableFrom(type) && typeof(ICareUnitDirectory).IsAssignableFrom(type);
    }

    /// <summary>The EMR's change feed: its connector's own, or the events the change poller stored for it; 400 NOT_SUPPORTED where it has neither.</summary>
    public IChangeFeed ChangeFeed(string emr) =>
        Find<IChangeFeed>(emr)
        ?? (PollsChanges(catalog, Definition(emr))
            ? new StoredChangeFeed(services.GetRequiredService<VardbroDb>(), emr)
            : throw Unsupported(emr));

    private static VardbroException Unsupported(string emr) =>
        new(ErrorCodes.NotSupported, $"The EMR '{emr}' does not support this operation.", "emr");

    private object Connector(string emr)
    {
        if (!created.TryGetValue(emr, out var connector))
        {
            var definition = Definition(emr);
            created[emr] = connector = catalog.KindOf(definition).Create(definition, services);
        }

        return connector;
    }
}
