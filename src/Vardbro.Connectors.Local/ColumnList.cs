using System.Data.Common;
using Vardbro.Storage;

namespace Vardbro.Connectors.Local;

/// <summary>One cell of a row a prepared statement returned, read as the model stores that column.</summary>
internal readonly struct Cell(DbDataReader reader, int index, StoreDb db, Type entity, string column)
{
    public string String() => reader.GetString(index);

    public string? Text() => reader.IsDBNull(index) ? null : reader.GetString(index);

    public long Int64() => reader.GetInt64(index);

    public int Int32() => reader.GetInt32(index);

    public DateOnly? Date() => reader.IsDBNull(index) ? null : reader.GetFieldValue<DateOnly>(index);

    public DateTimeOffset Instant() => PreparedStatements.ReadCell<DateTimeOffset>(reader, index, db, entity, column);

    public DateTimeOffset? InstantOrNull() => reader.IsDBNull(index) ? null : Instant();
}

/// <summary>
/// The columns a prepared read selects and how each is read back, kept together: the SELECT list is
/// made from the same entries the reader walks, so a column and its reader cannot drift apart, and a
/// test checks every name against the EF Core model's mapping of <typeparamref name="T"/>.
/// </summary>
internal sealed class ColumnList<T>(params (string Property, Action<T, Cell> Set)[] columns)
{
    public IReadOnlyList<string> Properties { get; } = columns.Select(c => c.Property).ToList();

    /// <summary>The quoted column list, in reading order.</summary>
    public string Sql { get; } = string.Join(", ", columns.Select(c => $"\"{c.Property}\""));

    public int Count => columns.Length;

    /// <summary>Where <paramref name="property"/> stands in the SELECT list.</summary>
    public int Ordinal(string property) =>
        Array.FindIndex(columns, c => c.Property == property) is >= 0 and var i ? i : throw new ArgumentException($"{property} is not selected.", nameof(property));

    /// <summary>The row's columns from the reader's current row, starting at column <paramref name="first"/>.</summary>
    public T Read(DbDataReader reader, StoreDb db, T row, int first = 0)
    {
        for (var i = 0; i < columns.Length; i++)
        {
            columns[i].Set(row, new Cell(reader, first + i, db, typeof(T), columns[i].Property));
        }

        return row;
    }
}
