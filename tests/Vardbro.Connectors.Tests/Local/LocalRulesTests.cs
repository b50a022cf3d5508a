using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Vardbro.Connectors.Local;
using Vardbro.Connectors.Tests.Contract;
using Vardbro.Storage;

namespace Vardbro.Connectors.Tests.Local;

/// <summary>
/// The built-in EHR's rules that exist in two renderings (LINQ and SQL) and the prepared reads' column
/// lists: both renderings agree row by row, and every listed column is the one the model maps.
/// </summary>
public sealed class LocalRulesTests : IAsyncLifetime, IDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 3, 2, 9, 0, 0, TimeSpan.Zero);
    private readonly SqliteConnection connection = new("Data Source=:memory:");
    private LocalConnectorContractTests.SqliteEhrDb db = null!;

    public async Task InitializeAsync()
    {
        await connection.OpenAsync();
        db = new LocalConnectorContractTests.SqliteEhrDb(new DbContextOptionsBuilder<LocalConnectorContractTests.SqliteEhrDb>().UseSqlite(connection).Options);
        await db.Database.EnsureCreatedAsync();
    }

    public Task DisposeAsync() => Task.CompletedTask;

    public void Dispose()
    {
        db?.Dispose();
        connection.Dispose();
    }

    [Fact]
    public async Task The_slot_rule_in_linq_and_in_sql_holds_the_same_appointments()
    {
        var cases = new (string Id, string Status, DateTimeOffset? Expires, DateTimeOffset End, bool Holds)[]
        {
            ("booked-future", AppointmentStatuses.Booked, null, Now.AddHours(2), true),
            ("booked-past", AppointmentStatuses.Booked, null, Now.AddHours(-2), true),
            ("awaiting-valid", AppointmentStatuses.AwaitingConfirmation, Now.AddMinutes(5), Now.AddHours(2), true),
            ("awaiting-expired", AppointmentStatuses.AwaitingConfirmation, Now.AddMinutes(-5), Now.AddHours(2), false),
            ("awaiting-expiring-now", AppointmentStatuses.AwaitingConfirmation, Now, Now.AddHours(2), false),
            ("cancelled", AppointmentStatuses.Cancelled, null, Now.AddHours(2), false),
        };
        foreach (var c in cases)
        {
            db.Add(new AppointmentRow
            {
                Emr = "e", Id = c.Id, CareUnitId = "u", ResourceId = "r", PatientEmrId = "p", Status = c.Status,
                StartUtc = c.End.AddMinutes(-30), EndUtc = c.End, ConfirmationExpiresAt = c.Expires, CreatedAt = Now, UpdatedAt = Now,
            });
        }

        await db.SaveChangesAsync();
        var expected = cases.Where(c => c.Holds).Select(c => c.Id).Order(StringComparer.Ordinal).ToList();

        var byLinq = await db.Set<AppointmentRow>().Where(AppointmentRules.HoldsSlot(Now)).Select(a => a.Id).ToListAsync();
        Assert.Equal(expected, byLinq.Order(StringComparer.Ordinal));

        var bySql = new List<string>();
        await using (var reader = await PreparedStatements.For(db, $"""SELECT "Id" FROM "local_appointments" WHERE {AppointmentRules.HoldsSlotSql("@p0")}""",
            PreparedStatements.Store(db, typeof(AppointmentRow), nameof(AppointmentRow.ConfirmationExpiresAt), Now)).ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                bySql.Add(reader.GetString(0));
            }
        }

        Assert.Equal(expected, bySql.Order(StringComparer.Ordinal));

        // The shown status agrees with the rule: what holds its slot is booked, completed or awaiting.
        foreach (var row in await db.Set<AppointmentRow>().AsNoTracking().ToListAsync())
        {
            var status = AppointmentRules.StatusAt(row, Now);
            Assert.Equal(expected.Contains(row.Id), status is AppointmentStatuses.Booked or AppointmentStatuses.Completed or AppointmentStatuses.AwaitingConfirmation);
            var listed = await AppointmentRules.WithStatus(db.Set<AppointmentRow>().AsNoTracking(), status, Now).Select(a => a.Id).ToListAsync();
            Assert.Contains(row.Id, listed);
        }
    }

    [Fact]
    public void Every_column_a_prepared_read_selects_is_the_one_the_model_maps()
    {
        AssertMapped(PreparedLocalReads.PatientColumns.Properties, "local_patients", p => PreparedStatements.ColumnOf<PatientRow>(db, p));
        AssertMapped(PreparedLocalReads.ContactColumns.Properties, "local_patient_contacts", p => PreparedStatements.ColumnOf<PatientContactRow>(db, p));
        AssertMapped(PreparedLocalReads.ScheduleColumns.Properties, "local_schedules", p => PreparedStatements.ColumnOf<ScheduleRow>(db, p));

        // The patient list covers every scalar the record is made from (all but the owner and the navigation).
        var scalars = db.Model.FindEntityType(typeof(PatientRow))!.GetProperties().Select(p => p.Name).Where(p => p != nameof(PatientRow.Emr));
        Assert.Equal(scalars.Order(StringComparer.Ordinal), PreparedLocalReads.PatientColumns.Properties.Order(StringComparer.Ordinal));
    }

    private static void AssertMapped(IReadOnlyList<string> properties, string table, Func<string, (string Table, string Column)> map)
    {
        foreach (var property in properties)
        {
            Assert.Equal((table, property), map(property));
        }
    }

    [Fact]
    public async Task Prepared_statements_refuse_a_context_that_cannot_serve_them()
    {
        await using var closed = new LocalConnectorContractTests.SqliteEhrDb(new DbContextOptionsBuilder<LocalConnectorContractTests.SqliteEhrDb>().UseSqlite("Data Source=:memory:").Options);
        Assert.False(closed.CanPrepare);
        var error = Assert.Throws<InvalidOperationException>(() => PreparedStatements.For(closed, "SELECT 1"));
        Assert.Contains("Sqlite, connection Closed", error.Message, StringComparison.Ordinal);
        Assert.True(db.CanPrepare);
        Assert.Equal("prepared", new LocalConnector(db, "e", TimeProvider.System).ReadPath);
        Assert.Equal("ef", new LocalConnector(closed, "e", TimeProvider.System).ReadPath);
    }
}
