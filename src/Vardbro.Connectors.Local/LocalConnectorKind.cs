using Microsoft.Extensions.DependencyInjection;
using Vardbro.Storage;

namespace Vardbro.Connectors.Local;

/// <summary>The built-in EHR as connector kind <c>local</c>: its data lives in the server's own database.</summary>
public sealed class LocalConnectorKind : IConnectorKind
{
    public const string KindName = "local";

    public string Name => KindName;

    public Type ConnectorType => typeof(LocalConnector);

    /// <summary>The built-in EHR has no settings beyond the id types every EMR has.</summary>
    public object? ReadSettings(string code, Func<string, string?> setting, ICollection<string> problems) => null;

    public object Create(EmrDefinition emr, IServiceProvider services)
    {
        ArgumentNullException.ThrowIfNull(emr);
        ArgumentNullException.ThrowIfNull(services);
        return new LocalConnector(
            services.GetRequiredService<IScopedStore>().Db,
            emr.Code,
            services.GetRequiredService<TimeProvider>(),
            services.GetService<IBlobStore>(),
            services.GetRequiredService<LocalMasterDataCache>(),
            services.GetService<INotificationOutbox>());
    }
}

public static class LocalConnectorRegistration
{
    /// <summary>
    /// Registers connector kind <c>local</c>. The host provides the scoped <see cref="IScopedStore"/>
    /// (whose model includes <see cref="LocalEhrModel"/>), an <see cref="IBlobStore"/> for document
    /// bytes and, for bookings held for confirmation, an <see cref="INotificationOutbox"/>.
    /// </summary>
    public static IServiceCollection AddLocalConnector(this IServiceCollection services)
    {
        services.AddSingleton<IConnectorKind, LocalConnectorKind>();
        services.AddSingleton<LocalMasterDataCache>();
        return services;
    }
}
