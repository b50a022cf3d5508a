using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Vardbro.Server.Storage.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class AppointmentsByUpdate : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateIndex(
                name: "IX_local_appointments_Emr_CareUnitId_UpdatedAt",
                table: "local_appointments",
                columns: new[] { "Emr", "CareUnitId", "UpdatedAt" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_local_appointments_Emr_CareUnitId_UpdatedAt",
                table: "local_appointments");
        }
    }
}
