using Microsoft.EntityFrameworkCore;
using Vardbro.Storage;

namespace Vardbro.Connectors.Local;

// The built-in EHR's tables. Every row carries its EMR code, so several local EMRs share one database.

/// <summary>Master data that belongs to one care unit of one EMR, kept by id there.</summary>
public interface ICareUnitPart
{
    string Emr { get; }

    string Id { get; }

    string CareUnitId { get; }
}

public sealed class CareUnitRow
{
    public required string Emr { get; set; }
    public required string Id { get; set; }
    public required string Name { get; set; }
    public required string TimeZone { get; set; }
    public string? Address { get; set; }
    public bool RequiresConfirmation { get; set; }
}

public sealed class ResourceRow : ICareUnitPart
{
    public required string Emr { get; set; }
    public required string Id { get; set; }
    public required string CareUnitId { get; set; }
    public required string Name { get; set; }
    public string? Title { get; set; }
    public required string Kind { get; set; }
    public string? HsaId { get; set; }
    public string? SePersonalNumber { get; set; }
}

public sealed class HealthcareServiceRow : ICareUnitPart
{
    public required string Emr { get; set; }
    public required string Id { get; set; }
    public required string CareUnitId { get; set; }
    public required string Name { get; set; }
    public string? Description { get; set; }
    public int DurationMinutes { get; set; }
}

public sealed class PatientRow
{
    public long Key { get; set; }
    public required string Emr { get; set; }
    public required string EmrId { get; set; }
    public required string CareUnitId { get; set; }
    public required string FirstName { get; set; }
    public required string LastName { get; set; }
    public required string FoldedFirstName { get; set; }
    public required string FoldedLastName { get; set; }
    public DateOnly? BirthDate { get; set; }
    public string? Gender { get; set; }
    public string? SePersonalNumber { get; set; }
    public string? NoPersonalNumber { get; set; }
    public string? NhsNumber { get; set; }
    public string? ExternalId { get; set; }
    public string? Street { get; set; }
    public string? PostalCode { get; set; }
    public string? City { get; set; }
    public string? Country { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
    public List<PatientContactRow> Contacts { get; set; } = [];
}

/// <summary>A phone number or e-mail address of a patient, as given and normalised for search.</summary>
public sealed class PatientContactRow
{
    public long Key { get; set; }
    public long PatientKey { get; set; }
    public required string Kind { get; set; }
    public required string Value { get; set; }
    public required string Normalized { get; set; }
    public int Position { get; set; }
}

/// <summary>One working window (<see cref="StartUtc"/>/<see cref="EndUtc"/>) or a weekly rule in local time.</summary>
public sealed class ScheduleRow
{
    public long Key { get; set; }
    public required string Emr { get; set; }
    public required string Id { get; set; }
    public required string CareUnitId { get; set; }
    public required string ResourceId { get; set; }
    public DateTimeOffset? StartUtc { get; set; }
    public DateTimeOffset? EndUtc { get; set; }

    /// <summary>Bit (1 &lt;&lt; DayOfWeek) per weekday; 0 for a single window.</summary>
    public int Weekdays { get; set; }

    public int StartMinute { get; set; }
    public int EndMinute { get; set; }
    public DateOnly? FromDate { get; set; }
    public DateOnly? UntilDate { get; set; }

    /// <summary>Space-separated service ids; empty allows every service.</summary>
    public string ServiceIds { get; set; } = "";
}

public sealed class AppointmentRow
{
    public long Key { get; set; }
    public required string Emr { get; set; }
    public required string Id { get; set; }
    public required string CareUnitId { get; set; }
    public required string ResourceId { get; set; }
    public required string PatientEmrId { get; set; }
    public string? ServiceId { get; set; }
    public DateTimeOffset StartUtc { get; set; }
    public DateTimeOffset EndUtc { get; set; }

    /// <summary>booked, awaiting_confirmation or cancelled; completed is derived from the time.</summary>
    public required string Status { get; set; }

    public string? Comment { get; set; }
    public string? ConfirmationCodeHash { get; set; }
    public DateTimeOffset? ConfirmationExpiresAt { get; set; }
    public int ConfirmationAttempts { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
}

public sealed class MedicalNoteRow
{
    public long Key { get; set; }
    public required string Emr { get; set; }
    public required string Id { get; set; }
    public required string CareUnitId { get; set; }
    public required string PatientEmrId { get; set; }
    public required string TemplateId { get; set; }
    public required string Title { get; set; }

    /// <summary>The template's fields as a JSON object, in the template's order.</summary>
    public required string ContentJson { get; set; }

    public required string CreatedById { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? SignedAt { get; set; }
}

public sealed class DocumentRow
{
    public long Key { get; set; }
    public required string Emr { get; set; }
    public required string Id { get; set; }
    public required string CareUnitId { get; set; }
    public required string PatientEmrId { get; set; }
    public required string Title { get; set; }
    public required string Type { get; set; }
    public required string Format { get; set; }
    public long SizeBytes { get; set; }
    public required string Sha256 { get; set; }
    public required string CreatedById { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
}

/// <summary>
/// One event of the change feed: ids only. <see cref="Key"/> orders the feed and is the event's id
/// (<c>evt_{Key}</c>); <see cref="OccurredAt"/> is when the change was made, and what retention reads.
/// </summary>
public sealed class ChangeEventRow
{
    public long Key { get; set; }
    public required string Emr { get; set; }
    public required string CareUnitId { get; set; }
    public required string Type { get; set; }
    public required string SubjectType { get; set; }
    public required string SubjectId { get; set; }

    /// <summary>The EHR id of the patient a note or document belongs to (their paths name it).</summary>
    public string? SubjectPatientId { get; set; }

    /// <summary>When the change happened, by the EHR's clock (for a polled EHR, its change time, maybe whole seconds).</summary>
    public DateTimeOffset OccurredAt { get; set; }

    /// <summary>When the event entered the feed, by Vardbro's clock: a webhook subscription receives the events recorded from its creation on.</summary>
    public DateTimeOffset RecordedAt { get; set; }

    /// <summary>
    /// The writing transaction's id on PostgreSQL (set by the database), 0 where writers are serial
    /// (SQLite). The feed's order is (<see cref="Tx"/>, <see cref="Key"/>), read only below
    /// <see cref="ChangeFeedOrder.HorizonAsync"/>: see there.
    /// </summary>
    public long Tx { get; set; }
}

/// <summary>
/// The order in which the change feed is read, so that a reader that moves on never skips an event.
/// On PostgreSQL keys come from a sequence at insert time while transactions commit in any order:
/// event 11 can be visible while event 10's transaction is still open. Ordering by the writing
/// transaction's id first, and reading only events of transactions older than every transaction
/// still running (the snapshot's <c>xmin</c>), makes what a reader sees a prefix that only grows:
/// any later commit has a transaction id at or above that horizon. Writers take no lock for it. The
/// cost is latency: a transaction open anywhere in the cluster holds back events committed after it
/// began until it ends. On SQLite writers are serial, so commit order is key order and every
/// committed event can be read at once.
/// </summary>
public static class ChangeFeedOrder
{
    /// <summary>PostgreSQL's id of the current transaction, as stored in <see cref="ChangeEventRow.Tx"/>.</summary>
    public const string PostgresTransactionId = "(pg_current_xact_id()::text::bigint)";

    /// <summary>Events with a <see cref="ChangeEventRow.Tx"/> below this are final: none can appear before them any more.</summary>
    public static async Task<long> HorizonAsync(StoreDb db, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        if (db.Provider != StorageProvider.Postgres)
        {
            return long.MaxValue;
        }

        return await db.Database.SqlQueryRaw<long>("""SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS "Value" """)
            .SingleAsync(cancellationToken);
    }

    /// <summary>
    /// The final events after (<paramref name="tx"/>, <paramref name="key"/>) in feed order, by a seek on
    /// the (…, Tx, Key) indexes rather than a scan from the feed's start: on PostgreSQL <c>Tx &gt;= tx</c>
    /// bounds the index range (the rest of one transaction's events are few); where writers are serial
    /// (SQLite) every Tx is 0 and the key alone is the order.
    /// </summary>
    public static IQueryable<ChangeEventRow> After(StoreDb db, IQueryable<ChangeEventRow> events, long horizon, long tx, long key)
    {
        ArgumentNullException.ThrowIfNull(db);
        var seek = db.Provider == StorageProvider.Postgres
            ? events.Where(e => e.Tx < horizon && e.Tx >= tx && (e.Tx > tx || e.Key > key))
            : events.Where(e => e.Tx == 0 && e.Key > key);
        return seek.OrderBy(e => e.Tx).ThenBy(e => e.Key);
    }
}

/// <summary>Document bytes kept in the database (PostgreSQL), keyed by their SHA-256.</summary>
public sealed class BlobRow
{
    public required string Sha256 { get; set; }
    public required byte[] Bytes { get; set; }
}

public static class LocalEhrModel
{
    public const string Phone = "phone";
    public const string Email = "email";

    /// <param name="binaryCollation">
    /// The provider's name for a byte-wise collation, for columns searched by range
    /// (PostgreSQL's default collation is linguistic; SQLite's is already binary: pass null).
    /// </param>
    /// <param name="transactionIdSql">
    /// The provider's SQL for the writing transaction's id (<see cref="ChangeFeedOrder.PostgresTransactionId"/>),
    /// or null where writers are serial (SQLite).
    /// </param>
    public static void Configure(ModelBuilder model, string? binaryCollation, string? transactionIdSql = null)
    {
        ArgumentNullException.ThrowIfNull(model);

        model.Entity<CareUnitRow>(e =>
        {
            e.ToTable("local_care_units");
            e.HasKey(x => new { x.Emr, x.Id });
            e.Property(x => x.Emr).HasMaxLength(64);
            e.Property(x => x.Id).HasMaxLength(128);
            e.Property(x => x.Name).HasMaxLength(256);
            e.Property(x => x.TimeZone).HasMaxLength(64);
            e.Property(x => x.Address).HasMaxLength(512);
        });

        model.Entity<ResourceRow>(e =>
        {
            e.ToTable("local_resources");
            e.HasKey(x => new { x.Emr, x.Id });
            e.Property(x => x.Emr).HasMaxLength(64);
            e.Property(x => x.Id).HasMaxLength(128);
            e.Property(x => x.CareUnitId).HasMaxLength(128);
            e.Property(x => x.Name).HasMaxLength(256);
            e.Property(x => x.Title).HasMaxLength(256);
            e.Property(x => x.Kind).HasMaxLength(32);
            e.Property(x => x.HsaId).HasMaxLength(31);
            e.Property(x => x.SePersonalNumber).HasMaxLength(12);
            e.HasIndex(x => new { x.Emr, x.CareUnitId });
            e.HasIndex(x => new { x.Emr, x.HsaId }).IsUnique();
            e.HasIndex(x => new { x.Emr, x.SePersonalNumber });
        });

        model.Entity<HealthcareServiceRow>(e =>
        {
            e.ToTable("local_healthcare_services");
            e.HasKey(x => new { x.Emr, x.Id });
            e.Property(x => x.Emr).HasMaxLength(64);
            e.Property(x => x.Id).HasMaxLength(128);
            e.Property(x => x.CareUnitId).HasMaxLength(128);
            e.Property(x => x.Name).HasMaxLength(256);
            e.Property(x => x.Description).HasMaxLength(2000);
            e.HasIndex(x => new { x.Emr, x.CareUnitId });
        });

        model.Entity<PatientRow>(e =>
        {
            e.ToTable("local_patients");
            e.HasKey(x => x.Key);
            e.Property(x => x.Emr).HasMaxLength(64);
            e.Property(x => x.EmrId).HasMaxLength(128);
            e.Property(x => x.CareUnitId).HasMaxLength(128);
            e.Property(x => x.FirstName).HasMaxLength(256);
            e.Property(x => x.LastName).HasMaxLength(256);
            var first = e.Property(x => x.FoldedFirstName).HasMaxLength(256);
            var last = e.Property(x => x.FoldedLastName).HasMaxLength(256);
            var emrId = e.Property(x => x.EmrId);
            if (binaryCollation is not null)
            {
                first.UseCollation(binaryCollation);
                last.UseCollation(binaryCollation);
                emrId.UseCollation(binaryCollation);
            }

            e.Property(x => x.Gender).HasMaxLength(16);
            e.Property(x => x.SePersonalNumber).HasMaxLength(12);
            e.Property(x => x.NoPersonalNumber).HasMaxLength(11);
            e.Property(x => x.NhsNumber).HasMaxLength(10);
            e.Property(x => x.ExternalId).HasMaxLength(64);
            e.Property(x => x.Street).HasMaxLength(256);
            e.Property(x => x.PostalCode).HasMaxLength(32);
            e.Property(x => x.City).HasMaxLength(128);
            e.Property(x => x.Country).HasMaxLength(64);
            e.HasIndex(x => new { x.Emr, x.EmrId }).IsUnique();
            e.HasIndex(x => new { x.Emr, x.SePersonalNumber }).IsUnique();
            e.HasIndex(x => new { x.Emr, x.NoPersonalNumber }).IsUnique();
            e.HasIndex(x => new { x.Emr, x.NhsNumber }).IsUnique();
            e.HasIndex(x => new { x.Emr, x.FoldedLastName, x.FoldedFirstName, x.EmrId });
            e.HasIndex(x => new { x.Emr, x.FoldedFirstName });
            e.HasIndex(x => new { x.Emr, x.BirthDate });
            e.HasMany(x => x.Contacts).WithOne().HasForeignKey(x => x.PatientKey).OnDelete(DeleteBehavior.Cascade);
        });

        model.Entity<ScheduleRow>(e =>
        {
            e.ToTable("local_schedules");
            e.HasKey(x => x.Key);
            e.Property(x => x.Emr).HasMaxLength(64);
            e.Property(x => x.Id).HasMaxLength(128);
            e.Property(x => x.CareUnitId).HasMaxLength(128);
            e.Property(x => x.ResourceId).HasMaxLength(128);
            e.Property(x => x.ServiceIds).HasMaxLength(4000);
            e.HasIndex(x => new { x.Emr, x.Id }).IsUnique();
            e.HasIndex(x => new { x.Emr, x.CareUnitId, x.ResourceId });
        });

        model.Entity<AppointmentRow>(e =>
        {
            e.ToTable("local_appointments");
            e.HasKey(x => x.Key);
            e.Property(x => x.Emr).HasMaxLength(64);
            e.Property(x => x.Id).HasMaxLength(128);
            e.Property(x => x.CareUnitId).HasMaxLength(128);
            e.Property(x => x.ResourceId).HasMaxLength(128);
            e.Property(x => x.PatientEmrId).HasMaxLength(128);
            e.Property(x => x.ServiceId).HasMaxLength(128);
            e.Property(x => x.Status).HasMaxLength(32);
            e.Property(x => x.Comment).HasMaxLength(1000);
            e.Property(x => x.ConfirmationCodeHash).HasMaxLength(128);
            e.HasIndex(x => new { x.Emr, x.Id }).IsUnique();
            e.HasIndex(x => new { x.Emr, x.ResourceId, x.StartUtc });
            e.HasIndex(x => new { x.Emr, x.CareUnitId, x.StartUtc });
            e.HasIndex(x => new { x.Emr, x.CareUnitId, x.UpdatedAt });
            e.HasIndex(x => new { x.Emr, x.PatientEmrId });
        });

        model.Entity<MedicalNoteRow>(e =>
        {
            e.ToTable("local_medical_notes");
            e.HasKey(x => x.Key);
            e.Property(x => x.Emr).HasMaxLength(64);
            e.Property(x => x.Id).HasMaxLength(128);
            e.Property(x => x.CareUnitId).HasMaxLength(128);
            e.Property(x => x.PatientEmrId).HasMaxLength(128);
            e.Property(x => x.TemplateId).HasMaxLength(64);
            e.Property(x => x.Title).HasMaxLength(256);
            e.Property(x => x.CreatedById).HasMaxLength(128);
            e.HasIndex(x => new { x.Emr, x.Id }).IsUnique();
            e.HasIndex(x => new { x.Emr, x.CareUnitId, x.PatientEmrId, x.Key });
        });

        model.Entity<DocumentRow>(e =>
        {
            e.ToTable("local_documents");
            e.HasKey(x => x.Key);
            e.Property(x => x.Emr).HasMaxLength(64);
            e.Property(x => x.Id).HasMaxLength(128);
            e.Property(x => x.CareUnitId).HasMaxLength(128);
            e.Property(x => x.PatientEmrId).HasMaxLength(128);
            e.Property(x => x.Title).HasMaxLength(256);
            e.Property(x => x.Type).HasMaxLength(128);
            e.Property(x => x.Format).HasMaxLength(64);
            e.Property(x => x.Sha256).HasMaxLength(64);
            e.Property(x => x.CreatedById).HasMaxLength(128);
            e.HasIndex(x => new { x.Emr, x.Id }).IsUnique();
            e.HasIndex(x => new { x.Emr, x.CareUnitId, x.PatientEmrId, x.Key });
            e.HasIndex(x => x.Sha256);
        });

        model.Entity<ChangeEventRow>(e =>
        {
            e.ToTable("local_events");
            e.HasKey(x => x.Key);
            e.Property(x => x.Emr).HasMaxLength(64);
            e.Property(x => x.CareUnitId).HasMaxLength(128);
            e.Property(x => x.Type).HasMaxLength(32);
            e.Property(x => x.SubjectType).HasMaxLength(32);
            e.Property(x => x.SubjectId).HasMaxLength(128);
            e.Property(x => x.SubjectPatientId).HasMaxLength(128);
            if (transactionIdSql is not null)
            {
                e.Property(x => x.Tx).HasDefaultValueSql(transactionIdSql);
            }

            e.HasIndex(x => new { x.Emr, x.CareUnitId, x.Tx, x.Key });
            e.HasIndex(x => new { x.Tx, x.Key });
            e.HasIndex(x => x.OccurredAt);
        });

        model.Entity<BlobRow>(e =>
        {
            e.ToTable("local_blobs");
            e.HasKey(x => x.Sha256);
            e.Property(x => x.Sha256).HasMaxLength(64);
        });

        model.Entity<PatientContactRow>(e =>
        {
            e.ToTable("local_patient_contacts");
            e.HasKey(x => x.Key);
            e.Property(x => x.Kind).HasMaxLength(8);
            e.Property(x => x.Value).HasMaxLength(320);
            e.Property(x => x.Normalized).HasMaxLength(320);
            e.HasIndex(x => new { x.Kind, x.Normalized });
            // Covers reading a patient's contacts (by patient, in order): no lookup into the table for each one.
            e.HasIndex(x => new { x.PatientKey, x.Position, x.Kind, x.Value });
        });
    }
}
