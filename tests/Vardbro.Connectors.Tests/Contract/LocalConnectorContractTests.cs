using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;
using Npgsql;
using Vardbro.Connectors.Local;
using Vardbro.Storage;

namespace Vardbro.Connectors.Tests.Contract;

/// <summary>
/// The built-in EHR on a fresh database per test, seeded with the contract's master data. It runs in
/// three configurations, one per read path and provider: EF Core on SQLite (the reference), the
/// prepared statements on SQLite (connection kept open, as the server keeps it), and the prepared
/// statements on PostgreSQL (the server's path there).
/// </summary>
public abstract class LocalConnectorContractTests : ConnectorContractTests
{
    private const string Emr = "local";

    /// <summary>"ef" or "prepared": the read path this configuration must exercise.</summary>
    protected abstract string ExpectedReadPath { get; }

    protected string Directory { get; } = Path.Combine(Path.GetTempPath(), "vardbro-contract-" + Guid.NewGuid().ToString("N"));

    /// <summary>A context on the test's database; the connector picks its read path from it.</summary>
    protected abstract StoreDb NewDb();

    protected abstract Task CreateSchemaAsync(StoreDb db);

    protected override async Task ResetAsync()
    {
        System.IO.Directory.CreateDirectory(Directory);
        await using var db = NewDb();
        await CreateSchemaAsync(db);
        var connector = Connector(db);
        await connector.CreateCareUnitAsync(new NewCareUnit(Unit, "Vårdcentralen Tolvan", "Europe/Stockholm", "Tolvansgatan 1, 123 45 Tolvstad", false), default);
        await connector.CreateHealthcareServiceAsync(Unit, new NewHealthcareService(General, "General Consultation", null, 30), default);
        await connector.CreateHealthcareServiceAsync(Unit, new NewHealthcareService("tolvan-follow-up", "Follow-up Visit", null, 15), default);
        var today = DateOnly.FromDateTime(TimeProvider.System.GetUtcNow().UtcDateTime);
        var hours = new WeeklyRecurrence([DayOfWeek.Monday, DayOfWeek.Tuesday, DayOfWeek.Wednesday, DayOfWeek.Thursday, DayOfWeek.Friday], new TimeOnly(8, 0), new TimeOnly(16, 0), today, null);
        foreach (var (id, name, hsa) in new[] { (Anna, "Anna Lindqvist", AnnaHsaId), ("erik-sandberg", "Erik Sandberg", "SE2321000131-E000000000102") })
        {
            await connector.CreateResourceAsync(Unit, new NewResource(id, name, null, ResourceKinds.Practitioner, hsa, null), default);
            await connector.CreateScheduleAsync(Unit, id, new NewSchedule(null, null, hours, []), default);
        }

        foreach (var (first, last, number) in new[] { ("Tolvan", "Tolvansson", "191212121212"), ("Lars", "Ström", "197110021834"), ("Karin", "Åkesson", "194010126672"), ("Sven", "Nyström", "195003042222") })
        {
            await connector.CreateOrReturnPatientAsync(Unit, new NewPatient(first, last, new TypedId(IdType.SePersonalNumber, number), null, null, [], [], null), default);
        }
    }

    protected override Task<ConnectorUnderTest> OpenAsync()
    {
        var db = NewDb();
        var connector = Connector(db);
        Assert.Equal(ExpectedReadPath, connector.ReadPath);
        return Task.FromResult(new ConnectorUnderTest(connector, db));
    }

    protected LocalConnector Connector(StoreDb db) =>
        new(db, Emr, TimeProvider.System, new FileBlobStore(Path.Combine(Directory, "blobs")));

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        SqliteConnection.ClearAllPools();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>The built-in EHR's tables alone, as the server's SQLite context maps them.</summary>
    internal sealed class SqliteEhrDb(DbContextOptions<SqliteEhrDb> options) : StoreDb(options)
    {
        public override StorageProvider Provider => StorageProvider.Sqlite;

        protected override void OnModelCreating(ModelBuilder modelBuilder) => LocalEhrModel.Configure(modelBuilder, null);

        protected override void ConfigureConventions(ModelConfigurationBuilder configurationBuilder) =>
            configurationBuilder.Properties<DateTimeOffset>().HaveConversion<DateTimeOffsetToBinaryConverter>();
    }

    /// <summary>The built-in EHR's tables alone, as the server's PostgreSQL context maps them.</summary>
    internal sealed class PostgresEhrDb(DbContextOptions<PostgresEhrDb> options) : StoreDb(options)
    {
        public override StorageProvider Provider => StorageProvider.Postgres;

        protected override void OnModelCreating(ModelBuilder modelBuilder) => LocalEhrModel.Configure(modelBuilder, "C", ChangeFeedOrder.PostgresTransactionId);
    }
}

/// <summary>EF Core on SQLite: the connection is opened and closed per command, so the reference LINQ path runs.</summary>
public sealed class LocalEfSqliteContractTests : LocalConnectorContractTests
{
    protected override string ExpectedReadPath => "ef";

    private string ConnectionString => new SqliteConnectionStringBuilder { DataSource = Path.Combine(Directory, "ehr.db"), Pooling = false }.ToString();

    protected override StoreDb NewDb() => new SqliteEhrDb(new DbContextOptionsBuilder<SqliteEhrDb>().UseSqlite(ConnectionString).Options);

    protected override Task CreateSchemaAsync(StoreDb db) => db.Database.EnsureCreatedAsync();
}

/// <summary>The prepared statements on SQLite: each context on a connection it keeps open, as the server's are.</summary>
public sealed class LocalPreparedSqliteContractTests : LocalConnectorContractTests
{
    protected override string ExpectedReadPath => "prepared";

    protected override StoreDb NewDb()
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = Path.Combine(Directory, "ehr.db"), Pooling = false }.ToString());
        connection.Open();
        SQLitePCL.raw.sqlite3_busy_timeout(connection.Handle, 30_000);
        return new SqliteEhrDb(new DbContextOptionsBuilder<SqliteEhrDb>().UseSqlite(connection, contextOwnsConnection: true).Options);
    }

    protected override Task CreateSchemaAsync(StoreDb db) => db.Database.EnsureCreatedAsync();
}

/// <summary>PostgreSQL (VARDBRO_TEST_POSTGRES; test.sh starts one), on a database of its own: the prepared reads' PostgreSQL SQL.</summary>
public sealed class LocalPostgresContractTests : LocalConnectorContractTests
{
    private readonly string database = "vardbro_contract_" + Guid.NewGuid().ToString("N")[..16];

    protected override string ExpectedReadPath => "prepared";

    private static string Admin => Environment.GetEnvironmentVariable("VARDBRO_TEST_POSTGRES")
        ?? throw new InvalidOperationException("The PostgreSQL contract tests need VARDBRO_TEST_POSTGRES (test.sh starts a server through .ci/postgres.sh).");

    protected override StoreDb NewDb() => new PostgresEhrDb(new DbContextOptionsBuilder<PostgresEhrDb>()
        .UseNpgsql(new NpgsqlConnectionStringBuilder(Admin) { Database = database, MaxPoolSize = 40 }.ToString()).Options);

    protected override async Task CreateSchemaAsync(StoreDb db)
    {
        await using (var admin = new NpgsqlConnection(Admin))
        {
            await admin.OpenAsync();
            await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS {database} WITH (FORCE)", admin);
            await drop.ExecuteNonQueryAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE {database}", admin);
            await create.ExecuteNonQueryAsync();
        }

        await db.Database.EnsureCreatedAsync();
    }

    /// <summary>
    /// Writers commit in any order on PostgreSQL: an event whose transaction is still open, with the
    /// lower key, must hold back the feed (and the webhook fan-out, which reads it the same way) until
    /// it commits, or a reader moving on with <c>after</c> would pass it for ever.
    /// </summary>
    [Fact]
    public async Task The_feed_waits_for_an_event_whose_transaction_is_open_and_never_passes_it()
    {
        await using var db = NewDb();
        var connector = Connector(db);
        IReadOnlyList<ChangeEvent> registered = [];
        for (var attempt = 0; attempt < 100 && registered.Count < 4; attempt++)
        {
            await Task.Delay(attempt == 0 ? 0 : 100);
            registered = (await connector.ListEventsAsync(Unit, new ChangeEventQuery(null, null), 1000, null, default)).Items;
        }

        // The four patients the reset registered; what follows them is what this test writes.
        var seen = registered[^1].Id;

        await using var open = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(Admin) { Database = database }.ToString());
        await open.OpenAsync();
        await using var transaction = await open.BeginTransactionAsync();
        await using (var insert = new NpgsqlCommand(
            """INSERT INTO local_events ("Emr", "CareUnitId", "Type", "SubjectType", "SubjectId", "OccurredAt", "RecordedAt") VALUES ('local', @unit, 'patient.updated', 'patient', 'pat_in_flight', now(), now())""",
            open,
            transaction))
        {
            insert.Parameters.AddWithValue("unit", Unit);
            await insert.ExecuteNonQueryAsync();
        }

        // A later write, with the higher key, commits first.
        await connector.CreateOrReturnPatientAsync(Unit, new NewPatient("Ebba", "Early", new TypedId(IdType.SePersonalNumber, "198507091232"), null, null, [], [], null), default);
        Assert.Empty((await connector.ListEventsAsync(Unit, new ChangeEventQuery(seen, null), 100, null, default)).Items);

        await transaction.CommitAsync();

        // Both now, the earlier key first; a transaction that another test holds open may delay them a moment.
        IReadOnlyList<ChangeEvent> events = [];
        for (var attempt = 0; attempt < 100 && events.Count < 2; attempt++)
        {
            await Task.Delay(attempt == 0 ? 0 : 100);
            events = (await connector.ListEventsAsync(Unit, new ChangeEventQuery(seen, null), 100, null, default)).Items;
        }

        Assert.Equal(["patient.updated", "patient.created"], events.Select(e => e.Type));
        Assert.Equal("pat_in_flight", events[0].SubjectId);
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        NpgsqlConnection.ClearAllPools();
        await using var admin = new NpgsqlConnection(Admin);
        await admin.OpenAsync();
        await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS {database} WITH (FORCE)", admin);
        await drop.ExecuteNonQueryAsync();
    }
}
