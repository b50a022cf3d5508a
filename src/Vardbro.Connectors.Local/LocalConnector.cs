using Microsoft.EntityFrameworkCore;
using Vardbro.Storage;

namespace Vardbro.Connectors.Local;

/// <summary>
/// The built-in EHR: one instance per request and EMR code, over the server's database. Split by
/// concern into partial files: master data, patients, schedules, timeslots, appointments, clinical
/// records. Its hot reads go through one <see cref="ILocalReads"/>, chosen when it is made.
/// </summary>
public sealed partial class LocalConnector(
    StoreDb db, string emr, TimeProvider time, IBlobStore? blobs = null, LocalMasterDataCache? cache = null, INotificationOutbox? outbox = null)
    : ICareUnitDirectory, IPatientDirectory, IPatientUpdates, IMasterDataAdmin, IHealthProbe, IScheduling, IAppointmentBooking, IAppointmentLocator, IConfirmedBooking, ISelfHostedEhr
{
    private readonly ILocalReads reads = LocalReads.For(db, emr);

    /// <summary>Which read path this instance runs ("ef" or "prepared"), for the tests that pin it.</summary>
    internal string ReadPath => reads.Name;

    /// <summary>
    /// Now, to the millisecond: what both providers store exactly, so that a record reads back equal
    /// to the answer that created it.
    /// </summary>
    private DateTimeOffset Now()
    {
        var now = time.GetUtcNow();
        return new DateTimeOffset(now.UtcTicks - (now.UtcTicks % TimeSpan.TicksPerMillisecond), TimeSpan.Zero);
    }

    /// <summary>A new record id: the prefix naming its kind and 64 random bits in hex.</summary>
    private static string NewId(string prefix) => prefix + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(8));

    public async Task<bool> IsReachableAsync(CancellationToken cancellationToken) =>
        await db.Database.CanConnectAsync(cancellationToken);

    /// <summary>Adds <paramref name="row"/>, saves, and forgets what the context tracked.</summary>
    private async Task AddAsync(object row, CancellationToken cancellationToken)
    {
        db.Add(row);
        await SaveAsync(cancellationToken);
    }

    private async Task SaveAsync(CancellationToken cancellationToken)
    {
        await db.SaveChangesAsync(cancellationToken);
        db.ChangeTracker.Clear();
    }

    private static VardbroException Absent(string what, string path) =>
        new(ErrorCodes.NotFound, $"No {what} with that id in this EMR.", path);
}
