using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Vardbro.Storage;

namespace Vardbro.Connectors.Cliniko;

/// <summary>Connector kind <c>cliniko</c>: a Cliniko account through its REST API (v1).</summary>
public sealed class ClinikoConnectorKind(ClinikoTransports transports) : IConnectorKind
{
    public const string KindName = "cliniko";

    public string Name => KindName;

    public Type ConnectorType => typeof(ClinikoConnector);

    public IReadOnlyList<IdType> DefaultPatientIdTypes => [IdType.EmrId];

    public object? ReadSettings(string code, Func<string, string?> setting, ICollection<string> problems)
    {
        ArgumentNullException.ThrowIfNull(setting);
        ArgumentNullException.ThrowIfNull(problems);
        var (settings, found) = ClinikoSettings.Read(code, setting);
        foreach (var problem in found)
        {
            problems.Add(problem);
        }

        return settings;
    }

    public object Create(EmrDefinition emr, IServiceProvider services)
    {
        ArgumentNullException.ThrowIfNull(emr);
        ArgumentNullException.ThrowIfNull(services);
        var settings = emr.Settings as ClinikoSettings ?? throw new InvalidOperationException($"EMR {emr.Code} has no Cliniko settings.");
        var time = services.GetRequiredService<TimeProvider>();
        var logger = services.GetService<ILoggerFactory>()?.CreateLogger<ClinikoConnector>() ?? (ILogger)NullLogger.Instance;
        return new ClinikoConnector(transports.For(settings, time, logger), services.GetService<IScopedStore>()?.Db, time, logger);
    }
}

/// <summary>One transport per Cliniko EMR for the server's life: its rate budget and connections are shared by all requests.</summary>
public sealed class ClinikoTransports : PerEmr<ClinikoTransport>
{
    public ClinikoTransport For(ClinikoSettings settings, TimeProvider time, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(settings);
        return GetOrCreate(settings.Code, () => ClinikoTransport.Create(settings, time, logger));
    }
}

public static class ClinikoConnectorRegistration
{
    /// <summary>Registers connector kind <c>cliniko</c>. Bookings are serialized through the host's scoped <see cref="IScopedStore"/>.</summary>
    public static IServiceCollection AddClinikoConnector(this IServiceCollection services)
    {
        services.AddSingleton<ClinikoTransports>();
        services.AddSingleton<IConnectorKind, ClinikoConnectorKind>();
        return services;
    }
}
