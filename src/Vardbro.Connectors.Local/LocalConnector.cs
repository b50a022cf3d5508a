using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;

// string.Compare(a, b) below sits in expression trees that EF Core translates to SQL comparisons on
// binary-collated columns; it never runs as a culture-sensitive .NET comparison.
#pragma warning disable CA1309

namespace Vardbro.Connectors.Local;

/// <summary>
/// The built-in EHR: one instance per request and EMR code, over the server's database.
/// </summary>
public sealed partial class LocalConnector(DbContext db, string emr, TimeProvider time, IBlobStore? blobs = null, LocalMasterDataCache? cache = null)
    : ICareUnitDirectory, IPatientDirectory, IMasterDataAdmin, IHealthProbe, IScheduling, IAppointmentBooking
{
    /// <summary>
    /// Now, to the millisecond: what both providers store exactly, so that a record reads back equal
    /// to the answer that created it.
    /// </summary>
    private DateTimeOffset Now()
    {
        var now = time.GetUtcNow();
        return new DateTimeOffset(now.UtcTicks - (now.UtcTicks % TimeSpan.TicksPerMillisecond), TimeSpan.Zero);
    }

    private IQueryable<CareUnitRow> CareUnits => db.Set<CareUnitRow>().AsNoTracking().Where(x => x.Emr == emr);
    private IQueryable<ResourceRow> Resources => db.Set<ResourceRow>().AsNoTracking().Where(x => x.Emr == emr);
    private IQueryable<HealthcareServiceRow> Services => db.Set<HealthcareServiceRow>().AsNoTracking().Where(x => x.Emr == emr);
    private IQueryable<PatientRow> Patients => db.Set<PatientRow>().AsNoTracking().Where(x => x.Emr == emr);

    // ---- care units, resources, services -------------------------------------------------

    public async Task<IReadOnlyList<CareUnit>> ListCareUnitsAsync(CancellationToken cancellationToken) =>
        (await CareUnits.OrderBy(x => x.Id).ToListAsync(cancellationToken)).ConvertAll(ToRecord);

    public Task<CareUnit?> GetCareUnitAsync(string careUnitId, CancellationToken cancellationToken) =>
        Cached("care_unit", careUnitId, async () =>
        {
            var row = await CareUnits.FirstOrDefaultAsync(x => x.Id == careUnitId, cancellationToken);
            return row is null ? null : ToRecord(row);
        });

    public async Task<IReadOnlyList<Resource>> ListResourcesAsync(string careUnitId, CancellationToken cancellationToken) =>
        (await Resources.Where(x => x.CareUnitId == careUnitId).OrderBy(x => x.Id).ToListAsync(cancellationToken)).ConvertAll(ToRecord);

    public Task<Resource?> FindResourceAsync(string careUnitId, TypedId resourceId, CancellationToken cancellationToken) =>
        Cached("resource", $"{careUnitId}\n{resourceId}", () => LoadResourceAsync(careUnitId, resourceId, cancellationToken));

    private async Task<Resource?> LoadResourceAsync(string careUnitId, TypedId resourceId, CancellationToken cancellationToken)
    {
        var inUnit = Resources.Where(x => x.CareUnitId == careUnitId);
        var query = resourceId.Type switch
        {
            IdType.EmrId => inUnit.Where(x => x.Id == resourceId.Value),
            IdType.HsaId => inUnit.Where(x => x.HsaId == resourceId.Value),
            IdType.SePersonalNumber => inUnit.Where(x => x.SePersonalNumber == resourceId.Value),
            _ => null,
        };
        var row = query is null ? null : await query.OrderBy(x => x.Id).FirstOrDefaultAsync(cancellationToken);
        return row is null ? null : ToRecord(row);
    }

    public Task<IReadOnlyList<HealthcareService>> ListHealthcareServicesAsync(string careUnitId, CancellationToken cancellationToken) =>
        Cached<IReadOnlyList<HealthcareService>>("services", careUnitId, async () =>
            (await Services.Where(x => x.CareUnitId == careUnitId).OrderBy(x => x.Id).ToListAsync(cancellationToken)).ConvertAll(ToRecord));

    private Task<T> Cached<T>(string kind, string key, Func<Task<T>> load) =>
        cache is null ? load() : cache.GetAsync(emr, kind, key, load);

    /// <summary>Runs a change of master data; once it is committed, the cache forgets what it held.</summary>
    private async Task<T> ChangingMasterDataAsync<T>(Func<Task<T>> change)
    {
        try
        {
            return await change();
        }
        finally
        {
            cache?.Invalidate();
        }
    }

    // ---- patients -------------------------------------------------------------------------

    public async Task<Patient?> FindPatientAsync(TypedId patientId, CancellationToken cancellationToken)
    {
        if (PatientColumn(patientId.Type) is { } column && SqliteStatements.Apply(db))
        {
            return await FindPatientPreparedAsync(column, patientId.Value, cancellationToken);
        }

        var query = ByTypedId(Patients, patientId);
        if (query is null)
        {
            return null;
        }

        var row = await query.Include(x => x.Contacts).FirstOrDefaultAsync(cancellationToken);
        return row is null ? null : ToRecord(row);
    }

    public async Task<PatientPage> SearchPatientsAsync(PatientQuery query, int limit, string? cursor, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        var cursorKey = cursor is null ? ((string, string, string)?)null : DecodeCursor(cursor);
        var page = SqliteStatements.Apply(db)
            ? await SearchPreparedAsync(query, limit, cursorKey, cancellationToken)
            : await SearchQueryAsync(query, limit, cursorKey, cancellationToken);
        var more = page.Count > limit;
        if (more)
        {
            page.RemoveAt(page.Count - 1);
        }

        await LoadContactsAsync(page, cancellationToken);
        var next = more ? EncodeCursor(page[^1]) : null;
        return new PatientPage(page.ConvertAll(ToRecord), next);
    }

    /// <summary>Up to <paramref name="limit"/> + 1 matches after the cursor, in page order.</summary>
    private async Task<List<PatientRow>> SearchQueryAsync(PatientQuery query, int limit, (string Last, string First, string Id)? cursor, CancellationToken cancellationToken)
    {
        var rows = Patients;
        if (!string.IsNullOrEmpty(query.LastName))
        {
            rows = WherePrefix(rows, TextFolding.Fold(query.LastName), last: true);
        }

        if (!string.IsNullOrEmpty(query.FirstName))
        {
            rows = WherePrefix(rows, TextFolding.Fold(query.FirstName), last: false);
        }

        if (query.BirthDate is { } birthDate)
        {
            rows = rows.Where(x => x.BirthDate == birthDate);
        }

        if (query.Phone is { } phone)
        {
            rows = rows.Where(p => db.Set<PatientContactRow>().Any(c => c.PatientKey == p.Key && c.Kind == LocalEhrModel.Phone && c.Normalized == phone));
        }

        if (query.Email is { } email)
        {
            rows = rows.Where(p => db.Set<PatientContactRow>().Any(c => c.PatientKey == p.Key && c.Kind == LocalEhrModel.Email && c.Normalized == email));
        }

        if (cursor is var (l, f, id))
        {
            rows = rows.Where(x =>
                string.Compare(x.FoldedLastName, l) > 0
                || (x.FoldedLastName == l && string.Compare(x.FoldedFirstName, f) > 0)
                || (x.FoldedLastName == l && x.FoldedFirstName == f && string.Compare(x.EmrId, id) > 0));
        }

        return await rows
            .OrderBy(x => x.FoldedLastName).ThenBy(x => x.FoldedFirstName).ThenBy(x => x.EmrId)
            .Take(limit + 1)
            .ToListAsync(cancellationToken);
    }

    /// <summary>
    /// <see cref="SearchQueryAsync"/> as one prepared statement per combination of criteria (see
    /// <see cref="SqliteStatements"/>): the same conditions and order, without EF Core's query
    /// translation and materialisation on every page, which cost more than the page itself.
    /// </summary>
    private async Task<List<PatientRow>> SearchPreparedAsync(PatientQuery query, int limit, (string Last, string First, string Id)? cursor, CancellationToken cancellationToken)
    {
        var sql = new StringBuilder($"""SELECT {PatientColumns} FROM "local_patients" WHERE "Emr" = @p0""");
        var values = new List<object?> { emr };
        string Next(object? value)
        {
            values.Add(value);
            return "@p" + (values.Count - 1).ToString(CultureInfo.InvariantCulture);
        }

        void Prefix(string column, string? text)
        {
            if (string.IsNullOrEmpty(text) || TextFolding.Fold(text) is not { Length: > 0 } prefix)
            {
                return;
            }

            sql.Append(CultureInfo.InvariantCulture, $""" AND "{column}" >= {Next(prefix)}""");
            if (TextFolding.UpperBound(prefix) is { } upper)
            {
                sql.Append(CultureInfo.InvariantCulture, $""" AND "{column}" < {Next(upper)}""");
            }
        }

        Prefix(nameof(PatientRow.FoldedLastName), query.LastName);
        Prefix(nameof(PatientRow.FoldedFirstName), query.FirstName);
        if (query.BirthDate is { } birthDate)
        {
            sql.Append(CultureInfo.InvariantCulture, $""" AND "BirthDate" = {Next(SqliteStatements.Store(db, typeof(PatientRow), nameof(PatientRow.BirthDate), birthDate))}""");
        }

        foreach (var (kind, value) in new[] { (LocalEhrModel.Phone, query.Phone), (LocalEhrModel.Email, query.Email) })
        {
            if (value is not null)
            {
                sql.Append(CultureInfo.InvariantCulture, $"""
                     AND EXISTS (SELECT 1 FROM "local_patient_contacts" AS c WHERE c."PatientKey" = "local_patients"."Key" AND c."Kind" = {Next(kind)} AND c."Normalized" = {Next(value)})
                    """);
            }
        }

        if (cursor is var (l, f, id))
        {
            var (pl, pf, pid) = (Next(l), Next(f), Next(id));
            sql.Append(CultureInfo.InvariantCulture, $"""
                 AND ("FoldedLastName" > {pl} OR ("FoldedLastName" = {pl} AND "FoldedFirstName" > {pf})
                      OR ("FoldedLastName" = {pl} AND "FoldedFirstName" = {pf} AND "EmrId" > {pid}))
                """);
        }

        sql.Append(CultureInfo.InvariantCulture, $""" ORDER BY "FoldedLastName", "FoldedFirstName", "EmrId" LIMIT {Next(limit + 1)}""");
        var command = SqliteStatements.For(db, sql.ToString(), [.. values])!;
        var page = new List<PatientRow>(limit + 1);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            page.Add(ReadPatientRow(reader));
        }

        return page;
    }

    public async Task<PatientCreation> CreateOrReturnPatientAsync(string careUnitId, NewPatient patient, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(patient);
        var foldedFirst = TextFolding.Fold(patient.FirstName);
        var foldedLast = TextFolding.Fold(patient.LastName);
        var lockKey = patient.NationalId is { } nid
            ? $"patient/{emr}/{nid}"
            : $"patient/{emr}/{foldedLast}/{foldedFirst}/{patient.BirthDate:O}";

        return await SerializedWrites.RunAsync(db, lockKey, async () =>
        {
            var existing = await FindMatchAsync(patient, foldedFirst, foldedLast, cancellationToken);
            if (existing is not null)
            {
                return new PatientCreation(ToRecord(existing), Created: false);
            }

            var now = Now();
            var row = new PatientRow
            {
                Emr = emr,
                EmrId = NewEmrId(),
                CareUnitId = careUnitId,
                FirstName = patient.FirstName,
                LastName = patient.LastName,
                FoldedFirstName = foldedFirst,
                FoldedLastName = foldedLast,
                BirthDate = patient.BirthDate,
                Gender = patient.Gender,
                Street = patient.Address?.Street,
                PostalCode = patient.Address?.PostalCode,
                City = patient.Address?.City,
                Country = patient.Address?.Country,
                CreatedAt = now,
                UpdatedAt = now,
            };
            if (patient.NationalId is { } id)
            {
                row.ExternalId = id.ToString();
                switch (id.Type)
                {
                    case IdType.SePersonalNumber:
                        row.SePersonalNumber = id.Value;
                        row.BirthDate ??= SwedishPersonalNumber.BirthDate(id.Value);
                        row.Gender ??= SwedishPersonalNumber.Gender(id.Value);
                        break;
                    case IdType.NoPersonalNumber:
                        row.NoPersonalNumber = id.Value;
                        row.BirthDate ??= NorwegianPersonalNumber.BirthDate(id.Value);
                        row.Gender ??= NorwegianPersonalNumber.Gender(id.Value);
                        break;
                    case IdType.NhsNumber:
                        row.NhsNumber = id.Value;
                        break;
                    default:
                        throw new VardbroException(ErrorCodes.InvalidPatientId, "The external id must be a national id.", "external_id");
                }
            }

            AddContacts(row, patient.Phones, patient.Emails);
            db.Add(row);
            await db.SaveChangesAsync(cancellationToken);
            db.ChangeTracker.Clear();
            return new PatientCreation(ToRecord(row), Created: true);
        }, cancellationToken);
    }

    private async Task<PatientRow?> FindMatchAsync(NewPatient patient, string foldedFirst, string foldedLast, CancellationToken cancellationToken)
    {
        if (patient.NationalId is { } nid)
        {
            var byId = ByTypedId(Patients, nid);
            return byId is null ? null : await byId.Include(x => x.Contacts).FirstOrDefaultAsync(cancellationToken);
        }

        // Without a national id, a patient is the same one only with the same names, the same
        // birth date and at least one shared phone number or e-mail address.
        if (patient.BirthDate is not { } birthDate)
        {
            return null;
        }

        var phones = patient.Phones.Select(p => PhoneNumbers.Normalize(p)).OfType<string>().ToList();
        var emails = patient.Emails.Select(PhoneNumbers.NormalizeEmail).ToList();
        return await Patients
            .Where(x => x.FoldedFirstName == foldedFirst && x.FoldedLastName == foldedLast && x.BirthDate == birthDate)
            .Where(p => db.Set<PatientContactRow>().Any(c => c.PatientKey == p.Key
                && ((c.Kind == LocalEhrModel.Phone && phones.Contains(c.Normalized))
                    || (c.Kind == LocalEhrModel.Email && emails.Contains(c.Normalized)))))
            .OrderBy(x => x.Key)
            .Include(x => x.Contacts)
            .FirstOrDefaultAsync(cancellationToken);
    }

    private static void AddContacts(PatientRow row, IReadOnlyList<string> phones, IReadOnlyList<string> emails)
    {
        var position = 0;
        foreach (var phone in phones)
        {
            row.Contacts.Add(new PatientContactRow { Kind = LocalEhrModel.Phone, Value = phone, Normalized = PhoneNumbers.Normalize(phone) ?? phone, Position = position++ });
        }

        foreach (var email in emails)
        {
            row.Contacts.Add(new PatientContactRow { Kind = LocalEhrModel.Email, Value = email, Normalized = PhoneNumbers.NormalizeEmail(email), Position = position++ });
        }
    }

    private static string? PatientColumn(IdType type) => type switch
    {
        IdType.EmrId => nameof(PatientRow.EmrId),
        IdType.SePersonalNumber => nameof(PatientRow.SePersonalNumber),
        IdType.NoPersonalNumber => nameof(PatientRow.NoPersonalNumber),
        IdType.NhsNumber => nameof(PatientRow.NhsNumber),
        _ => null,
    };

    /// <summary><see cref="FindPatientAsync"/> with statements prepared once per connection (see <see cref="SqliteStatements"/>).</summary>
    private async Task<Patient?> FindPatientPreparedAsync(string column, string value, CancellationToken cancellationToken)
    {
        var byId = SqliteStatements.For(db, $"""SELECT {PatientColumns} FROM "local_patients" WHERE "Emr" = @p0 AND "{column}" = @p1 LIMIT 1""", emr, value)!;
        PatientRow row;
        await using (var reader = await byId.ExecuteReaderAsync(cancellationToken))
        {
            if (!await reader.ReadAsync(cancellationToken))
            {
                return null;
            }

            row = ReadPatientRow(reader);
        }

        var contacts = SqliteStatements.For(db, """
            SELECT "Kind", "Value", "Position" FROM "local_patient_contacts" WHERE "PatientKey" = @p0 ORDER BY "Position", "Key"
            """, row.Key)!;
        await using (var reader = await contacts.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                row.Contacts.Add(new PatientContactRow { PatientKey = row.Key, Kind = reader.GetString(0), Value = reader.GetString(1), Normalized = "", Position = reader.GetInt32(2) });
            }
        }

        return ToRecord(row);
    }

    /// <summary>The columns <see cref="ReadPatientRow"/> reads, in its order.</summary>
    private const string PatientColumns = """
        "Key", "EmrId", "CareUnitId", "FirstName", "LastName", "FoldedFirstName", "FoldedLastName", "BirthDate", "Gender",
        "SePersonalNumber", "NoPersonalNumber", "NhsNumber", "ExternalId", "Street", "PostalCode", "City", "Country", "CreatedAt", "UpdatedAt"
        """;

    private PatientRow ReadPatientRow(System.Data.Common.DbDataReader reader)
    {
        string? Text(int i) => reader.IsDBNull(i) ? null : reader.GetString(i);
        return new PatientRow
        {
            Emr = emr,
            Key = reader.GetInt64(0),
            EmrId = reader.GetString(1),
            CareUnitId = reader.GetString(2),
            FirstName = reader.GetString(3),
            LastName = reader.GetString(4),
            FoldedFirstName = reader.GetString(5),
            FoldedLastName = reader.GetString(6),
            BirthDate = reader.IsDBNull(7) ? null : reader.GetFieldValue<DateOnly>(7),
            Gender = Text(8),
            SePersonalNumber = Text(9),
            NoPersonalNumber = Text(10),
            NhsNumber = Text(11),
            ExternalId = Text(12),
            Street = Text(13),
            PostalCode = Text(14),
            City = Text(15),
            Country = Text(16),
            CreatedAt = SqliteStatements.Read<DateTimeOffset>(db, typeof(PatientRow), nameof(PatientRow.CreatedAt), reader.GetValue(17)),
            UpdatedAt = SqliteStatements.Read<DateTimeOffset>(db, typeof(PatientRow), nameof(PatientRow.UpdatedAt), reader.GetValue(18)),
        };
    }

    private static IQueryable<PatientRow>? ByTypedId(IQueryable<PatientRow> rows, TypedId id) => id.Type switch
    {
        IdType.EmrId => rows.Where(x => x.EmrId == id.Value),
        IdType.SePersonalNumber => rows.Where(x => x.SePersonalNumber == id.Value),
        IdType.NoPersonalNumber => rows.Where(x => x.NoPersonalNumber == id.Value),
        IdType.NhsNumber => rows.Where(x => x.NhsNumber == id.Value),
        _ => null,
    };

    private static IQueryable<PatientRow> WherePrefix(IQueryable<PatientRow> rows, string prefix, bool last)
    {
        if (prefix.Length == 0)
        {
            return rows;
        }

        // A range instead of LIKE, so that the (binary-collated) index serves it on both providers.
        var upper = TextFolding.UpperBound(prefix);
        if (last)
        {
            rows = rows.Where(x => string.Compare(x.FoldedLastName, prefix) >= 0);
            return upper is null ? rows : rows.Where(x => string.Compare(x.FoldedLastName, upper) < 0);
        }

        rows = rows.Where(x => string.Compare(x.FoldedFirstName, prefix) >= 0);
        return upper is null ? rows : rows.Where(x => string.Compare(x.FoldedFirstName, upper) < 0);
    }

    private async Task LoadContactsAsync(List<PatientRow> rows, CancellationToken cancellationToken)
    {
        if (rows.Count == 0)
        {
            return;
        }

        var keys = rows.ConvertAll(x => x.Key);
        if (SqliteStatements.For(db, """
            SELECT "PatientKey", "Kind", "Value", "Position" FROM "local_patient_contacts"
            WHERE "PatientKey" IN (SELECT value FROM json_each(@p0))
            """, JsonSerializer.Serialize(keys)) is { } prepared)
        {
            // One statement for any page size (EF Core writes one parameter per key, so a new SQL text per count).
            var found = new List<PatientContactRow>();
            await using (var reader = await prepared.ExecuteReaderAsync(cancellationToken))
            {
                while (await reader.ReadAsync(cancellationToken))
                {
                    found.Add(new PatientContactRow { PatientKey = reader.GetInt64(0), Kind = reader.GetString(1), Value = reader.GetString(2), Normalized = "", Position = reader.GetInt32(3) });
                }
            }

            var byKey = found.ToLookup(c => c.PatientKey);
            foreach (var row in rows)
            {
                row.Contacts = [.. byKey[row.Key]];
            }

            return;
        }

        var contacts = await db.Set<PatientContactRow>().AsNoTracking()
            .Where(c => keys.Contains(c.PatientKey))
            .ToListAsync(cancellationToken);
        var byPatient = contacts.ToLookup(c => c.PatientKey);
        foreach (var row in rows)
        {
            row.Contacts = [.. byPatient[row.Key]];
        }
    }

    private static string EncodeCursor(PatientRow last) =>
        Base64Url(JsonSerializer.SerializeToUtf8Bytes(new[] { last.FoldedLastName, last.FoldedFirstName, last.EmrId }));

    private static string Base64Url(byte[] bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    /// <summary>Throws <see cref="FormatException"/> for text that is not base64url.</summary>
    private static byte[] FromBase64Url(string text)
    {
        var b64 = text.Replace('-', '+').Replace('_', '/');
        return Convert.FromBase64String(b64.PadRight(b64.Length + ((4 - (b64.Length % 4)) % 4), '='));
    }

    private static (string Last, string First, string Id) DecodeCursor(string cursor)
    {
        try
        {
            var parts = JsonSerializer.Deserialize<string[]>(FromBase64Url(cursor));
            if (parts is [{ } l, { } f, { } id] && !parts.Any(p => p.Any(char.IsControl)))
            {
                return (l, f, id);
            }
        }
        catch (FormatException)
        {
        }
        catch (JsonException)
        {
        }

        throw new VardbroException(ErrorCodes.InvalidField, "The cursor is not one this server issued; pass the one from the Link header unchanged.", "cursor");
    }

    private static string NewEmrId() =>
        "pat_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));

    // ---- master data -------------------------------------------------------------------------

    public Task<CareUnit> CreateCareUnitAsync(NewCareUnit careUnit, CancellationToken cancellationToken) =>
        ChangingMasterDataAsync(() => CreateCareUnitCoreAsync(careUnit, cancellationToken));

    private async Task<CareUnit> CreateCareUnitCoreAsync(NewCareUnit careUnit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(careUnit);
        return await SerializedWrites.RunAsync(db, $"master/{emr}", async () =>
        {
            if (await CareUnits.AnyAsync(x => x.Id == careUnit.Id, cancellationToken))
            {
                throw Exists("care unit");
            }

            var row = new CareUnitRow { Emr = emr, Id = careUnit.Id, Name = careUnit.Name, TimeZone = careUnit.TimeZone, Address = careUnit.Address, RequiresConfirmation = careUnit.RequiresConfirmation };
            db.Add(row);
            await db.SaveChangesAsync(cancellationToken);
            db.ChangeTracker.Clear();
            return ToRecord(row);
        }, cancellationToken);
    }

    public Task<CareUnit?> UpdateCareUnitAsync(NewCareUnit careUnit, CancellationToken cancellationToken) =>
        ChangingMasterDataAsync(() => UpdateCareUnitCoreAsync(careUnit, cancellationToken));

    private async Task<CareUnit?> UpdateCareUnitCoreAsync(NewCareUnit careUnit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(careUnit);
        var row = await db.Set<CareUnitRow>().FirstOrDefaultAsync(x => x.Emr == emr && x.Id == careUnit.Id, cancellationToken);
        if (row is null)
        {
            return null;
        }

        row.Name = careUnit.Name;
        row.TimeZone = careUnit.TimeZone;
        row.Address = careUnit.Address;
        row.RequiresConfirmation = careUnit.RequiresConfirmation;
        await db.SaveChangesAsync(cancellationToken);
        db.ChangeTracker.Clear();
        return ToRecord(row);
    }

    public Task<bool> DeleteCareUnitAsync(string careUnitId, CancellationToken cancellationToken) =>
        ChangingMasterDataAsync(() => DeleteCareUnitCoreAsync(careUnitId, cancellationToken));

    private async Task<bool> DeleteCareUnitCoreAsync(string careUnitId, CancellationToken cancellationToken) =>
        await SerializedWrites.RunAsync(db, $"master/{emr}", async () =>
        {
            if (!await CareUnits.AnyAsync(x => x.Id == careUnitId, cancellationToken))
            {
                return false;
            }

            if (await Resources.AnyAsync(x => x.CareUnitId == careUnitId, cancellationToken)
                || await Services.AnyAsync(x => x.CareUnitId == careUnitId, cancellationToken)
                || await Patients.AnyAsync(x => x.CareUnitId == careUnitId, cancellationToken))
            {
                throw StillReferenced("care unit", "its resources, healthcare services or patients");
            }

            await db.Set<CareUnitRow>().Where(x => x.Emr == emr && x.Id == careUnitId).ExecuteDeleteAsync(cancellationToken);
            return true;
        }, cancellationToken);

    public Task<Resource> CreateResourceAsync(string careUnitId, NewResource resource, CancellationToken cancellationToken) =>
        ChangingMasterDataAsync(() => CreateResourceCoreAsync(careUnitId, resource, cancellationToken));

    private async Task<Resource> CreateResourceCoreAsync(string careUnitId, NewResource resource, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(resource);
        return await SerializedWrites.RunAsync(db, $"master/{emr}", async () =>
        {
            await RequireCareUnitAsync(careUnitId, cancellationToken);
            if (await Resources.AnyAsync(x => x.Id == resource.Id, cancellationToken))
            {
                throw Exists("resource");
            }

            await RequireUniqueHsaIdAsync(resource, cancellationToken);
            var row = new ResourceRow { Emr = emr, Id = resource.Id, CareUnitId = careUnitId, Name = resource.Name, Title = resource.Title, Kind = resource.Kind, HsaId = resource.HsaId, SePersonalNumber = resource.SePersonalNumber };
            db.Add(row);
            await db.SaveChangesAsync(cancellationToken);
            db.ChangeTracker.Clear();
            return ToRecord(row);
        }, cancellationToken);
    }

    public Task<Resource?> UpdateResourceAsync(string careUnitId, NewResource resource, CancellationToken cancellationToken) =>
        ChangingMasterDataAsync(() => UpdateResourceCoreAsync(careUnitId, resource, cancellationToken));

    private async Task<Resource?> UpdateResourceCoreAsync(string careUnitId, NewResource resource, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(resource);
        return await SerializedWrites.RunAsync<Resource?>(db, $"master/{emr}", async () =>
        {
            var row = await db.Set<ResourceRow>().FirstOrDefaultAsync(x => x.Emr == emr && x.CareUnitId == careUnitId && x.Id == resource.Id, cancellationToken);
            if (row is null)
            {
                return null;
            }

            await RequireUniqueHsaIdAsync(resource, cancellationToken);
            row.Name = resource.Name;
            row.Title = resource.Title;
            row.Kind = resource.Kind;
            row.HsaId = resource.HsaId;
            row.SePersonalNumber = resource.SePersonalNumber;
            await db.SaveChangesAsync(cancellationToken);
            db.ChangeTracker.Clear();
            return ToRecord(row);
        }, cancellationToken);
    }

    public Task<bool> DeleteResourceAsync(string careUnitId, string resourceId, CancellationToken cancellationToken) =>
        ChangingMasterDataAsync(() => DeleteResourceCoreAsync(careUnitId, resourceId, cancellationToken));

    private async Task<bool> DeleteResourceCoreAsync(string careUnitId, string resourceId, CancellationToken cancellationToken) =>
        await db.Set<ResourceRow>().Where(x => x.Emr == emr && x.CareUnitId == careUnitId && x.Id == resourceId).ExecuteDeleteAsync(cancellationToken) > 0;

    public Task<HealthcareService> CreateHealthcareServiceAsync(string careUnitId, NewHealthcareService service, CancellationToken cancellationToken) =>
        ChangingMasterDataAsync(() => CreateHealthcareServiceCoreAsync(careUnitId, service, cancellationToken));

    private async Task<HealthcareService> CreateHealthcareServiceCoreAsync(string careUnitId, NewHealthcareService service, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(service);
        return await SerializedWrites.RunAsync(db, $"master/{emr}", async () =>
        {
            await RequireCareUnitAsync(careUnitId, cancellationToken);
            if (await Services.AnyAsync(x => x.Id == service.Id, cancellationToken))
            {
                throw Exists("healthcare service");
            }

            var row = new HealthcareServiceRow { Emr = emr, Id = service.Id, CareUnitId = careUnitId, Name = service.Name, Description = service.Description, DurationMinutes = service.DurationMinutes };
            db.Add(row);
            await db.SaveChangesAsync(cancellationToken);
            db.ChangeTracker.Clear();
            return ToRecord(row);
        }, cancellationToken);
    }

    public Task<HealthcareService?> UpdateHealthcareServiceAsync(string careUnitId, NewHealthcareService service, CancellationToken cancellationToken) =>
        ChangingMasterDataAsync(() => UpdateHealthcareServiceCoreAsync(careUnitId, service, cancellationToken));

    private async Task<HealthcareService?> UpdateHealthcareServiceCoreAsync(string careUnitId, NewHealthcareService service, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(service);
        var row = await db.Set<HealthcareServiceRow>().FirstOrDefaultAsync(x => x.Emr == emr && x.CareUnitId == careUnitId && x.Id == service.Id, cancellationToken);
        if (row is null)
        {
            return null;
        }

        row.Name = service.Name;
        row.Description = service.Description;
        row.DurationMinutes = service.DurationMinutes;
        await db.SaveChangesAsync(cancellationToken);
        db.ChangeTracker.Clear();
        return ToRecord(row);
    }

    public Task<bool> DeleteHealthcareServiceAsync(string careUnitId, string serviceId, CancellationToken cancellationToken) =>
        ChangingMasterDataAsync(() => DeleteHealthcareServiceCoreAsync(careUnitId, serviceId, cancellationToken));

    private async Task<bool> DeleteHealthcareServiceCoreAsync(string careUnitId, string serviceId, CancellationToken cancellationToken) =>
        await db.Set<HealthcareServiceRow>().Where(x => x.Emr == emr && x.CareUnitId == careUnitId && x.Id == serviceId).ExecuteDeleteAsync(cancellationToken) > 0;

    public async Task<bool> IsReachableAsync(CancellationToken cancellationToken) =>
        await db.Database.CanConnectAsync(cancellationToken);

    private async Task RequireCareUnitAsync(string careUnitId, CancellationToken cancellationToken)
    {
        if (!await CareUnits.AnyAsync(x => x.Id == careUnitId, cancellationToken))
        {
            throw new VardbroException(ErrorCodes.NotFound, "No such care unit.", "care_unit_id", 404);
        }
    }

    private async Task RequireUniqueHsaIdAsync(NewResource resource, CancellationToken cancellationToken)
    {
        if (resource.HsaId is { } hsa && await Resources.AnyAsync(x => x.HsaId == hsa && x.Id != resource.Id, cancellationToken))
        {
            throw new VardbroException(ErrorCodes.BadInput, "Another resource of this EMR has that HSA id.", "hsa_id", 409);
        }
    }

    private static VardbroException Exists(string what) =>
        new(ErrorCodes.BadInput, $"A {what} with that id exists already.", "id", 409);

    private static VardbroException StillReferenced(string what, string by) =>
        new(ErrorCodes.BadInput, $"The {what} is still referenced by {by}; remove those first.", "id", 409);

    // ---- mappings ------------------------------------------------------------------------------

    private static CareUnit ToRecord(CareUnitRow x) => new(x.Id, x.Name, x.TimeZone, x.Address, x.RequiresConfirmation);

    private static Resource ToRecord(ResourceRow x) => new(x.Id, x.CareUnitId, x.Name, x.Title, x.Kind, x.HsaId, x.SePersonalNumber);

    private static HealthcareService ToRecord(HealthcareServiceRow x) => new(x.Id, x.CareUnitId, x.Name, x.Description, x.DurationMinutes);

    private static Patient ToRecord(PatientRow x)
    {
        var contacts = x.Contacts.OrderBy(c => c.Position).ToList();
        var address = x.Street is null && x.PostalCode is null && x.City is null && x.Country is null
            ? null
            : new PostalAddress(x.Street, x.PostalCode, x.City, x.Country);
        return new Patient(
            x.EmrId, x.CareUnitId, x.FirstName, x.LastName, x.BirthDate, x.Gender,
            x.SePersonalNumber, x.NoPersonalNumber, x.NhsNumber, x.ExternalId,
            contacts.Where(c => c.Kind == LocalEhrModel.Phone).Select(c => c.Value).ToList(),
            contacts.Where(c => c.Kind == LocalEhrModel.Email).Select(c => c.Value).ToList(),
            address, x.CreatedAt, x.UpdatedAt);
    }
}
