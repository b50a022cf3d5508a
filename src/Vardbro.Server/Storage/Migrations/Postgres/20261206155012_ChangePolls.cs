using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Vardbro.Server.Storage.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class ChangePolls : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "RecordedAt",
                table: "local_events",
                type: "timestamp with time zone",
                nullable: false,
                defaultValue: new DateTimeOffset(new DateTime(1, 1, 1, 0, 0, 0, 0, DateTimeKind.Unspecified), new TimeSpan(0, 0, 0, 0, 0)));

            // Events written before this column: recorded when they occurred (the built-in EHR records at once).
            migrationBuilder.Sql("""UPDATE local_events SET "RecordedAt" = "OccurredAt";""");

            migrationBuilder.CreateTable(
                name: "change_poll_seen",
                columns: table => new
                {
                    Emr = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    SubjectType = table.Column<string>(type: "character varying(32)", maxLength: 32, nullable: false),
                    SubjectId = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false),
                    UpdatedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    Status = table.Column<string>(type: "character varying(32)", maxLength: 32, nullable: false),
                    Fingerprint = table.Column<string>(type: "character varying(32)", maxLength: 32, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_change_poll_seen", x => new { x.Emr, x.SubjectType, x.SubjectId });
                });

            migrationBuilder.CreateTable(
                name: "change_polls",
                columns: table => new
                {
                    Emr = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    Holder = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: true),
                    LeaseUntil = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    PollingSince = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    Watermark = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_change_polls", x => x.Emr);
                });

            migrationBuilder.CreateIndex(
                name: "IX_change_poll_seen_UpdatedAt",
                table: "change_poll_seen",
                column: "UpdatedAt");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "change_poll_seen");

            migrationBuilder.DropTable(
                name: "change_polls");

            migrationBuilder.DropColumn(
                name: "RecordedAt",
                table: "local_events");
        }
    }
}
