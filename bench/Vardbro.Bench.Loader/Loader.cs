using System.Diagnostics;
using System.Globalization;
using System.Text;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;
using Npgsql;
using NpgsqlTypes;
using Vardbro.Connectors;
using Vardbro.Connectors.Local;
using Vardbro.Server.Api;
using Vardbro.Server.Storage;

namespace Vardbro.Bench.Loader;

internal static class Fixture
{
    public const string Emr = "bench";
    public const string CareUnit = "C1";
    public const string TimeZoneId = "Europe/Stockholm";
    public const string ServiceLong = "C1-general";
    public const string ServiceShort = "C1-follow-up";
    public const string ClientId = "bench-client";
    public const string ClientSecret = "bench-secret";
    public const int Resources = 50;

    /// <summary>Birth years of the loaded patients; bench/wrk/post_patient.lua creates patients born outside them.</summary>
    public const int FirstBirthYear = 1925;
    public const int LastBirthYear = 2004;

    public static string ResourceId(int i) => $"R{i:D2}";

    public static string HsaId(int i) => $"SE2321000131-E{i:D12}";
}

internal static class Loader
{
    private const int SampleSize = 100_000;

    public static async Task RunAsync(Options options)
    {
        var patients = options.Int("patients", 100_000);
        var seed = options.Int("seed", 42);
        var appointmentCount = options.Int("appointments", 3000);
        var outDir = Path.GetFullPath(options.Require("out"));
        Directory.CreateDirectory(outDir);
        var method = options.Get("method", options.IsPostgres ? "copy" : "raw");
        var random = new Random(seed);
        var zone = TimeZoneInfo.FindSystemTimeZoneById(Fixture.TimeZoneId);
        var now = Millis(TimeProvider.System.GetUtcNow());
        var today = DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(now, zone).DateTime);
        var total = Stopwatch.StartNew();

        // Schema: the server's own migrations.
        await using (var db = Database.Open(options))
        {
            if (!db.IsPostgres)
            {
                await db.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;");
            }

            await db.Database.MigrateAsync();
            if (await db.Set<PatientRow>().AnyAsync())
            {
                throw new InvalidOperationException("The database holds patients already; the loader wants an empty one.");
            }

            await LoadMasterDataAsync(db, now, today);
        }

        var migrated = total.Elapsed;

        // Patients: the part whose rate is reported.
        var generator = new PatientGenerator(random, now, patients);
        var patientClock = Stopwatch.StartNew();
        switch (method)
        {
            case "ef":
                await WriteWithEfAsync(options, generator, patients);
                break;
            case "raw" when !options.IsPostgres:
                await SqliteRawWriter.WriteAsync(Database.SqliteFile(options), generator, patients);
                break;
            case "copy" when options.IsPostgres:
                await PostgresCopyWriter.WriteAsync(options.Require("connection"), generator, patients);
                break;
            case "none":
                // Generation only: how much of the load time is the data itself.
                for (var i = 0; i < patients; i++)
                {
                    generator.Next(i + 1);
                }

                break;
            default:
                throw new ArgumentException($"--method {method} does not apply to this provider (sqlite: ef|raw, postgres: ef|copy).");
        }

        patientClock.Stop();
        var rate = patients / patientClock.Elapsed.TotalSeconds;

        // Existing appointments, and the free slots the booking benchmark competes for.
        var (booked, measured, warmup) = await LoadAppointmentsAsync(options, random, generator.EmrIds, appointmentCount, now, today, zone);

        if (options.IsPostgres)
        {
            await using var db = Database.Open(options);
            await db.Database.ExecuteSqlRawAsync("ANALYZE;");
        }
        else
        {
            await using var db = Database.Open(options);
            await db.Database.ExecuteSqlRawAsync("PRAGMA wal_checkpoint(TRUNCATE);");
        }

        total.Stop();
        WriteFiles(outDir, generator, random, measured, warmup);
        var summary = new StringBuilder();
        summary.AppendLine(CultureInfo.InvariantCulture, $"LOAD_METHOD={method}");
        summary.AppendLine(CultureInfo.InvariantCulture, $"LOAD_PATIENTS={patients}");
        summary.AppendLine(CultureInfo.InvariantCulture, $"LOAD_SE={generator.SwedishCount}");
        summary.AppendLine(CultureInfo.InvariantCulture, $"LOAD_NO={generator.NorwegianCount}");
        summary.AppendLine(CultureInfo.InvariantCulture, $"LOAD_CONTACTS={generator.ContactCount}");
        summary.AppendLine(CultureInfo.InvariantCulture, $"LOAD_PATIENT_SECONDS={patientClock.Elapsed.TotalSeconds:F2}");
        summary.AppendLine(CultureInfo.InvariantCulture, $"LOAD_PATIENTS_PER_SECOND={rate:F0}");
        summary.AppendLine(CultureInfo.InvariantCulture, $"LOAD_TOTAL_SECONDS={total.Elapsed.TotalSeconds:F2}");
        summary.AppendLine(CultureInfo.InvariantCulture, $"LOAD_MIGRATE_SECONDS={migrated.TotalSeconds:F2}");
        summary.AppendLine(CultureInfo.InvariantCulture, $"LOAD_APPOINTMENTS={booked}");
        summary.AppendLine(CultureInfo.InvariantCulture, $"LOAD_BOOKABLE_SLOTS={measured.Count}");
        summary.AppendLine(CultureInfo.InvariantCulture, $"LOAD_WARMUP_SLOTS={warmup.Count}");
        await File.WriteAllTextAsync(Path.Combine(outDir, "load.env"), summary.ToString());
        Console.Write(summary.ToString());
    }

    private static DateTimeOffset Millis(DateTimeOffset t) => new(t.UtcTicks - (t.UtcTicks % TimeSpan.TicksPerMillisecond), TimeSpan.Zero);

    private static async Task LoadMasterDataAsync(VardbroDb db, DateTimeOffset now, DateOnly today)
    {
        db.Add(new CareUnitRow { Emr = Fixture.Emr, Id = Fixture.CareUnit, Name = "Vårdcentralen Bänkåsen", TimeZone = Fixture.TimeZoneId, Address = "Storgatan 1, 111 22 Stockholm" });
        db.Add(new HealthcareServiceRow { Emr = Fixture.Emr, Id = Fixture.ServiceLong, CareUnitId = Fixture.CareUnit, Name = "General Consultation", Description = "Läkarbesök", DurationMinutes = 30 });
        db.Add(new HealthcareServiceRow { Emr = Fixture.Emr, Id = Fixture.ServiceShort, CareUnitId = Fixture.CareUnit, Name = "Follow-up Visit", Description = "Återbesök", DurationMinutes = 15 });
        const int weekdays = (1 << 1) | (1 << 2) | (1 << 3) | (1 << 4) | (1 << 5);
        for (var i = 1; i <= Fixture.Resources; i++)
        {
            db.Add(new ResourceRow
            {
                Emr = Fixture.Emr,
                Id = Fixture.ResourceId(i),
                CareUnitId = Fixture.CareUnit,
                Name = $"{Names.Practitioners[(i - 1) % Names.Practitioners.Length]} {i}",
                Title = i % 5 == 0 ? "Sjuksköterska" : "Läkare",
                Kind = "practitioner",
                HsaId = Fixture.HsaId(i),
            });
            db.Add(new ScheduleRow
            {
                Emr = Fixture.Emr,
                Id = $"sch_bench_{i:D2}",
                CareUnitId = Fixture.CareUnit,
                ResourceId = Fixture.ResourceId(i),
                Weekdays = weekdays,
                StartMinute = 8 * 60,
                EndMinute = 16 * 60,
                FromDate = today,
                ServiceIds = "",
            });
        }

        db.Add(new ClientRow
        {
            Id = Fixture.ClientId,
            Name = "Benchmark client",
            SecretHash = new SecretHasher(new Microsoft.Extensions.Configuration.ConfigurationBuilder().Build()).Hash(Fixture.ClientSecret), // the bench server sets no Auth:SecretKey
            SecretStamp = Secrets.NewStamp(),
            GrantsJson = Secrets.SerializeGrants([new Grant(Fixture.Emr, [Grant.AllCareUnits])]),
            CreatedAt = now,
        });
        await db.SaveChangesAsync();
        db.ChangeTracker.Clear();
    }

    private static async Task WriteWithEfAsync(Options options, PatientGenerator generator, int patients)
    {
        const int batch = 5000;
        for (var done = 0; done < patients; done += batch)
        {
            await using var db = Database.Open(options);
            if (!db.IsPostgres)
            {
                await db.Database.OpenConnectionAsync();
                await db.Database.ExecuteSqlRawAsync("PRAGMA synchronous=OFF;");
            }

            db.ChangeTracker.AutoDetectChangesEnabled = false;
            var rows = new List<PatientRow>(batch);
            for (var i = done; i < Math.Min(patients, done + batch); i++)
            {
                var row = generator.Next(0);
                foreach (var c in row.Contacts)
                {
                    c.Key = 0;
                }

                rows.Add(row);
            }

            db.AddRange(rows);
            await db.SaveChangesAsync();
        }
    }

    /// <summary>
    /// A grid of 30-minute cells (weekdays 08:00–16:00, every resource) over the next 90 days. A few
    /// thousand become existing appointments (some in the past, some cancelled); the free ones of the
    /// first 60 days are the measured run's booking targets, the rest the warm-up's.
    /// </summary>
    private static async Task<(int Booked, List<string> Measured, List<string> Warmup)> LoadAppointmentsAsync(
        Options options, Random random, List<string> patientIds, int count, DateTimeOffset now, DateOnly today, TimeZoneInfo zone)
    {
        static bool Weekday(DateOnly d) => d.DayOfWeek is not (DayOfWeek.Saturday or DayOfWeek.Sunday);
        var future = new List<(DateOnly Day, int Minute, int Resource)>();
        for (var d = today.AddDays(1); d < today.AddDays(91); d = d.AddDays(1))
        {
            if (!Weekday(d))
            {
                continue;
            }

            for (var minute = 8 * 60; minute < 16 * 60; minute += 30)
            {
                for (var r = 1; r <= Fixture.Resources; r++)
                {
                    future.Add((d, minute, r));
                }
            }
        }

        var past = new List<(DateOnly Day, int Minute, int Resource)>();
        for (var d = today.AddDays(-45); d < today; d = d.AddDays(1))
        {
            if (Weekday(d))
            {
                for (var minute = 8 * 60; minute < 16 * 60; minute += 30)
                {
                    for (var r = 1; r <= Fixture.Resources; r++)
                    {
                        past.Add((d, minute, r));
                    }
                }
            }
        }

        var taken = new HashSet<(DateOnly, int, int)>();
        var rows = new List<AppointmentRow>(count);
        var firstSixty = future.Count(c => c.Day <= today.AddDays(60));
        for (var i = 0; i < count; i++)
        {
            // A third in the past (completed), the rest in the coming 60 days.
            var inPast = i % 3 == 0;
            (DateOnly Day, int Minute, int Resource) cell;
            do
            {
                cell = inPast ? past[random.Next(past.Count)] : future[random.Next(firstSixty)];
            }
            while (!taken.Add(cell));

            var start = Instant(cell.Day, cell.Minute, zone);
            rows.Add(new AppointmentRow
            {
                Emr = Fixture.Emr,
                Id = "apt_" + Convert.ToHexStringLower(RandomBytes(random, 8)),
                CareUnitId = Fixture.CareUnit,
                ResourceId = Fixture.ResourceId(cell.Resource),
                PatientEmrId = patientIds[random.Next(patientIds.Count)],
                ServiceId = Fixture.ServiceLong,
                StartUtc = start,
                EndUtc = start.AddMinutes(30),
                Status = random.Next(10) == 0 ? "cancelled" : "booked",
                Comment = random.Next(4) == 0 ? "Återkommande besvär, önskar tolk" : null,
                CreatedAt = now,
                UpdatedAt = now,
            });
        }

        await using (var db = Database.Open(options))
        {
            db.ChangeTracker.AutoDetectChangesEnabled = false;
            db.AddRange(rows);
            await db.SaveChangesAsync();
        }

        string Line((DateOnly Day, int Minute, int Resource) c)
        {
            var start = Instant(c.Day, c.Minute, zone);
            return $"{Fixture.ResourceId(c.Resource)} {Local(start, zone)} {Local(start.AddMinutes(30), zone)}";
        }

        // Ordered by day, time, resource: requests in flight together go to different resources.
        var free = future.Where(c => !taken.Contains(c)).ToList();
        var measured = free.Where(c => c.Day <= today.AddDays(60)).Select(Line).ToList();
        var warmup = free.Where(c => c.Day > today.AddDays(60)).Select(Line).ToList();
        return (rows.Count, measured, warmup);
    }

    private static DateTimeOffset Instant(DateOnly day, int minute, TimeZoneInfo zone)
    {
        var local = day.ToDateTime(TimeOnly.FromTimeSpan(TimeSpan.FromMinutes(minute)), DateTimeKind.Unspecified);
        return new DateTimeOffset(TimeZoneInfo.ConvertTimeToUtc(local, zone), TimeSpan.Zero);
    }

    private static string Local(DateTimeOffset instant, TimeZoneInfo zone) =>
        TimeZoneInfo.ConvertTime(instant, zone).ToString("yyyy-MM-dd'T'HH:mm:sszzz", CultureInfo.InvariantCulture);

    internal static byte[] RandomBytes(Random random, int n)
    {
        var bytes = new byte[n];
        random.NextBytes(bytes);
        return bytes;
    }

    private static void WriteFiles(string outDir, PatientGenerator generator, Random random, List<string> measured, List<string> warmup)
    {
        File.WriteAllLines(Path.Combine(outDir, "patients_emr.txt"), Sample(generator.EmrIds, random));
        File.WriteAllLines(Path.Combine(outDir, "patients_se.txt"), Sample(generator.SwedishNumbers, random));
        File.WriteAllLines(Path.Combine(outDir, "slots.txt"), measured);
        File.WriteAllLines(Path.Combine(outDir, "slots_warmup.txt"), warmup);

        // Three-letter prefixes of the surnames, as typed (Öbe, Sjö, Løv), percent-encoded for the query string.
        var prefixes = Names.Last.Select(n => new string(n.Take(3).ToArray())).Distinct(StringComparer.Ordinal).Select(Uri.EscapeDataString);
        File.WriteAllLines(Path.Combine(outDir, "lastname_prefixes.txt"), prefixes);
        File.WriteAllLines(Path.Combine(outDir, "names_first.txt"), Names.Female.Concat(Names.Male));
        File.WriteAllLines(Path.Combine(outDir, "names_last.txt"), Names.Last.Distinct(StringComparer.Ordinal));
    }

    private static List<string> Sample(List<string> all, Random random)
    {
        if (all.Count <= SampleSize)
        {
            return all;
        }

        var copy = all.ToArray();
        random.Shuffle(copy);
        return copy.Take(SampleSize).ToList();
    }
}

/// <summary>Synthetic patients: checksum-valid Swedish (90%) and Norwegian (10%) numbers, Nordic names, phones.</summary>
internal sealed class PatientGenerator
{
    private readonly Random random;
    private readonly DateTimeOffset now;
    private readonly HashSet<string> seen = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> folded = new(StringComparer.Ordinal);
    private readonly double[] lastNameWeights;
    private readonly int firstDay;
    private readonly int dayCount;
    private long contactKey;

    public PatientGenerator(Random random, DateTimeOffset now, int expected)
    {
        this.random = random;
        this.now = now;
        EmrIds = new List<string>(expected);
        SwedishNumbers = new List<string>(expected);

        // Surnames are Zipf-like: Andersson is common, Løvås rare.
        lastNameWeights = new double[Names.Last.Length];
        double sum = 0;
        for (var i = 0; i < Names.Last.Length; i++)
        {
            sum += 1.0 / Math.Pow(i + 1, 0.6);
            lastNameWeights[i] = sum;
        }

        for (var i = 0; i < lastNameWeights.Length; i++)
        {
            lastNameWeights[i] /= sum;
        }

        firstDay = new DateOnly(Fixture.FirstBirthYear, 1, 1).DayNumber;
        dayCount = new DateOnly(Fixture.LastBirthYear, 12, 31).DayNumber - firstDay + 1;
    }

    public List<string> EmrIds { get; }

    public List<string> SwedishNumbers { get; }

    public int SwedishCount { get; private set; }

    public int NorwegianCount { get; private set; }

    public long ContactCount => contactKey;

    /// <param name="key">The row key to give (raw and COPY loads), or 0 to let the database number it.</param>
    public PatientRow Next(long key)
    {
        var birthDate = DateOnly.FromDayNumber(firstDay + random.Next(dayCount));
        var norwegian = random.Next(10) == 0;
        string number;
        do
        {
            number = norwegian ? NorwegianPersonalNumber.Generate(random, birthDate) : SwedishPersonalNumber.Generate(random, birthDate);
        }
        while (!seen.Add(number));

        var gender = norwegian ? NorwegianPersonalNumber.Gender(number) : SwedishPersonalNumber.Gender(number);
        var firstNames = gender == "male" ? Names.Male : Names.Female;
        var first = firstNames[random.Next(firstNames.Length)];
        var last = Names.Last[LastNameIndex()];
        string emrId;
        do
        {
            emrId = "pat_" + Convert.ToHexStringLower(Loader.RandomBytes(random, 8));
        }
        while (!seen.Add(emrId));

        EmrIds.Add(emrId);
        var row = new PatientRow
        {
            Key = key,
            Emr = Fixture.Emr,
            EmrId = emrId,
            CareUnitId = Fixture.CareUnit,
            FirstName = first,
            LastName = last,
            FoldedFirstName = Fold(first),
            FoldedLastName = Fold(last),
            BirthDate = birthDate,
            Gender = gender,
            CreatedAt = now,
            UpdatedAt = now,
        };
        string phone;
        if (norwegian)
        {
            NorwegianCount++;
            row.NoPersonalNumber = number;
            row.ExternalId = "no_personal_number:" + number;
            row.Street = $"{Names.NorwegianStreets[random.Next(Names.NorwegianStreets.Length)]} {random.Next(1, 120)}";
            row.PostalCode = random.Next(1, 9999).ToString("D4", CultureInfo.InvariantCulture);
            row.City = Names.NorwegianCities[random.Next(Names.NorwegianCities.Length)];
            row.Country = "NO";
            phone = $"+47 4{random.Next(0, 10_000_000):D7}";
        }
        else
        {
            SwedishCount++;
            row.SePersonalNumber = number;
            row.ExternalId = "se_personal_number:" + number;
            SwedishNumbers.Add(number);
            row.Street = $"{Names.Streets[random.Next(Names.Streets.Length)]} {random.Next(1, 120)}";
            row.PostalCode = $"{random.Next(100, 999)} {random.Next(0, 100):D2}";
            row.City = Names.Cities[random.Next(Names.Cities.Length)];
            row.Country = "SE";
            phone = $"070-{random.Next(0, 10_000_000):D7}";
        }

        row.Contacts.Add(new PatientContactRow
        {
            Key = ++contactKey,
            PatientKey = key,
            Kind = LocalEhrModel.Phone,
            Value = phone,
            Normalized = PhoneNumbers.Normalize(phone) ?? phone,
            Position = 0,
        });
        if (random.Next(10) < 3)
        {
            var email = $"{Fold(first).Replace(' ', '.')}.{Fold(last).Replace(' ', '.')}{random.Next(1, 1000)}@example.se";
            row.Contacts.Add(new PatientContactRow
            {
                Key = ++contactKey,
                PatientKey = key,
                Kind = LocalEhrModel.Email,
                Value = email,
                Normalized = PhoneNumbers.NormalizeEmail(email),
                Position = 1,
            });
        }

        return row;
    }

    /// <summary>
    /// The next <paramref name="count"/> patients keyed from <paramref name="firstKey"/>, generated on
    /// another thread while the caller writes the previous ones.
    /// </summary>
    public IEnumerable<PatientRow> Produce(long firstKey, int count)
    {
        const int chunk = 1000;
        using var queue = new System.Collections.Concurrent.BlockingCollection<PatientRow[]>(boundedCapacity: 64);
        var producer = Task.Run(() =>
        {
            try
            {
                for (var done = 0; done < count; done += chunk)
                {
                    var rows = new PatientRow[Math.Min(chunk, count - done)];
                    for (var i = 0; i < rows.Length; i++)
                    {
                        rows[i] = Next(firstKey + done + i);
                    }

                    queue.Add(rows);
                }
            }
            finally
            {
                queue.CompleteAdding();
            }
        });
        foreach (var rows in queue.GetConsumingEnumerable())
        {
            foreach (var row in rows)
            {
                yield return row;
            }
        }

        producer.GetAwaiter().GetResult();
    }

    private int LastNameIndex()
    {
        var x = random.NextDouble();
        var i = Array.BinarySearch(lastNameWeights, x);
        return Math.Min(i < 0 ? ~i : i, Names.Last.Length - 1);
    }

    private string Fold(string name)
    {
        if (!folded.TryGetValue(name, out var f))
        {
            folded[name] = f = TextFolding.Fold(name);
        }

        return f;
    }
}

/// <summary>
/// SQLite: prepared multi-row INSERTs with explicit keys in large transactions, synchronous=OFF,
/// bound positionally through SQLitePCL (Microsoft.Data.Sqlite binds every parameter by name on
/// every execution, which dominated the load). The secondary indexes of the two tables are dropped
/// for the load and created again from their own stored SQL afterwards (a sort instead of
/// hundreds of thousands of random B-tree inserts).
/// </summary>
internal static class SqliteRawWriter
{
    private static readonly int RowsPerStatement = int.TryParse(Environment.GetEnvironmentVariable("BENCH_ROWS_PER_STATEMENT"), out var n) ? n : 50;
    private const int RowsPerTransaction = 100_000;

    private static readonly string[] PatientColumns =
    [
        "Key", "Emr", "EmrId", "CareUnitId", "FirstName", "LastName", "FoldedFirstName", "FoldedLastName", "BirthDate", "Gender",
        "SePersonalNumber", "NoPersonalNumber", "NhsNumber", "ExternalId", "Street", "PostalCode", "City", "Country", "CreatedAt", "UpdatedAt",
    ];

    private static readonly string[] ContactColumns = ["Key", "PatientKey", "Kind", "Value", "Normalized", "Position"];

    public static async Task WriteAsync(string file, PatientGenerator generator, int patients)
    {
        var toBinary = new DateTimeOffsetToBinaryConverter();
        await using var connection = new SqliteConnection(StorageSetup.SqliteConnectionString(file));
        await connection.OpenAsync();
        Exec(connection, "PRAGMA synchronous=OFF");
        Exec(connection, "PRAGMA cache_size=-262144");
        Exec(connection, "PRAGMA temp_store=MEMORY");
        var firstKey = Convert.ToInt64(Scalar(connection, "SELECT COALESCE(MAX(\"Key\"), 0) + 1 FROM local_patients"), CultureInfo.InvariantCulture);

        var dropIndexes = Environment.GetEnvironmentVariable("BENCH_KEEP_INDEXES") is null;
        var indexes = new List<(string Name, string Sql)>();
        if (dropIndexes)
        {
            await using (var list = connection.CreateCommand())
            {
                list.CommandText = "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN ('local_patients', 'local_patient_contacts')";
                await using var reader = await list.ExecuteReaderAsync();
                while (await reader.ReadAsync())
                {
                    indexes.Add((reader.GetString(0), reader.GetString(1)));
                }
            }

            foreach (var (name, _) in indexes)
            {
                Exec(connection, $"DROP INDEX \"{name}\"");
            }
        }

        var db = connection.Handle!;
        using var patientInsert = new Insert(db, "local_patients", PatientColumns);
        using var contactInsert = new Insert(db, "local_patient_contacts", ContactColumns);
        var patientBuffer = new List<PatientRow>(RowsPerStatement);
        var contactBuffer = new List<PatientContactRow>(RowsPerStatement * 3);
        var inTransaction = false;
        var i = -1;
        foreach (var row in generator.Produce(firstKey, patients))
        {
            i++;
            if (i % RowsPerTransaction == 0)
            {
                if (inTransaction)
                {
                    Exec(connection, "COMMIT");
                }

                Exec(connection, "BEGIN");
                inTransaction = true;
            }

            patientBuffer.Add(row);
            contactBuffer.AddRange(row.Contacts);
            if (patientBuffer.Count == RowsPerStatement || i == patients - 1)
            {
                // Contacts only after their patients (foreign key).
                patientInsert.Run(patientBuffer.Count, (r, bind) => BindPatient(patientBuffer[r], bind, toBinary));
                patientBuffer.Clear();
                var flushAll = i == patients - 1;
                while (contactBuffer.Count >= RowsPerStatement || (flushAll && contactBuffer.Count > 0))
                {
                    var count = Math.Min(contactBuffer.Count, RowsPerStatement);
                    contactInsert.Run(count, (r, bind) => BindContact(contactBuffer[r], bind));
                    contactBuffer.RemoveRange(0, count);
                }
            }
        }

        if (inTransaction)
        {
            Exec(connection, "COMMIT");
        }

        var inserted = Stopwatch.GetTimestamp();
        foreach (var (_, sql) in indexes)
        {
            Exec(connection, sql);
        }

        Console.Error.WriteLine($"loader: rows inserted, {indexes.Count} indexes rebuilt in {Stopwatch.GetElapsedTime(inserted).TotalSeconds:F2} s");
    }

    private static void BindPatient(PatientRow x, Binder bind, DateTimeOffsetToBinaryConverter toBinary)
    {
        bind.Int(x.Key);
        bind.Text(x.Emr);
        bind.Text(x.EmrId);
        bind.Text(x.CareUnitId);
        bind.Text(x.FirstName);
        bind.Text(x.LastName);
        bind.Text(x.FoldedFirstName);
        bind.Text(x.FoldedLastName);
        bind.Text(x.BirthDate?.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)); // what EF Core stores for DateOnly
        bind.Text(x.Gender);
        bind.Text(x.SePersonalNumber);
        bind.Text(x.NoPersonalNumber);
        bind.Text(x.NhsNumber);
        bind.Text(x.ExternalId);
        bind.Text(x.Street);
        bind.Text(x.PostalCode);
        bind.Text(x.City);
        bind.Text(x.Country);
        bind.Int((long)toBinary.ConvertToProvider(x.CreatedAt)!);
        bind.Int((long)toBinary.ConvertToProvider(x.UpdatedAt)!);
    }

    private static void BindContact(PatientContactRow x, Binder bind)
    {
        bind.Int(x.Key);
        bind.Int(x.PatientKey);
        bind.Text(x.Kind);
        bind.Text(x.Value);
        bind.Text(x.Normalized);
        bind.Int(x.Position);
    }

    private static void Exec(SqliteConnection connection, string sql)
    {
        using var cmd = connection.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    private static object? Scalar(SqliteConnection connection, string sql)
    {
        using var cmd = connection.CreateCommand();
        cmd.CommandText = sql;
        return cmd.ExecuteScalar();
    }

    /// <summary>Binds the next positional parameter of a statement.</summary>
    internal sealed class Binder(SQLitePCL.sqlite3 db, SQLitePCL.sqlite3_stmt stmt)
    {
        public int Next { get; set; } = 1;

        public void Int(long value) => Check(SQLitePCL.raw.sqlite3_bind_int64(stmt, Next++, value));

        public void Text(string? value) =>
            Check(value is null ? SQLitePCL.raw.sqlite3_bind_null(stmt, Next++) : SQLitePCL.raw.sqlite3_bind_text(stmt, Next++, value));

        public void Check(int rc)
        {
            if (rc is not (SQLitePCL.raw.SQLITE_OK or SQLitePCL.raw.SQLITE_DONE or SQLitePCL.raw.SQLITE_ROW))
            {
                throw new InvalidOperationException($"SQLite error {rc}: {SQLitePCL.raw.sqlite3_errmsg(db).utf8_to_string()}");
            }
        }
    }

    /// <summary>One prepared <c>INSERT … VALUES (…), (…)</c> per row count used (the full one and the last, shorter one).</summary>
    internal sealed class Insert(SQLitePCL.sqlite3 db, string table, string[] columns) : IDisposable
    {
        private readonly Dictionary<int, SQLitePCL.sqlite3_stmt> statements = [];

        public void Run(int rows, Action<int, Binder> bindRow)
        {
            if (!statements.TryGetValue(rows, out var stmt))
            {
                var values = "(" + string.Join(", ", columns.Select(_ => "?")) + ")";
                var sql = $"INSERT INTO {table} ({string.Join(", ", columns.Select(c => $"\"{c}\""))}) VALUES {string.Join(", ", Enumerable.Repeat(values, rows))}";
                new Binder(db, null!).Check(SQLitePCL.raw.sqlite3_prepare_v2(db, sql, out stmt));
                statements[rows] = stmt;
            }

            var binder = new Binder(db, stmt);
            for (var r = 0; r < rows; r++)
            {
                bindRow(r, binder);
            }

            binder.Check(SQLitePCL.raw.sqlite3_step(stmt));
            binder.Check(SQLitePCL.raw.sqlite3_reset(stmt));
        }

        public void Dispose()
        {
            foreach (var stmt in statements.Values)
            {
                stmt.Dispose();
            }
        }
    }
}

/// <summary>
/// PostgreSQL: binary COPY of patients and their contacts, then the identity sequences moved past
/// the keys. The two tables' secondary indexes and the contacts' foreign key are dropped for the
/// load and created again from their own definitions afterwards (one sort per index, one
/// validating join instead of a trigger per row).
/// </summary>
internal static class PostgresCopyWriter
{
    private static readonly string[] Tables = ["local_patients", "local_patient_contacts"];

    public static async Task WriteAsync(string connectionString, PatientGenerator generator, int patients)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        var firstKey = Convert.ToInt64(await ScalarAsync(connection, "SELECT COALESCE(MAX(\"Key\"), 0) + 1 FROM local_patients"), CultureInfo.InvariantCulture);

        var keepIndexes = Environment.GetEnvironmentVariable("BENCH_KEEP_INDEXES") is not null;
        var indexes = new List<(string Name, string Sql)>();
        var foreignKeys = new List<(string Table, string Name, string Sql)>();
        if (!keepIndexes)
        {
            await using (var cmd = new NpgsqlCommand(
                "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = current_schema() AND i.tablename = ANY(@t) "
                + "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname AND c.contype = 'p')", connection))
            {
                cmd.Parameters.AddWithValue("t", Tables);
                await using var reader = await cmd.ExecuteReaderAsync();
                while (await reader.ReadAsync())
                {
                    indexes.Add((reader.GetString(0), reader.GetString(1)));
                }
            }

            await using (var cmd = new NpgsqlCommand(
                "SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid) FROM pg_constraint c "
                + "WHERE c.contype = 'f' AND c.conrelid::regclass::text = ANY(@t)", connection))
            {
                cmd.Parameters.AddWithValue("t", Tables);
                await using var reader = await cmd.ExecuteReaderAsync();
                while (await reader.ReadAsync())
                {
                    foreignKeys.Add((reader.GetString(0), reader.GetString(1), reader.GetString(2)));
                }
            }

            foreach (var (table, name, _) in foreignKeys)
            {
                await ExecAsync(connection, $"ALTER TABLE {table} DROP CONSTRAINT \"{name}\"");
            }

            foreach (var (name, _) in indexes)
            {
                await ExecAsync(connection, $"DROP INDEX \"{name}\"");
            }
        }

        var contacts = new List<PatientContactRow>(patients + (patients / 2));
        using (var writer = connection.BeginBinaryImport(
            "COPY local_patients (\"Key\", \"Emr\", \"EmrId\", \"CareUnitId\", \"FirstName\", \"LastName\", \"FoldedFirstName\", \"FoldedLastName\", \"BirthDate\", \"Gender\", "
            + "\"SePersonalNumber\", \"NoPersonalNumber\", \"NhsNumber\", \"ExternalId\", \"Street\", \"PostalCode\", \"City\", \"Country\", \"CreatedAt\", \"UpdatedAt\") FROM STDIN (FORMAT BINARY)"))
        {
            foreach (var x in generator.Produce(firstKey, patients))
            {
                contacts.AddRange(x.Contacts);
                writer.StartRow();
                writer.Write(x.Key, NpgsqlDbType.Bigint);
                Text(writer, x.Emr);
                Text(writer, x.EmrId);
                Text(writer, x.CareUnitId);
                Text(writer, x.FirstName);
                Text(writer, x.LastName);
                Text(writer, x.FoldedFirstName);
                Text(writer, x.FoldedLastName);
                if (x.BirthDate is { } b)
                {
                    writer.Write(b, NpgsqlDbType.Date);
                }
                else
                {
                    writer.WriteNull();
                }

                Text(writer, x.Gender);
                Text(writer, x.SePersonalNumber);
                Text(writer, x.NoPersonalNumber);
                Text(writer, x.NhsNumber);
                Text(writer, x.ExternalId);
                Text(writer, x.Street);
                Text(writer, x.PostalCode);
                Text(writer, x.City);
                Text(writer, x.Country);
                writer.Write(x.CreatedAt, NpgsqlDbType.TimestampTz);
                writer.Write(x.UpdatedAt, NpgsqlDbType.TimestampTz);
            }

            writer.Complete();
        }

        using (var writer = connection.BeginBinaryImport(
            "COPY local_patient_contacts (\"Key\", \"PatientKey\", \"Kind\", \"Value\", \"Normalized\", \"Position\") FROM STDIN (FORMAT BINARY)"))
        {
            foreach (var c in contacts)
            {
                writer.StartRow();
                writer.Write(c.Key, NpgsqlDbType.Bigint);
                writer.Write(c.PatientKey, NpgsqlDbType.Bigint);
                Text(writer, c.Kind);
                Text(writer, c.Value);
                Text(writer, c.Normalized);
                writer.Write(c.Position, NpgsqlDbType.Integer);
            }

            writer.Complete();
        }

        var copied = Stopwatch.GetTimestamp();
        await ExecAsync(connection, "SET maintenance_work_mem = '256MB'");
        foreach (var (_, sql) in indexes)
        {
            await ExecAsync(connection, sql);
        }

        foreach (var (table, name, sql) in foreignKeys)
        {
            await ExecAsync(connection, $"ALTER TABLE {table} ADD CONSTRAINT \"{name}\" {sql}");
        }

        if (!keepIndexes)
        {
            Console.Error.WriteLine($"loader: rows copied, {indexes.Count} indexes and {foreignKeys.Count} foreign keys rebuilt in {Stopwatch.GetElapsedTime(copied).TotalSeconds:F2} s");
        }

        foreach (var table in Tables)
        {
            await ExecAsync(connection, $"SELECT setval(pg_get_serial_sequence('{table}', 'Key'), (SELECT MAX(\"Key\") FROM {table}))");
        }
    }

    private static async Task ExecAsync(NpgsqlConnection connection, string sql)
    {
        await using var cmd = new NpgsqlCommand(sql, connection);
        await cmd.ExecuteNonQueryAsync();
    }

    private static async Task<object?> ScalarAsync(NpgsqlConnection connection, string sql)
    {
        await using var cmd = new NpgsqlCommand(sql, connection);
        return await cmd.ExecuteScalarAsync();
    }

    private static void Text(NpgsqlBinaryImporter writer, string? value)
    {
        if (value is null)
        {
            writer.WriteNull();
        }
        else
        {
            writer.Write(value, NpgsqlDbType.Varchar);
        }
    }
}
