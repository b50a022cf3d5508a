using System.Collections.Concurrent;
using System.Data;
using System.Data.Common;
using System.Runtime.CompilerServices;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;

namespace Vardbro.Connectors.Local;

/// <summary>
/// The few statements nearly every request runs, prepared once per SQLite connection and reused.
/// Microsoft.Data.Sqlite prepares a statement anew for every command EF Core creates, and preparing
/// costs far more than running these lookups (measured: a patient with contacts ~200 µs to prepare,
/// ~12 µs to run). Only for an open SQLite connection (the server keeps them open); elsewhere, e.g. on
/// PostgreSQL, <see cref="For"/> answers null and the caller runs its EF Core query, which stays the
/// reference behaviour and is what the test suite runs on PostgreSQL.
/// </summary>
public static class SqliteStatements
{
    private static readonly ConditionalWeakTable<DbConnection, Dictionary<string, DbCommand>> Prepared = [];

    /// <summary>
    /// The reusable command for <paramref name="sql"/> (parameters <c>@p0</c>, <c>@p1</c>, … set from
    /// <paramref name="values"/>), joined to the context's transaction; null where it does not apply.
    /// </summary>
    public static DbCommand? For(DbContext db, string sql, params object?[] values)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentNullException.ThrowIfNull(values);
        if (!Apply(db))
        {
            return null;
        }

        var connection = db.Database.GetDbConnection();
        var commands = Prepared.GetOrCreateValue(connection);
        if (!commands.TryGetValue(sql, out var command))
        {
            command = connection.CreateCommand();
            command.CommandText = sql;
            for (var i = 0; i < values.Length; i++)
            {
                var parameter = command.CreateParameter();
                parameter.ParameterName = "@p" + i.ToString(System.Globalization.CultureInfo.InvariantCulture);
                command.Parameters.Add(parameter);
            }

            commands[sql] = command;
        }

        for (var i = 0; i < values.Length; i++)
        {
            command.Parameters[i].Value = values[i] ?? DBNull.Value;
        }

        command.Transaction = db.Database.CurrentTransaction?.GetDbTransaction();
        return command;
    }

    /// <summary>Whether <see cref="For"/> gives commands for this context: SQLite, connection open.</summary>
    public static bool Apply(DbContext db) =>
        ProviderOf(db).EndsWith(".Sqlite", StringComparison.Ordinal)
        && db.Database.GetDbConnection().State == ConnectionState.Open;

    // EF Core works the provider's name out from its assembly's name on every call, which allocates
    // and showed up in every request's profile; the model belongs to one provider, so it is kept per model.
    private static readonly ConditionalWeakTable<Microsoft.EntityFrameworkCore.Metadata.IModel, string> Providers = [];

    /// <summary>The name of the context's database provider ("" when it has none).</summary>
    internal static string ProviderOf(DbContext? db)
    {
        if (db is null)
        {
            return "";
        }

        var model = db.Model;
        if (!Providers.TryGetValue(model, out var name))
        {
            name = db.Database.ProviderName ?? "";
            Providers.AddOrUpdate(model, name);
        }

        return name;
    }

    /// <summary>A stored value read back as <typeparamref name="T"/> with the model's conversion of that property.</summary>
    public static T Read<T>(DbContext db, Type entity, string property, object stored)
    {
        var converter = ConverterOf(db, entity, property);
        return (T)(converter is null ? stored : converter.ConvertFromProvider(stored)!);
    }

    /// <summary>A value as the model stores it in that property's column.</summary>
    public static object? Store(DbContext db, Type entity, string property, object? value)
    {
        var converter = ConverterOf(db, entity, property);
        return converter is null || value is null ? value : converter.ConvertToProvider(value);
    }

    // Read runs for every instant of every row a prepared read returns; the model's lookup is kept per model.
    private static readonly ConditionalWeakTable<Microsoft.EntityFrameworkCore.Metadata.IModel, ConcurrentDictionary<(Type, string), ValueConverter?>> Converters = [];

    private static ValueConverter? ConverterOf(DbContext db, Type entity, string property)
    {
        ArgumentNullException.ThrowIfNull(db);
        var model = db.Model;
        return Converters.GetValue(model, static _ => new()).GetOrAdd((entity, property), static (key, m) =>
            m.FindEntityType(key.Item1)?.FindProperty(key.Item2)?.GetTypeMapping().Converter, model);
    }
}
