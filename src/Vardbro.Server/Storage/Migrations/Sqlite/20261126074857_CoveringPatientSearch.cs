using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Vardbro.Server.Storage.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class CoveringPatientSearch : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_local_patients_Emr_FoldedLastName_FoldedFirstName_EmrId",
                table: "local_patients");

            migrationBuilder.CreateIndex(
                name: "IX_local_patients_search",
                table: "local_patients",
                columns: new[] { "Emr", "FoldedLastName", "FoldedFirstName", "EmrId", "CareUnitId", "FirstName", "LastName", "BirthDate", "Gender", "SePersonalNumber", "NoPersonalNumber", "NhsNumber", "ExternalId", "Street", "PostalCode", "City", "Country", "CreatedAt", "UpdatedAt" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_local_patients_search",
                table: "local_patients");

            migrationBuilder.CreateIndex(
                name: "IX_local_patients_Emr_FoldedLastName_FoldedFirstName_EmrId",
                table: "local_patients",
                columns: new[] { "Emr", "FoldedLastName", "FoldedFirstName", "EmrId" });
        }
    }
}
