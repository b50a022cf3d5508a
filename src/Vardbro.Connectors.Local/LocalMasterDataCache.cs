using System.Collections.Concurrent;

namespace Vardbro.Connectors.Local;

/// <summary>
/// Care units, healthcare services and resources of the built-in EHR, which nearly every request
/// reads and only the admin API changes, kept for a short time. A change made through this process
/// empties the cache once it is committed, so this process never serves older master data than it
/// wrote; another server instance on the same database sees it within <see cref="Lifetime"/>.
/// Schedules, appointments and patients are never cached here.
/// </summary>
public sealed class LocalMasterDataCache(TimeProvider time)
{
    /// <summary>How long another instance's change may go unseen.</summary>
    public static readonly TimeSpan Lifetime = TimeSpan.FromSeconds(2);

    // Lookups of ids that do not exist are kept too (as null); this bounds what odd requests can add.
    private const int MaxEntries = 10_000;

    private readonly ConcurrentDictionary<(string Emr, string Kind, string Key), Entry> entries = new();
    private long generation;

    public async Task<T> GetAsync<T>(string emr, string kind, string key, Func<Task<T>> load)
    {
        ArgumentNullException.ThrowIfNull(load);
        var now = time.GetTimestamp();

        // Read before loading: a load that overlaps a change is stored under the older generation and never served.
        var current = Volatile.Read(ref generation);
        if (entries.TryGetValue((emr, kind, key), out var entry) && entry.Generation == current && time.GetElapsedTime(entry.LoadedAt, now) < Lifetime)
        {
            return (T)entry.Value!;
        }

        var value = await load();
        if (entries.Count >= MaxEntries)
        {
            entries.Clear();
        }

        entries[(emr, kind, key)] = new Entry(value, now, current);
        return value;
    }

    /// <summary>Forgets everything; called after master data changed (and the change is committed).</summary>
    public void Invalidate()
    {
        Interlocked.Increment(ref generation);
        entries.Clear();
    }

    private sealed record Entry(object? Value, long LoadedAt, long Generation);
}
