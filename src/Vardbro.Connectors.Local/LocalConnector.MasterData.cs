using Microsoft.EntityFrameworkCore;
using Vardbro.Storage;

namespace Vardbro.Connectors.Local;

/// <summary>Care units, resources and healthcare services: read through the cache, written by the admin API.</summary>
public sealed partial class LocalConnector
{
    private IQueryable<CareUnitRow> CareUnits => db.Set<CareUnitRow>().AsNoTracking().Where(x => x.Emr == emr);
    private IQueryable<ResourceRow> Resources => db.Set<ResourceRow>().AsNoTracking().Where(x => x.Emr == emr);
    private IQueryable<HealthcareServiceRow> Services => db.Set<HealthcareServiceRow>().AsNoTracking().Where(x => x.Emr == emr);

    private string MasterLock => $"master/{emr}";

    // ---- reads -------------------------------------------------------------------------------

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

    /// <summary>The care unit, or a 404 refusal naming <c>care_unit_id</c>.</summary>
    private async Task<CareUnit> RequireCareUnitAsync(string careUnitId, CancellationToken cancellationToken) =>
        await GetCareUnitAsync(careUnitId, cancellationToken) ?? throw Absent("care unit", "care_unit_id");

    private async Task<TimeZoneInfo> ZoneAsync(string careUnitId, CancellationToken cancellationToken) =>
        TimeZones.Find((await RequireCareUnitAsync(careUnitId, cancellationToken)).TimeZone);

    // ---- writes ------------------------------------------------------------------------------

    /// <summary>Runs a change of master data under the EMR's master-data lock; once it is committed, the cache forgets what it held.</summary>
    private async Task<T> ChangingMasterDataAsync<T>(Func<Task<T>> change, CancellationToken cancellationToken)
    {
        try
        {
            return await SerializedWrites.RunAsync(db, MasterLock, change, cancellationToken);
        }
        finally
        {
            cache?.Invalidate();
        }
    }

    public Task<CareUnit> CreateCareUnitAsync(NewCareUnit careUnit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(careUnit);
        return ChangingMasterDataAsync(async () =>
        {
            if (await CareUnits.AnyAsync(x => x.Id == careUnit.Id, cancellationToken))
            {
                throw Exists("care unit");
            }

            var row = new CareUnitRow { Emr = emr, Id = careUnit.Id, Name = careUnit.Name, TimeZone = careUnit.TimeZone, Address = careUnit.Address, RequiresConfirmation = careUnit.RequiresConfirmation };
            await AddAsync(row, cancellationToken);
            return ToRecord(row);
        }, cancellationToken);
    }

    public Task<CareUnit?> UpdateCareUnitAsync(NewCareUnit careUnit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(careUnit);
        return ChangingMasterDataAsync<CareUnit?>(async () =>
        {
            var row = await db.Set<CareUnitRow>().FirstOrDefaultAsync(x => x.Emr == emr && x.Id == careUnit.Id, cancellationToken);
            if (row is null)
            {
                return null;
            }

            row.Name = careUnit.Name;
            row.TimeZone = careUnit.TimeZone;
            row.Address = careUnit.Address;
            row.RequiresConfirmation = careUnit.RequiresConfirmation;
            await SaveAsync(cancellationToken);
            return ToRecord(row);
        }, cancellationToken);
    }

    public Task<bool> DeleteCareUnitAsync(string careUnitId, CancellationToken cancellationToken) =>
        ChangingMasterDataAsync(async () =>
        {
            if (!await CareUnits.AnyAsync(x => x.Id == careUnitId, cancellationToken))
            {
                return false;
            }

            if (await Resources.AnyAsync(x => x.CareUnitId == careUnitId, cancellationToken)
                || await Services.AnyAsync(x => x.CareUnitId == careUnitId, cancellationToken)
                || await db.Set<PatientRow>().AnyAsync(x => x.Emr == emr && x.CareUnitId == careUnitId, cancellationToken))
            {
                throw StillReferenced("care unit", "its resources, healthcare services or patients");
            }

            await db.Set<CareUnitRow>().Where(x => x.Emr == emr && x.Id == careUnitId).ExecuteDeleteAsync(cancellationToken);
            return true;
        }, cancellationToken);

    public Task<Resource> CreateResourceAsync(string careUnitId, NewResource resource, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(resource);
        return CreatePartAsync(
            careUnitId,
            "resource",
            new ResourceRow { Emr = emr, Id = resource.Id, CareUnitId = careUnitId, Name = resource.Name, Title = resource.Title, Kind = resource.Kind, HsaId = resource.HsaId, SePersonalNumber = resource.SePersonalNumber },
            () => RequireUniqueHsaIdAsync(resource, cancellationToken),
            ToRecord,
            cancellationToken);
    }

    public Task<Resource?> UpdateResourceAsync(string careUnitId, NewResource resource, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(resource);
        return UpdatePartAsync<ResourceRow, Resource>(
            careUnitId,
            resource.Id,
            () => RequireUniqueHsaIdAsync(resource, cancellationToken),
            row =>
            {
                row.Name = resource.Name;
                row.Title = resource.Title;
                row.Kind = resource.Kind;
                row.HsaId = resource.HsaId;
                row.SePersonalNumber = resource.SePersonalNumber;
            },
            ToRecord,
            cancellationToken);
    }

    public Task<bool> DeleteResourceAsync(string careUnitId, string resourceId, CancellationToken cancellationToken) =>
        DeletePartAsync<ResourceRow>(careUnitId, resourceId, cancellationToken);

    public Task<HealthcareService> CreateHealthcareServiceAsync(string careUnitId, NewHealthcareService service, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(service);
        return CreatePartAsync(
            careUnitId,
            "healthcare service",
            new HealthcareServiceRow { Emr = emr, Id = service.Id, CareUnitId = careUnitId, Name = service.Name, Description = service.Description, DurationMinutes = service.DurationMinutes },
            () => Task.CompletedTask,
            ToRecord,
            cancellationToken);
    }

    public Task<HealthcareService?> UpdateHealthcareServiceAsync(string careUnitId, NewHealthcareService service, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(service);
        return UpdatePartAsync<HealthcareServiceRow, HealthcareService>(
            careUnitId,
            service.Id,
            () => Task.CompletedTask,
            row =>
            {
                row.Name = service.Name;
                row.Description = service.Description;
                row.DurationMinutes = service.DurationMinutes;
            },
            ToRecord,
            cancellationToken);
    }

    public Task<bool> DeleteHealthcareServiceAsync(string careUnitId, string serviceId, CancellationToken cancellationToken) =>
        DeletePartAsync<HealthcareServiceRow>(careUnitId, serviceId, cancellationToken);

    /// <summary>Adds a resource or service to its care unit; its id must be new in the EMR, whatever the care unit.</summary>
    private Task<TRecord> CreatePartAsync<TRow, TRecord>(
        string careUnitId, string what, TRow row, Func<Task> check, Func<TRow, TRecord> toRecord, CancellationToken cancellationToken)
        where TRow : class, ICareUnitPart =>
        ChangingMasterDataAsync(async () =>
        {
            await RequireCareUnitRowAsync(careUnitId, cancellationToken);
            if (await db.Set<TRow>().AnyAsync(x => x.Emr == emr && x.Id == row.Id, cancellationToken))
            {
                throw Exists(what);
            }

            await check();
            await AddAsync(row, cancellationToken);
            return toRecord(row);
        }, cancellationToken);

    /// <summary>Changes a resource or service of the care unit; null when the care unit has none with that id.</summary>
    private Task<TRecord?> UpdatePartAsync<TRow, TRecord>(
        string careUnitId, string id, Func<Task> check, Action<TRow> change, Func<TRow, TRecord> toRecord, CancellationToken cancellationToken)
        where TRow : class, ICareUnitPart
        where TRecord : class =>
        ChangingMasterDataAsync<TRecord?>(async () =>
        {
            var row = await db.Set<TRow>().FirstOrDefaultAsync(x => x.Emr == emr && x.CareUnitId == careUnitId && x.Id == id, cancellationToken);
            if (row is null)
            {
                return null;
            }

            await check();
            change(row);
            await SaveAsync(cancellationToken);
            return toRecord(row);
        }, cancellationToken);

    private Task<bool> DeletePartAsync<TRow>(string careUnitId, string id, CancellationToken cancellationToken)
        where TRow : class, ICareUnitPart =>
        ChangingMasterDataAsync(async () =>
            await db.Set<TRow>().Where(x => x.Emr == emr && x.CareUnitId == careUnitId && x.Id == id).ExecuteDeleteAsync(cancellationToken) > 0,
            cancellationToken);

    /// <summary>The care unit as stored, bypassing the cache: a write must not rely on what another instance may have deleted.</summary>
    private async Task RequireCareUnitRowAsync(string careUnitId, CancellationToken cancellationToken)
    {
        if (!await CareUnits.AnyAsync(x => x.Id == careUnitId, cancellationToken))
        {
            throw new VardbroException(ErrorCodes.NotFound, "No such care unit.", "care_unit_id");
        }
    }

    private async Task RequireUniqueHsaIdAsync(NewResource resource, CancellationToken cancellationToken)
    {
        if (resource.HsaId is { } hsa && await Resources.AnyAsync(x => x.HsaId == hsa && x.Id != resource.Id, cancellationToken))
        {
            throw new ConflictException(ErrorCodes.BadInput, "Another resource of this EMR has that HSA id.", "hsa_id");
        }
    }

    private static ConflictException Exists(string what) =>
        new(ErrorCodes.BadInput, $"A {what} with that id exists already.", "id");

    private static ConflictException StillReferenced(string what, string by) =>
        new(ErrorCodes.BadInput, $"The {what} is still referenced by {by}; remove those first.", "id");

    private static CareUnit ToRecord(CareUnitRow x) => new(x.Id, x.Name, x.TimeZone, x.Address, x.RequiresConfirmation);

    private static Resource ToRecord(ResourceRow x) => new(x.Id, x.CareUnitId, x.Name, x.Title, x.Kind, x.HsaId, x.SePersonalNumber);

    private static HealthcareService ToRecord(HealthcareServiceRow x) => new(x.Id, x.CareUnitId, x.Name, x.Description, x.DurationMinutes);
}
