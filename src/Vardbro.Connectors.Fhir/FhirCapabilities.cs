using System.Collections.Concurrent;
using F = Hl7.Fhir.Model;

namespace Vardbro.Connectors.Fhir;

/// <summary>
/// What the server's CapabilityStatement (<c>GET metadata</c>) declares, and so what the connector may
/// use: <c>_sort</c>, conditional create, interactions and operations per resource type. Read once per
/// server and kept for <see cref="Lifetime"/>; a server that serves no statement is taken as declaring
/// everything (the connector then finds out by its answers, as before).
/// </summary>
internal sealed class FhirCapabilities
{
    public static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(10);

    private static readonly ConcurrentDictionary<string, (DateTimeOffset Until, Lazy<Task<FhirCapabilities>> Statement)> Cache = new(StringComparer.Ordinal);

    private readonly Dictionary<string, F.CapabilityStatement.ResourceComponent> resources;
    private readonly HashSet<string> globalSearch;
    private readonly HashSet<string> globalOperations;
    private readonly bool permissive;

    private FhirCapabilities(F.CapabilityStatement? statement)
    {
        permissive = statement is null;
        var rest = statement?.Rest.FirstOrDefault(r => r.Mode == F.CapabilityStatement.RestfulCapabilityMode.Server) ?? statement?.Rest.FirstOrDefault();
        resources = rest?.Resource.Where(r => r.Type is not null).GroupBy(r => r.Type!).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal) ?? [];
        globalSearch = rest?.SearchParam.Select(p => p.Name).OfType<string>().ToHashSet(StringComparer.Ordinal) ?? [];
        globalOperations = rest?.Operation.Select(o => o.Name).OfType<string>().ToHashSet(StringComparer.Ordinal) ?? [];
    }

    public static FhirCapabilities Of(F.CapabilityStatement? statement) => new(statement);

    /// <summary>The server's statement, from the cache while it is fresh.</summary>
    public static async Task<FhirCapabilities> GetAsync(FhirHttp http, Uri baseUrl, TimeProvider time, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(http);
        ArgumentNullException.ThrowIfNull(baseUrl);
        ArgumentNullException.ThrowIfNull(time);
        var now = time.GetUtcNow();
        var key = baseUrl.AbsoluteUri;
        if (Cache.TryGetValue(key, out var entry) && entry.Until > now)
        {
            try
            {
                return await entry.Statement.Value.WaitAsync(cancellationToken);
            }
            catch (Exception ex) when (ex is EmrUnavailableException or EmrBadAnswerException)
            {
                // A failed read is not kept: the next request asks again.
                Cache.TryRemove(KeyValuePair.Create(key, entry));
                throw;
            }
        }

        var fresh = (now + Lifetime, new Lazy<Task<FhirCapabilities>>(async () => Of(await http.CapabilityStatementAsync(CancellationToken.None))));
        Cache[key] = fresh;
        return await fresh.Item2.Value.WaitAsync(cancellationToken);
    }

    /// <summary>Whether the server declares <paramref name="interaction"/> (read, search-type, create, update, patch, delete) on <paramref name="type"/>.</summary>
    public bool Declares(string type, string interaction) =>
        permissive || (resources.TryGetValue(type, out var r) && r.Interaction.Any(i => string.Equals(i.CodeElement?.JsonValue as string, interaction, StringComparison.Ordinal)));

    /// <summary>Whether a PUT to a new id creates <paramref name="type"/>: <c>update</c> declared and <c>updateCreate</c> not denied.</summary>
    public bool CreatesById(string type) =>
        permissive || (Declares(type, "update") && resources[type].UpdateCreate != false);

    /// <summary>Whether <paramref name="type"/> can be searched by <paramref name="parameter"/>.</summary>
    public bool Searches(string type, string parameter) =>
        permissive || globalSearch.Contains(parameter) || (resources.TryGetValue(type, out var r) && r.SearchParam.Any(p => p.Name == parameter));

    /// <summary>Whether the server sorts searches of <paramref name="type"/> as asked (<c>_sort</c> declared).</summary>
    public bool Sorts(string type) => Searches(type, "_sort");

    /// <summary>Whether the server honours <c>If-None-Exist</c> on creates of <paramref name="type"/>.</summary>
    public bool ConditionalCreate(string type) =>
        permissive || (resources.TryGetValue(type, out var r) && r.ConditionalCreate == true);

    /// <summary>Whether the operation <c>$name</c> is declared on <paramref name="type"/> or the whole server.</summary>
    public bool Operation(string type, string name) =>
        permissive || globalOperations.Contains(name) || (resources.TryGetValue(type, out var r) && r.Operation.Any(o => o.Name == name));

    /// <summary>Whether the server served a statement at all (without one, everything counts as declared).</summary>
    public bool Known => !permissive;
}
