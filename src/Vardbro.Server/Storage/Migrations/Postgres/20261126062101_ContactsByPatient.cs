using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Vardbro.Server.Storage.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class ContactsByPatient : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_local_patient_contacts_PatientKey",
                table: "local_patient_contacts");

            migrationBuilder.CreateIndex(
                name: "IX_local_patient_contacts_PatientKey_Position_Kind_Value",
                table: "local_patient_contacts",
                columns: new[] { "PatientKey", "Position", "Kind", "Value" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_local_patient_contacts_PatientKey_Position_Kind_Value",
                table: "local_patient_contacts");

            migrationBuilder.CreateIndex(
                name: "IX_local_patient_contacts_PatientKey",
                table: "local_patient_contacts",
                column: "PatientKey");
        }
    }
}
