using Microsoft.Extensions.DependencyInjection;
using Vardbro.Connectors.Fhir.Auth;
using Vardbro.Storage;

namespace Vardbro.Connectors.Fhir;

/// <summary>What a FHIR EMR's section holds: the server and how to authenticate to it.</summary>
public sealed record FhirEmrSettings(FhirSettings Server, FhirAuthSettings Auth);

/// <summary>Connector kind <c>fhir</c>: any FHIR R4 server.</summary>
public sealed class FhirConnectorKind(FhirClients clients) : IConnectorKind
{
    public const string KindName = "fhir";

    public string Name => KindName;

    public Type ConnectorType => typeof(FhirConnector);

    public object? ReadSettings(string code, Func<string, string?> setting, ICollection<string> problems)
    {
        ArgumentNullException.ThrowIfNull(setting);
        ArgumentNullException.ThrowIfNull(problems);
        var (server, serverProblems) = FhirSettings.Read(code, setting);
        var auth = FhirAuthSettings.FromLookup(key => setting("Auth:" + key));
        var all = serverProblems.Concat(FhirAuthSettings.Validate(auth, $"Emrs:{code}:Auth")).ToList();
        foreach (var problem in all)
        {
            problems.Add(problem);
        }

        return all.Count == 0 ? new FhirEmrSettings(server!, auth) : null;
    }

    public object Create(EmrDefinition emr, IServiceProvider services)
    {
        ArgumentNullException.ThrowIfNull(emr);
        ArgumentNullException.ThrowIfNull(services);
        var settings = emr.Settings as FhirEmrSettings ?? throw new InvalidOperationException($"EMR {emr.Code} has no FHIR settings.");
        var time = services.GetRequiredService<TimeProvider>();
        return new FhirConnector(clients.For(emr.Code, settings, time), settings.Server, time, services.GetService<CursorSigner>(), services.GetService<IScopedStore>()?.Db);
    }
}

/// <summary>One HttpClient per FHIR EMR for the server's life: its connections and tokens are shared by all requests.</summary>
public sealed class FhirClients : PerEmr<HttpClient>
{
    public HttpClient For(string emr, FhirEmrSettings settings, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(settings);
        return GetOrCreate(emr, () => FhirTransport.Create(settings.Server, settings.Auth, time, emr));
    }
}

public static class FhirConnectorRegistration
{
    /// <summary>Registers connector kind <c>fhir</c>.</summary>
    public static IServiceCollection AddFhirConnector(this IServiceCollection services)
    {
        services.AddSingleton<FhirClients>();
        services.AddSingleton<IConnectorKind, FhirConnectorKind>();
        return services;
    }
}
