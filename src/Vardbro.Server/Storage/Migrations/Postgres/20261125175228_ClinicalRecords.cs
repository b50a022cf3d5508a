using System;
using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql.EntityFrameworkCore.PostgreSQL.Metadata;

#nullable disable

namespace Vardbro.Server.Storage.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class ClinicalRecords : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "local_blobs",
                columns: table => new
                {
                    Sha256 = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    Bytes = table.Column<byte[]>(type: "bytea", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_local_blobs", x => x.Sha256);
                });

            migrationBuilder.CreateTable(
                name: "local_documents",
                columns: table => new
                {
                    Key = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    Emr = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    Id = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: true),
                    CareUnitId = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false),
                    PatientEmrId = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false),
                    Title = table.Column<string>(type: "character varying(256)", maxLength: 256, nullable: false),
                    Type = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false),
                    Format = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    SizeBytes = table.Column<long>(type: "bigint", nullable: false),
                    Sha256 = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    CreatedById = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false),
                    CreatedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_local_documents", x => x.Key);
                });

            migrationBuilder.CreateTable(
                name: "local_medical_notes",
                columns: table => new
                {
                    Key = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    Emr = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    Id = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: true),
                    CareUnitId = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false),
                    PatientEmrId = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false),
                    TemplateId = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    Title = table.Column<string>(type: "character varying(256)", maxLength: 256, nullable: false),
                    ContentJson = table.Column<string>(type: "text", nullable: false),
                    CreatedById = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false),
                    CreatedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    SignedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_local_medical_notes", x => x.Key);
                });

            migrationBuilder.CreateIndex(
                name: "IX_local_documents_Emr_CareUnitId_PatientEmrId_Key",
                table: "local_documents",
                columns: new[] { "Emr", "CareUnitId", "PatientEmrId", "Key" });

            migrationBuilder.CreateIndex(
                name: "IX_local_documents_Emr_Id",
                table: "local_documents",
                columns: new[] { "Emr", "Id" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_local_documents_Sha256",
                table: "local_documents",
                column: "Sha256");

            migrationBuilder.CreateIndex(
                name: "IX_local_medical_notes_Emr_CareUnitId_PatientEmrId_Key",
                table: "local_medical_notes",
                columns: new[] { "Emr", "CareUnitId", "PatientEmrId", "Key" });

            migrationBuilder.CreateIndex(
                name: "IX_local_medical_notes_Emr_Id",
                table: "local_medical_notes",
                columns: new[] { "Emr", "Id" },
                unique: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "local_blobs");

            migrationBuilder.DropTable(
                name: "local_documents");

            migrationBuilder.DropTable(
                name: "local_medical_notes");
        }
    }
}
