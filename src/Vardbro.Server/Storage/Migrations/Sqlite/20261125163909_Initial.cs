using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Vardbro.Server.Storage.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class Initial : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "audit_events",
                columns: table => new
                {
                    Id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    Seq = table.Column<long>(type: "INTEGER", nullable: true),
                    At = table.Column<long>(type: "INTEGER", nullable: false),
                    ClientId = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    ActorId = table.Column<string>(type: "TEXT", maxLength: 256, nullable: true),
                    Action = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    Emr = table.Column<string>(type: "TEXT", maxLength: 64, nullable: true),
                    CareUnitId = table.Column<string>(type: "TEXT", maxLength: 128, nullable: true),
                    ResourceType = table.Column<string>(type: "TEXT", maxLength: 64, nullable: true),
                    ResourceId = table.Column<string>(type: "TEXT", maxLength: 256, nullable: true),
                    PatientIds = table.Column<string>(type: "TEXT", nullable: false),
                    OutcomeStatus = table.Column<int>(type: "INTEGER", nullable: false),
                    RequestId = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    Hash = table.Column<string>(type: "TEXT", maxLength: 64, nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_audit_events", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "audit_seal",
                columns: table => new
                {
                    Id = table.Column<int>(type: "INTEGER", nullable: false),
                    LastSeq = table.Column<long>(type: "INTEGER", nullable: false),
                    LastHash = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_audit_seal", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "clients",
                columns: table => new
                {
                    Id = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    Name = table.Column<string>(type: "TEXT", maxLength: 256, nullable: false),
                    SecretHash = table.Column<string>(type: "TEXT", maxLength: 256, nullable: false),
                    SecretStamp = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    GrantsJson = table.Column<string>(type: "TEXT", maxLength: 64000, nullable: false),
                    CreatedAt = table.Column<long>(type: "INTEGER", nullable: false),
                    RevokedAt = table.Column<long>(type: "INTEGER", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_clients", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "local_care_units",
                columns: table => new
                {
                    Emr = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    Id = table.Column<string>(type: "TEXT", maxLength: 128, nullable: false),
                    Name = table.Column<string>(type: "TEXT", maxLength: 256, nullable: false),
                    TimeZone = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    Address = table.Column<string>(type: "TEXT", maxLength: 512, nullable: true),
                    RequiresConfirmation = table.Column<bool>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_local_care_units", x => new { x.Emr, x.Id });
                });

            migrationBuilder.CreateTable(
                name: "local_healthcare_services",
                columns: table => new
                {
                    Emr = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    Id = table.Column<string>(type: "TEXT", maxLength: 128, nullable: false),
                    CareUnitId = table.Column<string>(type: "TEXT", maxLength: 128, nullable: false),
                    Name = table.Column<string>(type: "TEXT", maxLength: 256, nullable: false),
                    Description = table.Column<string>(type: "TEXT", maxLength: 2000, nullable: true),
                    DurationMinutes = table.Column<int>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_local_healthcare_services", x => new { x.Emr, x.Id });
                });

            migrationBuilder.CreateTable(
                name: "local_patients",
                columns: table => new
                {
                    Key = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    Emr = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    EmrId = table.Column<string>(type: "TEXT", maxLength: 128, nullable: false),
                    CareUnitId = table.Column<string>(type: "TEXT", maxLength: 128, nullable: false),
                    FirstName = table.Column<string>(type: "TEXT", maxLength: 256, nullable: false),
                    LastName = table.Column<string>(type: "TEXT", maxLength: 256, nullable: false),
                    FoldedFirstName = table.Column<string>(type: "TEXT", maxLength: 256, nullable: false),
                    FoldedLastName = table.Column<string>(type: "TEXT", maxLength: 256, nullable: false),
                    BirthDate = table.Column<DateOnly>(type: "TEXT", nullable: true),
                    Gender = table.Column<string>(type: "TEXT", maxLength: 16, nullable: true),
                    SePersonalNumber = table.Column<string>(type: "TEXT", maxLength: 12, nullable: true),
                    NoPersonalNumber = table.Column<string>(type: "TEXT", maxLength: 11, nullable: true),
                    NhsNumber = table.Column<string>(type: "TEXT", maxLength: 10, nullable: true),
                    ExternalId = table.Column<string>(type: "TEXT", maxLength: 64, nullable: true),
                    Street = table.Column<string>(type: "TEXT", maxLength: 256, nullable: true),
                    PostalCode = table.Column<string>(type: "TEXT", maxLength: 32, nullable: true),
                    City = table.Column<string>(type: "TEXT", maxLength: 128, nullable: true),
                    Country = table.Column<string>(type: "TEXT", maxLength: 64, nullable: true),
                    CreatedAt = table.Column<long>(type: "INTEGER", nullable: false),
                    UpdatedAt = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_local_patients", x => x.Key);
                });

            migrationBuilder.CreateTable(
                name: "local_resources",
                columns: table => new
                {
                    Emr = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    Id = table.Column<string>(type: "TEXT", maxLength: 128, nullable: false),
                    CareUnitId = table.Column<string>(type: "TEXT", maxLength: 128, nullable: false),
                    Name = table.Column<string>(type: "TEXT", maxLength: 256, nullable: false),
                    Title = table.Column<string>(type: "TEXT", maxLength: 256, nullable: true),
                    Kind = table.Column<string>(type: "TEXT", maxLength: 32, nullable: false),
                    HsaId = table.Column<string>(type: "TEXT", maxLength: 31, nullable: true),
                    SePersonalNumber = table.Column<string>(type: "TEXT", maxLength: 12, nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_local_resources", x => new { x.Emr, x.Id });
                });

            migrationBuilder.CreateTable(
                name: "local_patient_contacts",
                columns: table => new
                {
                    Key = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    PatientKey = table.Column<long>(type: "INTEGER", nullable: false),
                    Kind = table.Column<string>(type: "TEXT", maxLength: 8, nullable: false),
                    Value = table.Column<string>(type: "TEXT", maxLength: 320, nullable: false),
                    Normalized = table.Column<string>(type: "TEXT", maxLength: 320, nullable: false),
                    Position = table.Column<int>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_local_patient_contacts", x => x.Key);
                    table.ForeignKey(
                        name: "FK_local_patient_contacts_local_patients_PatientKey",
                        column: x => x.PatientKey,
                        principalTable: "local_patients",
                        principalColumn: "Key",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "IX_audit_events_At",
                table: "audit_events",
                column: "At");

            migrationBuilder.CreateIndex(
                name: "IX_audit_events_ClientId",
                table: "audit_events",
                column: "ClientId");

            migrationBuilder.CreateIndex(
                name: "IX_audit_events_Seq",
                table: "audit_events",
                column: "Seq",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_local_healthcare_services_Emr_CareUnitId",
                table: "local_healthcare_services",
                columns: new[] { "Emr", "CareUnitId" });

            migrationBuilder.CreateIndex(
                name: "IX_local_patient_contacts_Kind_Normalized",
                table: "local_patient_contacts",
                columns: new[] { "Kind", "Normalized" });

            migrationBuilder.CreateIndex(
                name: "IX_local_patient_contacts_PatientKey",
                table: "local_patient_contacts",
                column: "PatientKey");

            migrationBuilder.CreateIndex(
                name: "IX_local_patients_Emr_BirthDate",
                table: "local_patients",
                columns: new[] { "Emr", "BirthDate" });

            migrationBuilder.CreateIndex(
                name: "IX_local_patients_Emr_EmrId",
                table: "local_patients",
                columns: new[] { "Emr", "EmrId" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_local_patients_Emr_FoldedFirstName",
                table: "local_patients",
                columns: new[] { "Emr", "FoldedFirstName" });

            migrationBuilder.CreateIndex(
                name: "IX_local_patients_Emr_FoldedLastName_FoldedFirstName_EmrId",
                table: "local_patients",
                columns: new[] { "Emr", "FoldedLastName", "FoldedFirstName", "EmrId" });

            migrationBuilder.CreateIndex(
                name: "IX_local_patients_Emr_NhsNumber",
                table: "local_patients",
                columns: new[] { "Emr", "NhsNumber" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_local_patients_Emr_NoPersonalNumber",
                table: "local_patients",
                columns: new[] { "Emr", "NoPersonalNumber" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_local_patients_Emr_SePersonalNumber",
                table: "local_patients",
                columns: new[] { "Emr", "SePersonalNumber" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_local_resources_Emr_CareUnitId",
                table: "local_resources",
                columns: new[] { "Emr", "CareUnitId" });

            migrationBuilder.CreateIndex(
                name: "IX_local_resources_Emr_HsaId",
                table: "local_resources",
                columns: new[] { "Emr", "HsaId" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_local_resources_Emr_SePersonalNumber",
                table: "local_resources",
                columns: new[] { "Emr", "SePersonalNumber" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "audit_events");

            migrationBuilder.DropTable(
                name: "audit_seal");

            migrationBuilder.DropTable(
                name: "clients");

            migrationBuilder.DropTable(
                name: "local_care_units");

            migrationBuilder.DropTable(
                name: "local_healthcare_services");

            migrationBuilder.DropTable(
                name: "local_patient_contacts");

            migrationBuilder.DropTable(
                name: "local_resources");

            migrationBuilder.DropTable(
                name: "local_patients");
        }
    }
}
