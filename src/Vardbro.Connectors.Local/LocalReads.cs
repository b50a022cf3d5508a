using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Vardbro.Storage;

// string.Compare(a, b) below sits in expression trees that EF Core translates to SQL comparisons on
// binary-collated columns; it never runs as a culture-sensitive .NET comparison.
#pragma warning disable CA1309

namespace Vardbro.Connectors.Local;

/// <summary>A stretch of time an appointment holds on a resource.</summary>
internal readonly record struct BusyTime(string ResourceId, DateTimeOffset StartUtc, DateTimeOffset EndUtc);

/// <summary>Where a patient search page resumes: after this (folded last name, folded first name, EHR id).</summary>
internal sealed record PatientKey(string Last, string First, string EmrId);

/// <summary>
/// The built-in EHR's hot reads: what nearly every request runs. Two implementations with the same
/// method names, chosen once when the connector is made (<see cref="LocalReads.For"/>):
/// <see cref="EfLocalReads"/>, EF Core LINQ, the reference; and <see cref="PreparedLocalReads"/>, the
/// same reads as statements kept per connection, the path on PostgreSQL and on SQLite's open
/// connections (ADR 5). The connector contract tests run on both.
/// </summary>
internal interface ILocalReads
{
    /// <summary>"ef" or "prepared", for tests that must know which path they exercise.</summary>
    string Name { get; }

    /// <summary>The patient with that id, contacts loaded; null also for an id type patients do not have.</summary>
    Task<PatientRow?> FindPatientAsync(TypedId id, CancellationToken cancellationToken);

    /// <summary>Up to <paramref name="take"/> matches after <paramref name="after"/>, in page order, contacts loaded.</summary>
    Task<List<PatientRow>> SearchPatientsAsync(PatientQuery query, int take, PatientKey? after, CancellationToken cancellationToken);

    Task<List<ScheduleRow>> SchedulesOfResourceAsync(string careUnitId, string resourceId, CancellationToken cancellationToken);

    /// <summary>What appointments holding their slot at <paramref name="now"/> occupy of one resource in [from, until).</summary>
    Task<List<BusyTime>> BusyTimesOfResourceAsync(string careUnitId, string resourceId, DateTimeOffset now, DateTimeOffset from, DateTimeOffset until, CancellationToken cancellationToken);

    /// <summary>Whether an appointment holding its slot (other than <paramref name="ignoring"/>) overlaps [start, end) on the resource.</summary>
    Task<bool> AnyOverlapAsync(string resourceId, DateTimeOffset now, DateTimeOffset start, DateTimeOffset end, string? ignoring, CancellationToken cancellationToken);
}

internal static class LocalReads
{
    /// <summary>The prepared path where the context can serve it (PostgreSQL; SQLite with its connection kept open), else EF Core.</summary>
    public static ILocalReads For(StoreDb db, string emr) =>
        db.CanPrepare ? new PreparedLocalReads(db, emr) : new EfLocalReads(db, emr);

    /// <summary>The patient column an id type is stored in; null for types patients do not have.</summary>
    public static string? PatientColumn(IdType type) => type switch
    {
        IdType.EmrId => nameof(PatientRow.EmrId),
        IdType.SePersonalNumber => nameof(PatientRow.SePersonalNumber),
        IdType.NoPersonalNumber => nameof(PatientRow.NoPersonalNumber),
        IdType.NhsNumber => nameof(PatientRow.NhsNumber),
        _ => null,
    };

    /// <summary>The patients with that id, as LINQ; null for an id type patients do not have.</summary>
    public static IQueryable<PatientRow>? ByTypedId(IQueryable<PatientRow> rows, TypedId id) => id.Type switch
    {
        IdType.EmrId => rows.Where(x => x.EmrId == id.Value),
        IdType.SePersonalNumber => rows.Where(x => x.SePersonalNumber == id.Value),
        IdType.NoPersonalNumber => rows.Where(x => x.NoPersonalNumber == id.Value),
        IdType.NhsNumber => rows.Where(x => x.NhsNumber == id.Value),
        _ => null,
    };
}

/// <summary>The hot reads as EF Core LINQ: the reference behaviour, and the path on a SQLite connection not kept open.</summary>
internal sealed class EfLocalReads(StoreDb db, string emr) : ILocalReads
{
    public string Name => "ef";

    private IQueryable<PatientRow> Patients => db.Set<PatientRow>().AsNoTracking().Where(x => x.Emr == emr);

    public async Task<PatientRow?> FindPatientAsync(TypedId id, CancellationToken cancellationToken) =>
        LocalReads.ByTypedId(Patients, id) is { } rows
            ? await rows.Include(x => x.Contacts).FirstOrDefaultAsync(cancellationToken)
            : null;

    public async Task<List<PatientRow>> SearchPatientsAsync(PatientQuery query, int take, PatientKey? after, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        var rows = Patients;
        if (TextFolding.Fold(query.LastName ?? "") is { Length: > 0 } last)
        {
            var upper = TextFolding.UpperBound(last);
            rows = rows.Where(x => string.Compare(x.FoldedLastName, last) >= 0);
            rows = upper is null ? rows : rows.Where(x => string.Compare(x.FoldedLastName, upper) < 0);
        }

        if (TextFolding.Fold(query.FirstName ?? "") is { Length: > 0 } first)
        {
            var upper = TextFolding.UpperBound(first);
            rows = rows.Where(x => string.Compare(x.FoldedFirstName, first) >= 0);
            rows = upper is null ? rows : rows.Where(x => string.Compare(x.FoldedFirstName, upper) < 0);
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

        if (after is var (l, f, id))
        {
            rows = rows.Where(x =>
                string.Compare(x.FoldedLastName, l) > 0
                || (x.FoldedLastName == l && string.Compare(x.FoldedFirstName, f) > 0)
                || (x.FoldedLastName == l && x.FoldedFirstName == f && string.Compare(x.EmrId, id) > 0));
        }

        var page = await rows
            .OrderBy(x => x.FoldedLastName).ThenBy(x => x.FoldedFirstName).ThenBy(x => x.EmrId)
            .Take(take)
            .ToListAsync(cancellationToken);
        await LoadContactsAsync(page, cancellationToken);
        return page;
    }

    private async Task LoadContactsAsync(List<PatientRow> rows, CancellationToken cancellationToken)
    {
        if (rows.Count == 0)
        {
            return;
        }

        var keys = rows.ConvertAll(x => x.Key);
        var contacts = await db.Set<PatientContactRow>().AsNoTracking().Where(c => keys.Contains(c.PatientKey)).ToListAsync(cancellationToken);
        var byPatient = contacts.ToLookup(c => c.PatientKey);
        foreach (var row in rows)
        {
            row.Contacts = [.. byPatient[row.Key]];
        }
    }

    public Task<List<ScheduleRow>> SchedulesOfResourceAsync(string careUnitId, string resourceId, CancellationToken cancellationToken) =>
        db.Set<ScheduleRow>().AsNoTracking()
            .Where(x => x.Emr == emr && x.CareUnitId == careUnitId && x.ResourceId == resourceId)
            .ToListAsync(cancellationToken);

    public Task<List<BusyTime>> BusyTimesOfResourceAsync(string careUnitId, string resourceId, DateTimeOffset now, DateTimeOffset from, DateTimeOffset until, CancellationToken cancellationToken)
    {
        var startsAfter = from - AppointmentRules.LongestAppointment;
        return db.Set<AppointmentRow>().AsNoTracking()
            .Where(a => a.Emr == emr && a.CareUnitId == careUnitId && a.ResourceId == resourceId && a.StartUtc < until && a.EndUtc > from && a.StartUtc > startsAfter)
            .Where(AppointmentRules.HoldsSlot(now))
            .Select(a => new BusyTime(a.ResourceId, a.StartUtc, a.EndUtc))
            .ToListAsync(cancellationToken);
    }

    public Task<bool> AnyOverlapAsync(string resourceId, DateTimeOffset now, DateTimeOffset start, DateTimeOffset end, string? ignoring, CancellationToken cancellationToken)
    {
        var startsAfter = start - AppointmentRules.LongestAppointment;
        var rows = db.Set<AppointmentRow>().AsNoTracking()
            .Where(a => a.Emr == emr && a.ResourceId == resourceId && a.StartUtc < end && a.EndUtc > start && a.StartUtc > startsAfter)
            .Where(AppointmentRules.HoldsSlot(now));
        if (ignoring is not null)
        {
            rows = rows.Where(a => a.Id != ignoring);
        }

        return rows.AnyAsync(cancellationToken);
    }
}

/// <summary>
/// <see cref="EfLocalReads"/> as statements kept per connection (<see cref="PreparedStatements"/>):
/// the same conditions and order, without EF Core's query translation and materialisation on every
/// request, which cost more than the reads themselves. The SQL is the same on both providers but
/// where noted; each read opens the connection it needs (<see cref="PreparedStatements.OpenAsync"/>).
/// </summary>
internal sealed class PreparedLocalReads(StoreDb db, string emr) : ILocalReads
{
    public string Name => "prepared";

    /// <summary>The patient columns a prepared read selects, with their readers.</summary>
    internal static readonly ColumnList<PatientRow> PatientColumns = new(
        (nameof(PatientRow.Key), (x, c) => x.Key = c.Int64()),
        (nameof(PatientRow.EmrId), (x, c) => x.EmrId = c.String()),
        (nameof(PatientRow.CareUnitId), (x, c) => x.CareUnitId = c.String()),
        (nameof(PatientRow.FirstName), (x, c) => x.FirstName = c.String()),
        (nameof(PatientRow.LastName), (x, c) => x.LastName = c.String()),
        (nameof(PatientRow.FoldedFirstName), (x, c) => x.FoldedFirstName = c.String()),
        (nameof(PatientRow.FoldedLastName), (x, c) => x.FoldedLastName = c.String()),
        (nameof(PatientRow.BirthDate), (x, c) => x.BirthDate = c.Date()),
        (nameof(PatientRow.Gender), (x, c) => x.Gender = c.Text()),
        (nameof(PatientRow.SePersonalNumber), (x, c) => x.SePersonalNumber = c.Text()),
        (nameof(PatientRow.NoPersonalNumber), (x, c) => x.NoPersonalNumber = c.Text()),
        (nameof(PatientRow.NhsNumber), (x, c) => x.NhsNumber = c.Text()),
        (nameof(PatientRow.ExternalId), (x, c) => x.ExternalId = c.Text()),
        (nameof(PatientRow.Street), (x, c) => x.Street = c.Text()),
        (nameof(PatientRow.PostalCode), (x, c) => x.PostalCode = c.Text()),
        (nameof(PatientRow.City), (x, c) => x.City = c.Text()),
        (nameof(PatientRow.Country), (x, c) => x.Country = c.Text()),
        (nameof(PatientRow.CreatedAt), (x, c) => x.CreatedAt = c.Instant()),
        (nameof(PatientRow.UpdatedAt), (x, c) => x.UpdatedAt = c.Instant()));

    internal static readonly ColumnList<PatientContactRow> ContactColumns = new(
        (nameof(PatientContactRow.PatientKey), (x, c) => x.PatientKey = c.Int64()),
        (nameof(PatientContactRow.Kind), (x, c) => x.Kind = c.String()),
        (nameof(PatientContactRow.Value), (x, c) => x.Value = c.String()),
        (nameof(PatientContactRow.Position), (x, c) => x.Position = c.Int32()));

    internal static readonly ColumnList<ScheduleRow> ScheduleColumns = new(
        (nameof(ScheduleRow.Key), (x, c) => x.Key = c.Int64()),
        (nameof(ScheduleRow.Id), (x, c) => x.Id = c.String()),
        (nameof(ScheduleRow.StartUtc), (x, c) => x.StartUtc = c.InstantOrNull()),
        (nameof(ScheduleRow.EndUtc), (x, c) => x.EndUtc = c.InstantOrNull()),
        (nameof(ScheduleRow.Weekdays), (x, c) => x.Weekdays = c.Int32()),
        (nameof(ScheduleRow.StartMinute), (x, c) => x.StartMinute = c.Int32()),
        (nameof(ScheduleRow.EndMinute), (x, c) => x.EndMinute = c.Int32()),
        (nameof(ScheduleRow.FromDate), (x, c) => x.FromDate = c.Date()),
        (nameof(ScheduleRow.UntilDate), (x, c) => x.UntilDate = c.Date()),
        (nameof(ScheduleRow.ServiceIds), (x, c) => x.ServiceIds = c.String()));

    private PatientRow NewPatient() => new() { Emr = emr, EmrId = "", CareUnitId = "", FirstName = "", LastName = "", FoldedFirstName = "", FoldedLastName = "" };

    public async Task<PatientRow?> FindPatientAsync(TypedId id, CancellationToken cancellationToken)
    {
        if (LocalReads.PatientColumn(id.Type) is not { } column)
        {
            return null;
        }

        await using var open = await PreparedStatements.OpenAsync(db, cancellationToken);
        var patient = $"""SELECT {PatientColumns.Sql} FROM "local_patients" WHERE "Emr" = @p0 AND "{column}" = @p1 LIMIT 1""";
        if (db.IsPostgres)
        {
            return (await WithContactsAsync(patient, [emr, id.Value], cancellationToken)).FirstOrDefault();
        }

        // On SQLite a statement is a function call: the contacts are read by the key the first one found.
        PatientRow row;
        await using (var reader = await PreparedStatements.For(db, patient, emr, id.Value).ExecuteReaderAsync(cancellationToken))
        {
            if (!await reader.ReadAsync(cancellationToken))
            {
                return null;
            }

            row = PatientColumns.Read(reader, db, NewPatient());
        }

        await using var contacts = await PreparedStatements.For(db, $"""
            SELECT {ContactColumns.Sql} FROM "local_patient_contacts" WHERE "PatientKey" = @p0 ORDER BY "Position", "Key"
            """, row.Key).ExecuteReaderAsync(cancellationToken);
        await ReadContactsAsync(contacts, row.Contacts, cancellationToken);
        return row;
    }

    /// <summary>
    /// PostgreSQL: the patients <paramref name="patients"/> selects and their contacts in one
    /// statement, in page order: each patient's columns on every row, a contact's beside them (none:
    /// one row of nulls).
    /// </summary>
    private async Task<List<PatientRow>> WithContactsAsync(string patients, object?[] values, CancellationToken cancellationToken)
    {
        var page = new List<PatientRow>();
        await using var joined = await PreparedStatements.For(db, $"""
            WITH page AS ({patients})
            SELECT page.*, c."PatientKey", c."Kind", c."Value", c."Position" FROM page
            LEFT JOIN "local_patient_contacts" AS c ON c."PatientKey" = page."Key"
            ORDER BY page."FoldedLastName", page."FoldedFirstName", page."EmrId", c."Position", c."Key"
            """, values).ExecuteReaderAsync(cancellationToken);
        while (await joined.ReadAsync(cancellationToken))
        {
            if (page.Count == 0 || page[^1].Key != joined.GetInt64(PatientKeyColumn))
            {
                page.Add(PatientColumns.Read(joined, db, NewPatient()));
            }

            if (!await joined.IsDBNullAsync(PatientColumns.Count, cancellationToken))
            {
                page[^1].Contacts.Add(ContactColumns.Read(joined, db, NewContact(), PatientColumns.Count));
            }
        }

        return page;
    }

    private static readonly int PatientKeyColumn = PatientColumns.Ordinal(nameof(PatientRow.Key));

    private static PatientContactRow NewContact() => new() { Kind = "", Value = "", Normalized = "" };

    private async Task ReadContactsAsync(System.Data.Common.DbDataReader reader, List<PatientContactRow> into, CancellationToken cancellationToken)
    {
        while (await reader.ReadAsync(cancellationToken))
        {
            into.Add(ContactColumns.Read(reader, db, NewContact()));
        }
    }

    public async Task<List<PatientRow>> SearchPatientsAsync(PatientQuery query, int take, PatientKey? after, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        var sql = new StringBuilder($"""SELECT {PatientColumns.Sql} FROM "local_patients" WHERE "Emr" = @p0""");
        var values = new List<object?> { emr };
        string Next(object? value)
        {
            values.Add(value);
            return "@p" + (values.Count - 1).ToString(CultureInfo.InvariantCulture);
        }

        void Prefix(string column, string? text)
        {
            if (TextFolding.Fold(text ?? "") is not { Length: > 0 } prefix)
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
            sql.Append(CultureInfo.InvariantCulture, $""" AND "BirthDate" = {Next(PreparedStatements.Store(db, typeof(PatientRow), nameof(PatientRow.BirthDate), birthDate))}""");
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

        if (after is var (l, f, id))
        {
            var (pl, pf, pid) = (Next(l), Next(f), Next(id));
            sql.Append(CultureInfo.InvariantCulture, $"""
                 AND ("FoldedLastName" > {pl} OR ("FoldedLastName" = {pl} AND "FoldedFirstName" > {pf})
                      OR ("FoldedLastName" = {pl} AND "FoldedFirstName" = {pf} AND "EmrId" > {pid}))
                """);
        }

        sql.Append(CultureInfo.InvariantCulture, $""" ORDER BY "FoldedLastName", "FoldedFirstName", "EmrId" LIMIT {Next(take)}""");
        await using var open = await PreparedStatements.OpenAsync(db, cancellationToken);
        if (db.IsPostgres)
        {
            return await WithContactsAsync(sql.ToString(), [.. values], cancellationToken);
        }

        var page = new List<PatientRow>(take);

        await using (var reader = await PreparedStatements.For(db, sql.ToString(), [.. values]).ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                page.Add(PatientColumns.Read(reader, db, NewPatient()));
            }
        }

        await LoadContactsAsync(page, cancellationToken);
        return page;
    }

    private async Task LoadContactsAsync(List<PatientRow> rows, CancellationToken cancellationToken)
    {
        if (rows.Count == 0)
        {
            return;
        }

        // One statement for any page size (EF Core writes one parameter per key, so a new SQL text per count).
        var found = new List<PatientContactRow>();
        await using (var reader = await PreparedStatements.For(db, $"""
            SELECT {ContactColumns.Sql} FROM "local_patient_contacts"
            WHERE "PatientKey" IN (SELECT value FROM json_each(@p0))
            """, JsonSerializer.Serialize(rows.ConvertAll(x => x.Key))).ExecuteReaderAsync(cancellationToken))
        {
            await ReadContactsAsync(reader, found, cancellationToken);
        }

        var byKey = found.ToLookup(c => c.PatientKey);
        foreach (var row in rows)
        {
            row.Contacts = [.. byKey[row.Key]];
        }
    }

    public async Task<List<ScheduleRow>> SchedulesOfResourceAsync(string careUnitId, string resourceId, CancellationToken cancellationToken)
    {
        await using var open = await PreparedStatements.OpenAsync(db, cancellationToken);
        var command = PreparedStatements.For(db, $"""
            SELECT {ScheduleColumns.Sql} FROM "local_schedules" WHERE "Emr" = @p0 AND "CareUnitId" = @p1 AND "ResourceId" = @p2
            """, emr, careUnitId, resourceId);
        var rows = new List<ScheduleRow>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(ScheduleColumns.Read(reader, db, new ScheduleRow { Emr = emr, Id = "", CareUnitId = careUnitId, ResourceId = resourceId }));
        }

        return rows;
    }

    public async Task<List<BusyTime>> BusyTimesOfResourceAsync(string careUnitId, string resourceId, DateTimeOffset now, DateTimeOffset from, DateTimeOffset until, CancellationToken cancellationToken)
    {
        await using var open = await PreparedStatements.OpenAsync(db, cancellationToken);
        var command = PreparedStatements.For(db, $"""
            SELECT "StartUtc", "EndUtc" FROM "local_appointments"
            WHERE "Emr" = @p0 AND "CareUnitId" = @p1 AND "ResourceId" = @p2 AND "StartUtc" < @p3 AND "EndUtc" > @p4 AND "StartUtc" > @p5
              AND {AppointmentRules.HoldsSlotSql("@p6")}
            """, emr, careUnitId, resourceId, At(until), At(from), At(from - AppointmentRules.LongestAppointment), At(now));
        var rows = new List<BusyTime>();
        var startUtc = PreparedStatements.ConverterOf(db, typeof(AppointmentRow), nameof(AppointmentRow.StartUtc));
        var endUtc = PreparedStatements.ConverterOf(db, typeof(AppointmentRow), nameof(AppointmentRow.EndUtc));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(new BusyTime(resourceId, PreparedStatements.ReadCell<DateTimeOffset>(reader, 0, startUtc), PreparedStatements.ReadCell<DateTimeOffset>(reader, 1, endUtc)));
        }

        return rows;
    }

    public async Task<bool> AnyOverlapAsync(string resourceId, DateTimeOffset now, DateTimeOffset start, DateTimeOffset end, string? ignoring, CancellationToken cancellationToken)
    {
        await using var open = await PreparedStatements.OpenAsync(db, cancellationToken);

        // "IS NOT" compares with NULL as a value on SQLite; PostgreSQL spells it "IS DISTINCT FROM".
        var command = PreparedStatements.For(db, $"""
            SELECT EXISTS (SELECT 1 FROM "local_appointments"
            WHERE "Emr" = @p0 AND "ResourceId" = @p1 AND "StartUtc" < @p2 AND "EndUtc" > @p3 AND "StartUtc" > @p4 AND "Id" {(db.IsPostgres ? "IS DISTINCT FROM" : "IS NOT")} @p5
              AND {AppointmentRules.HoldsSlotSql("@p6")})
            """, emr, resourceId, At(end), At(start), At(start - AppointmentRules.LongestAppointment), ignoring, At(now));
        return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture) != 0;
    }

    // Every instant column of local_appointments has the same conversion; StartUtc stands for them all.
    private object? At(DateTimeOffset value) => PreparedStatements.Store(db, typeof(AppointmentRow), nameof(AppointmentRow.StartUtc), value);
}
