using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;
using Vardbro.Connectors.Local;
using Vardbro.Storage;

namespace Vardbro.Server.Storage;

/// <summary>
/// Everything the server owns, in one context: API clients, the audit trail and the built-in EHR's
/// tables. Each provider has its own subclass so that each has its own migration set.
/// </summary>
public abstract class VardbroDb(DbContextOptions options) : StoreDb(options)
{
    public DbSet<ClientRow> Clients => Set<ClientRow>();

    public DbSet<AuditEventRow> AuditEvents => Set<AuditEventRow>();

    public DbSet<IdempotencyRow> IdempotencyRecords => Set<IdempotencyRow>();

    public DbSet<NotificationRow> Notifications => Set<NotificationRow>();

    public DbSet<WebhookRow> Webhooks => Set<WebhookRow>();

    public DbSet<WebhookDeliveryRow> WebhookDeliveries => Set<WebhookDeliveryRow>();

    public DbSet<WebhookFeedPositionRow> WebhookFeedPositions => Set<WebhookFeedPositionRow>();

    public DbSet<ChangePollRow> ChangePolls => Set<ChangePollRow>();

    public DbSet<ChangePollSeenRow> ChangePollSeen => Set<ChangePollSeenRow>();

    /// <summary>A byte-wise collation for range-searched text columns; null where it is the default.</summary>
    protected abstract string? BinaryCollation { get; }

    /// <summary>SQL for the writing transaction's id where writers run concurrently; null where they are serial.</summary>
    protected virtual string? TransactionIdSql => null;

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        LocalEhrModel.Configure(modelBuilder, BinaryCollation, TransactionIdSql);

        modelBuilder.Entity<ClientRow>(e =>
        {
            e.ToTable("clients");
            e.HasKey(x => x.Id);
            e.Property(x => x.Id).HasMaxLength(64);
            e.Property(x => x.Name).HasMaxLength(256);
            e.Property(x => x.SecretHash).HasMaxLength(256);
            e.Property(x => x.SecretStamp).HasMaxLength(64);
            e.Property(x => x.GrantsJson).HasMaxLength(64_000);
        });

        modelBuilder.Entity<AuditEventRow>(e =>
        {
            e.ToTable("audit_events");
            e.HasKey(x => x.Id);
            e.HasIndex(x => x.Seq).IsUnique();
            e.HasIndex(x => x.At);
            e.HasIndex(x => x.ClientId);
            e.Property(x => x.ClientId).HasMaxLength(64);
            e.Property(x => x.ActorId).HasMaxLength(256);
            e.Property(x => x.Action).HasMaxLength(64);
            e.Property(x => x.Emr).HasMaxLength(64);
            e.Property(x => x.CareUnitId).HasMaxLength(128);
            e.Property(x => x.ResourceType).HasMaxLength(64);
            e.Property(x => x.ResourceId).HasMaxLength(256);
            e.Property(x => x.RequestId).HasMaxLength(64);
            e.Property(x => x.Hash).HasMaxLength(64);
        });

        modelBuilder.Entity<IdempotencyRow>(e =>
        {
            e.ToTable("idempotency_records");
            e.HasKey(x => new { x.ClientId, x.Key });
            e.Property(x => x.ClientId).HasMaxLength(64);
            e.Property(x => x.Key).HasMaxLength(255);
            e.Property(x => x.RequestHash).HasMaxLength(64);
            e.Property(x => x.ContentType).HasMaxLength(128);
            e.Property(x => x.Location).HasMaxLength(2048);
            e.HasIndex(x => x.CreatedAt);
        });

        modelBuilder.Entity<NotificationRow>(e =>
        {
            e.ToTable("notifications");
            e.HasKey(x => x.Id);
            e.Property(x => x.Channel).HasMaxLength(16);
            e.Property(x => x.Recipient).HasMaxLength(64);
            e.Property(x => x.Body).HasMaxLength(1000);
            e.Property(x => x.Emr).HasMaxLength(64);
            e.Property(x => x.AppointmentId).HasMaxLength(128);
            e.Property(x => x.Status).HasMaxLength(16);
            e.HasIndex(x => new { x.Status, x.NextAttemptAt });
        });

        modelBuilder.Entity<WebhookRow>(e =>
        {
            e.ToTable("webhooks");
            e.HasKey(x => x.Id);
            e.Property(x => x.Id).HasMaxLength(64);
            e.Property(x => x.ClientId).HasMaxLength(64);
            e.Property(x => x.Url).HasMaxLength(2048);
            e.Property(x => x.EventsJson).HasMaxLength(1024);
            e.Property(x => x.Emr).HasMaxLength(64);
            e.Property(x => x.CareUnitsJson).HasMaxLength(64_000);
            e.Property(x => x.Secret).HasMaxLength(128);
            e.Property(x => x.DisabledReason).HasMaxLength(256);
            e.HasIndex(x => x.ClientId);
            e.HasIndex(x => new { x.Emr, x.Enabled });
        });

        modelBuilder.Entity<WebhookDeliveryRow>(e =>
        {
            e.ToTable("webhook_deliveries");
            e.HasKey(x => x.Key);
            e.Property(x => x.WebhookId).HasMaxLength(64);
            e.Property(x => x.MessageId).HasMaxLength(64);
            e.Property(x => x.Type).HasMaxLength(32);
            e.Property(x => x.SubjectKey).HasMaxLength(256);
            e.Property(x => x.Status).HasMaxLength(16);
            e.Property(x => x.LastError).HasMaxLength(256);
            e.HasOne<WebhookRow>().WithMany().HasForeignKey(x => x.WebhookId).OnDelete(DeleteBehavior.Cascade);
            e.HasIndex(x => new { x.Status, x.NextAttemptAt });
            e.HasIndex(x => new { x.WebhookId, x.SubjectKey, x.Key });
            e.HasIndex(x => new { x.WebhookId, x.Key });
        });

        modelBuilder.Entity<WebhookFeedPositionRow>(e =>
        {
            e.ToTable("webhook_feed_positions");
            e.HasKey(x => x.Emr);
            e.Property(x => x.Emr).HasMaxLength(64);
        });

        modelBuilder.Entity<ChangePollRow>(e =>
        {
            e.ToTable("change_polls");
            e.HasKey(x => x.Emr);
            e.Property(x => x.Emr).HasMaxLength(64);
            e.Property(x => x.Holder).HasMaxLength(64);
        });

        modelBuilder.Entity<ChangePollSeenRow>(e =>
        {
            e.ToTable("change_poll_seen");
            e.HasKey(x => new { x.Emr, x.SubjectType, x.SubjectId });
            e.Property(x => x.Emr).HasMaxLength(64);
            e.Property(x => x.SubjectType).HasMaxLength(32);
            e.Property(x => x.SubjectId).HasMaxLength(128);
            e.Property(x => x.Status).HasMaxLength(32);
            e.Property(x => x.Fingerprint).HasMaxLength(32);
            e.HasIndex(x => x.UpdatedAt);
        });

        modelBuilder.Entity<AuditSealRow>(e =>
        {
            e.ToTable("audit_seal");
            e.HasKey(x => x.Id);
            e.Property(x => x.Id).ValueGeneratedNever();
            e.Property(x => x.LastHash).HasMaxLength(64);
        });
    }
}

public sealed class SqliteVardbroDb(DbContextOptions<SqliteVardbroDb> options) : VardbroDb(options)
{
    public override StorageProvider Provider => StorageProvider.Sqlite;

    protected override string? BinaryCollation => null;

    protected override void ConfigureConventions(ModelConfigurationBuilder configurationBuilder)
    {
        ArgumentNullException.ThrowIfNull(configurationBuilder);

        // SQLite has no instant type; a UTC DateTimeOffset stored as its binary form orders and compares correctly.
        configurationBuilder.Properties<DateTimeOffset>().HaveConversion<DateTimeOffsetToBinaryConverter>();
    }
}

public sealed class PostgresVardbroDb(DbContextOptions<PostgresVardbroDb> options) : VardbroDb(options)
{
    public override StorageProvider Provider => StorageProvider.Postgres;

    protected override string? BinaryCollation => "C";

    protected override string? TransactionIdSql => ChangeFeedOrder.PostgresTransactionId;
}
