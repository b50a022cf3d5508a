using Microsoft.EntityFrameworkCore;
using Vardbro.Connectors;
using Vardbro.Connectors.Fhir;
using Vardbro.Connectors.Fhir.Auth;
using Vardbro.Connectors.Local;
using Vardbro.Server.Storage;

namespace Vardbro.Server.Emrs;

/// <summary>One EMR as configured under <c>Emrs:&lt;code&gt;</c>.</summary>
public sealed record EmrDefinition(
    string Code,
    string Name,
    string Connector,
    IReadOnlyList<IdType> PatientIdTypes,
    IReadOnlyList<IdType> ResourceIdTypes,
    FhirSettings? Fhir = null,
    FhirAuthSettings? FhirAuth = null);

/// <summary>The configured EMRs, read once at start; a bad entry stops the server with a clear message.</summary>
public sealed class EmrCatalog
{
    public const string LocalConnector = "local";
    public const string FhirConnector = "fhir";

    private readonly Dictionary<string, EmrDefinition> byCode;

    public EmrCatalog(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        byCode = new Dictionary<string, EmrDefinition>(StringComparer.Ordinal);
        foreach (var section in configuration.GetSection("Emrs").GetChildren())
        {
            var code = section.Key;
            var connector = section["Connector"] ?? LocalConnector;
            FhirSettings? fhir = null;
            FhirAuthSettings? auth = null;
            if (connector == FhirConnector)
            {
                var (settings, problems) = FhirSettings.Read(code, key => section[key]);
                auth = FhirAuthSettings.FromLookup(key => section.GetSection("Auth")[key]);
                var all = problems.Concat(FhirAuthSettings.Validate(auth, $"Emrs:{code}:Auth")).ToList();
                if (all.Count > 0)
                {
                    throw new InvalidOperationException(string.Join(" ", all));
                }

                fhir = settings;
            }
            else if (connector != LocalConnector)
            {
                throw new InvalidOperationException($"Emrs:{code}:Connector '{connector}' is not a known connector (known: local, fhir).");
            }

            byCode[code] = new EmrDefinition(
                code,
                section["Name"] ?? code,
                connector,
                ReadTypes(section.GetSection("PatientIdTypes"), IdSubject.Patient, code, [IdType.EmrId, IdType.SePersonalNumber]),
                ReadTypes(section.GetSection("ResourceIdTypes"), IdSubject.Resource, code, [IdType.EmrId]),
                fhir,
                auth);
        }
    }

    public IEnumerable<EmrDefinition> All => byCode.Values.OrderBy(x => x.Code, StringComparer.Ordinal);

    public EmrDefinition? Find(string code) => byCode.GetValueOrDefault(code);

    private static List<IdType> ReadTypes(IConfigurationSection section, IdSubject subject, string code, IdType[] defaults)
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
                throw new InvalidOperationException($"Emrs:{code}: '{name}' is not a {subject.ToString().ToLowerInvariant()} id type.");
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
/// Scoped, so connectors share the request's database context.
/// </summary>
public sealed class EmrConnectors(
    EmrCatalog catalog, VardbroDb db, TimeProvider time, IBlobStore blobs, LocalMasterDataCache masterData, FhirClients fhirClients)
{
    private readonly Dictionary<string, object> created = new(StringComparer.Ordinal);

    public EmrDefinition Definition(string emr) =>
        catalog.Find(emr) ?? throw new VardbroException(ErrorCodes.NotFound, "No EMR with that code is configured; GET /api/emrs lists them.", "emr", 404);

    /// <summary>The connector of <paramref name="emr"/> as <typeparamref name="T"/>; 400 NOT_SUPPORTED where it lacks it.</summary>
    public T Require<T>(string emr)
        where T : class
    {
        var connector = Connector(emr);
        return connector as T ?? throw new VardbroException(ErrorCodes.NotSupported, $"The EMR '{emr}' does not support this operation.", "emr");
    }

    public T? Find<T>(string emr)
        where T : class => Connector(emr) as T;

    private static readonly (Type Capability, string[] Names)[] CapabilityNames =
    [
        (typeof(ICareUnitDirectory), ["care_units", "resources", "healthcare_services"]),
        (typeof(IPatientDirectory), ["patients"]),
        (typeof(IScheduling), ["schedules", "timeslots"]),
        (typeof(IAppointmentBooking), ["appointments"]),
        (typeof(IMedicalNotes), ["medical_notes"]),
        (typeof(IDocuments), ["documents"]),
        (typeof(IMasterDataAdmin), ["master_data"]),
    ];

    /// <summary>What the EMR's connector offers, named as in <c>GET /api/emrs</c>.</summary>
    public static IReadOnlyList<string> Capabilities(EmrDefinition emr)
    {
        ArgumentNullException.ThrowIfNull(emr);
        var type = emr.Connector switch
        {
            EmrCatalog.LocalConnector => typeof(LocalConnector),
            EmrCatalog.FhirConnector => typeof(FhirConnector),
            _ => typeof(object),
        };
        return CapabilityNames.Where(c => c.Capability.IsAssignableFrom(type)).SelectMany(c => c.Names).ToList();
    }

    private object Connector(string emr)
    {
        if (created.TryGetValue(emr, out var existing))
        {
            return existing;
        }

        var definition = Definition(emr);
        object connector = definition.Connector switch
        {
            EmrCatalog.LocalConnector => new LocalConnector(db, definition.Code, time, blobs, masterData),
            EmrCatalog.FhirConnector => new FhirConnector(fhirClients.For(definition), definition.Fhir!, time),
            _ => throw new InvalidOperationException($"Unknown connector {definition.Connector}"),
        };
        created[emr] = connector;
        return connector;
    }
}

/// <summary>One HttpClient per FHIR EMR for the server's life: its connections and tokens are shared by all requests.</summary>
public sealed class FhirClients(TimeProvider time) : IDisposable
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, Lazy<HttpClient>> clients = new(StringComparer.Ordinal);

    public HttpClient For(EmrDefinition emr)
    {
        ArgumentNullException.ThrowIfNull(emr);
        var settings = emr.Fhir ?? throw new InvalidOperationException($"EMR {emr.Code} is not a FHIR EMR.");
        return clients.GetOrAdd(emr.Code, _ => new Lazy<HttpClient>(() => FhirTransport.Create(settings, emr.FhirAuth ?? new FhirAuthSettings(), time))).Value;
    }

    public void Dispose()
    {
        foreach (var client in clients.Values.Where(c => c.IsValueCreated))
        {
            client.Value.Dispose();
        }
    }
}
