using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;
using Vardbro.Connectors.Local;
using Vardbro.Storage;

namespace Vardbro.Connectors.Tests.Contract;

/// <summary>The built-in EHR on a fresh SQLite file per test, seeded with the contract's master data.</summary>
public sealed class LocalConnectorContractTests : ConnectorContractTests, IDisposable
{
    private const string Emr = "local";
    private readonly string directory = Path.Combine(Path.GetTempPath(), "vardbro-contract-" + Guid.NewGuid().ToString("N"));

    private string ConnectionString => new SqliteConnectionStringBuilder { DataSource = Path.Combine(directory, "ehr.db"), Pooling = false }.ToString();

    protected override async Task ResetAsync()
    {
        Directory.CreateDirectory(directory);
        await using var db = NewDb();
        await db.Database.EnsureCreatedAsync();
        var connector = new LocalConnector(db, Emr, TimeProvider.System, new FileBlobStore(Path.Combine(directory, "blobs")));
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
        return Task.FromResult(new ConnectorUnderTest(new LocalConnector(db, Emr, TimeProvider.System, new FileBlobStore(Path.Combine(directory, "blobs"))), db));
    }

    private LocalEhrDb NewDb() => new(new DbContextOptionsBuilder<LocalEhrDb>().UseSqlite(ConnectionString).Options);

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>The built-in EHR's tables alone, as the server's SQLite context maps them.</summary>
    private sealed class LocalEhrDb(DbContextOptions<LocalEhrDb> options) : StoreDb(options)
    {
        public override StorageProvider Provider => StorageProvider.Sqlite;

        protected override void OnModelCreating(ModelBuilder modelBuilder) => LocalEhrModel.Configure(modelBuilder, null);

        protected override void ConfigureConventions(ModelConfigurationBuilder configurationBuilder) =>
            configurationBuilder.Properties<DateTimeOffset>().HaveConversion<DateTimeOffsetToBinaryConverter>();
    }
}
