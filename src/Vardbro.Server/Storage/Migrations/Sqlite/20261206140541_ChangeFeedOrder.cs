using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Vardbro.Server.Storage.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class ChangeFeedOrder : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_local_events_Emr_CareUnitId_Key",
                table: "local_events");

            migrationBuilder.AddColumn<long>(
                name: "LastEventTx",
                table: "webhook_feed_positions",
                type: "INTEGER",
                nullable: false,
                defaultValue: 0L);

            migrationBuilder.AddColumn<long>(
                name: "Tx",
                table: "local_events",
                type: "INTEGER",
                nullable: false,
                defaultValue: 0L);

            migrationBuilder.CreateIndex(
                name: "IX_local_events_Emr_CareUnitId_Tx_Key",
                table: "local_events",
                columns: new[] { "Emr", "CareUnitId", "Tx", "Key" });

            migrationBuilder.CreateIndex(
                name: "IX_local_events_Tx_Key",
                table: "local_events",
                columns: new[] { "Tx", "Key" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_local_events_Emr_CareUnitId_Tx_Key",
                table: "local_events");

            migrationBuilder.DropIndex(
                name: "IX_local_events_Tx_Key",
                table: "local_events");

            migrationBuilder.DropColumn(
                name: "LastEventTx",
                table: "webhook_feed_positions");

            migrationBuilder.DropColumn(
                name: "Tx",
                table: "local_events");

            migrationBuilder.CreateIndex(
                name: "IX_local_events_Emr_CareUnitId_Key",
                table: "local_events",
                columns: new[] { "Emr", "CareUnitId", "Key" });
        }
    }
}
