using System.Collections.Concurrent;
using System.Data;
using System.Data.Common;
using System.Globalization;
using System.Runtime.CompilerServices;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;

namespace Vardbro.Storage;

/// <summary>
/// The few statements nearly every request runs, as commands kept per connection and reused.
/// On SQLite they are prepared once per connection: Microsoft.Data.Sqlite prepares a statement anew
/// for every command EF Core creates, and preparing costs far more than running these lookups
/// (measured: a patient with contacts ~200 µs to prepare, ~12 µs to run). On PostgreSQL Npgsql
/// prepares them on each physical connection itself (<c>Max Auto Prepare</c>); what is saved there is
/// EF Core's per-query work (cache-key hashing, parameter extraction, delegates made for every
/// execution), which cost more server CPU than the statements' round trips. Only for a context whose
/// <see cref="StoreDb.CanPrepare"/> is true, and on PostgreSQL inside <see cref="OpenAsync"/>;
/// callers choose their path once (see ADR 5), and asking here for anything else is a bug that throws.
/// </summary>
public static class PreparedStatements
{
    private static readonly ConditionalWeakTable<DbConnection, Dictionary<string, DbCommand>> Prepared = [];

    /// <summary>
    /// The reusable command for <paramref name="sql"/> (parameters <c>@p0</c>, <c>@p1</c>, … set from
    /// <paramref name="values"/>), joined to the context's transaction.
    /// </summary>
    /// <exception cref="InvalidOperationException">The context is not SQLite on an open connection.</exception>
    public static DbCommand For(StoreDb db, string sql, params object?[] values)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentNullException.ThrowIfNull(values);
        var connection = db.Database.GetDbConnection();
        if (!db.CanPrepare || connection.State != ConnectionState.Open)
        {
            throw new InvalidOperationException($"Prepared statements serve SQLite contexts on an open connection and PostgreSQL contexts inside PreparedStatements.OpenAsync; this one is {db.Provider}, connection {connection.State}.");
        }

        var commands = Prepared.GetOrCreateValue(connection);
        if (!commands.TryGetValue(sql, out var command))
        {
            command = connection.CreateCommand();
            command.CommandText = sql;
            for (var i = 0; i < values.Length; i++)
            {
                var parameter = command.CreateParameter();
                parameter.ParameterName = "@p" + i.ToString(CultureInfo.InvariantCulture);
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

    /// <summary>
    /// Opens the context's connection for <see cref="For"/> until the result is disposed: on
    /// PostgreSQL through EF Core, which counts opens, so a connection already open (a transaction)
    /// stays open and a pooled one goes back to Npgsql's pool afterwards; on SQLite, whose server
    /// connections stay open, nothing.
    /// </summary>
    public static async ValueTask<OpenConnection> OpenAsync(StoreDb db, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        if (!db.IsPostgres)
        {
            return default;
        }

        await db.Database.OpenConnectionAsync(cancellationToken);
        return new OpenConnection(db);
    }

    /// <summary>What <see cref="OpenAsync"/> opened; disposing it closes it again.</summary>
    public readonly struct OpenConnection(StoreDb? db) : IAsyncDisposable
    {
        public ValueTask DisposeAsync() => db is null ? ValueTask.CompletedTask : new(db.Database.CloseConnectionAsync());
    }

    /// <summary>A cell of a row a prepared statement returned, read as <typeparamref name="T"/> with the model's conversion of that property.</summary>
    public static T ReadCell<T>(DbDataReader reader, int index, DbContext db, Type entity, string property) =>
        ReadCell<T>(reader, index, ConverterOf(db, entity, property));

    /// <summary>A cell read with a conversion looked up once for many rows (<see cref="ConverterOf"/>).</summary>
    public static T ReadCell<T>(DbDataReader reader, int index, ValueConverter? converter)
    {
        ArgumentNullException.ThrowIfNull(reader);

        // Without a conversion the provider reads the type itself (Npgsql gives timestamptz as a UTC DateTime unless asked for DateTimeOffset).
        return converter is null ? reader.GetFieldValue<T>(index) : (T)converter.ConvertFromProvider(reader.GetValue(index))!;
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

    /// <summary>The table and column names the model maps <typeparamref name="T"/> and its properties to.</summary>
    public static (string Table, string Column) ColumnOf<T>(DbContext db, string property)
    {
        ArgumentNullException.ThrowIfNull(db);
        var entity = db.Model.FindEntityType(typeof(T)) ?? throw new InvalidOperationException($"{typeof(T).Name} is not in the model.");
        var table = entity.GetTableName() ?? throw new InvalidOperationException($"{typeof(T).Name} has no table.");
        var column = entity.FindProperty(property)?.GetColumnName(Microsoft.EntityFrameworkCore.Metadata.StoreObjectIdentifier.Table(table, entity.GetSchema()))
            ?? throw new InvalidOperationException($"{typeof(T).Name}.{property} has no column.");
        return (table, column);
    }

    // Read runs for every instant of every row a prepared read returns; the model's lookup is kept per model.
    private static readonly ConditionalWeakTable<Microsoft.EntityFrameworkCore.Metadata.IModel, ConcurrentDictionary<(Type, string), ValueConverter?>> Converters = [];

    /// <summary>The model's conversion of a property to and from its column; null where the provider reads and writes the type itself.</summary>
    public static ValueConverter? ConverterOf(DbContext db, Type entity, string property)
    {
        ArgumentNullException.ThrowIfNull(db);
        var model = db.Model;
        return Converters.GetValue(model, static _ => new()).GetOrAdd((entity, property), static (key, m) =>
            m.FindEntityType(key.Item1)?.FindProperty(key.Item2)?.GetTypeMapping().Converter, model);
    }
}
