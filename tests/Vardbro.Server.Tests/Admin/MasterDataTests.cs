using System.Net;
using Vardbro.Server.Tests.Infrastructure;

namespace Vardbro.Server.Tests.Admin;

public sealed class MasterDataTests(VardbroFactory factory) : IClassFixture<VardbroFactory>
{
    private const string AdminUnits = "/api/admin/emrs/webdoc/care-units";

    [Fact]
    public async Task Master_data_created_through_admin_is_served_and_its_ids_round_trip()
    {
        using var admin = factory.Admin();
        using var client = factory.Sandbox();
        var unit = await admin.PostJsonAsync(AdminUnits, new { id = "MD1", name = "Vårdcentralen Norr", time_zone = "Europe/Stockholm", address = "Norrgatan 1" }, HttpStatusCode.Created);
        Assert.Equal("MD1", (string?)unit["id"]);
        Assert.Equal("MD1", (string?)unit["emr_id"]);

        var resource = await admin.PostJsonAsync($"{AdminUnits}/MD1/resources", new { name = "Dr. Karin Berg", title = "Läkare", hsa_id = "SE2321000131-E000000012345", se_personal_number = "19711002-1835" }, HttpStatusCode.BadRequest);
        Assert.Equal("INVALID_RESOURCE_ID", (string?)resource["errors"]![0]!["error_code"]);
        resource = await admin.PostJsonAsync($"{AdminUnits}/MD1/resources", new { name = "Dr. Karin Berg", title = "Läkare", hsa_id = "SE2321000131-E000000012345", se_personal_number = "197110021834" }, HttpStatusCode.Created);
        var resourceId = (string)resource["id"]!;
        var service = await admin.PostJsonAsync($"{AdminUnits}/MD1/healthcare-services", new { name = "Vaccination", duration_minutes = 10 }, HttpStatusCode.Created);

        var units = await client.GetJsonAsync("/api/emrs/webdoc/care-units");
        var listed = units.AsArray().Single(u => (string?)u!["id"] == "MD1")!;
        Assert.Equal("Vårdcentralen Norr", (string?)listed["name"]);
        Assert.Equal("Europe/Stockholm", (string?)listed["time_zone"]);

        var resources = await client.GetJsonAsync($"/api/emrs/webdoc/care-units/{(string)listed["id"]!}/resources");
        var first = resources[0]!;
        Assert.Equal(resourceId, (string?)first["id"]);
        Assert.Equal("practitioner", (string?)first["kind"]);
        Assert.Equal("SE2321000131-E000000012345", (string?)first["hsa_id"]);
        Assert.Equal("MD1", (string?)first["care_unit_id"]);

        foreach (var id in new[] { resourceId, $"emr_id:{resourceId}", "hsa_id:SE2321000131-E000000012345", "se_personal_number:19711002-1834" })
        {
            var byId = await client.GetJsonAsync($"/api/emrs/webdoc/care-units/MD1/resources/{id}");
            Assert.Equal(resourceId, (string?)byId["id"]);
        }

        var services = await client.GetJsonAsync("/api/emrs/webdoc/care-units/MD1/healthcare-services");
        Assert.Equal((string?)service["id"], (string?)services[0]!["id"]);
        Assert.Equal(10, (int)services[0]!["duration_minutes"]!);

        await admin.PutJsonAsync($"{AdminUnits}/MD1", new { name = "Vårdcentralen Nord", time_zone = "Europe/Oslo" }, HttpStatusCode.OK);
        units = await client.GetJsonAsync("/api/emrs/webdoc/care-units");
        Assert.Equal("Europe/Oslo", (string?)units.AsArray().Single(u => (string?)u!["id"] == "MD1")!["time_zone"]);
        await admin.PutJsonAsync($"{AdminUnits}/MD1/resources/{resourceId}", new { name = "Dr. Karin Berg", title = "Överläkare", hsa_id = "SE2321000131-E000000012345" }, HttpStatusCode.OK);
        Assert.Equal("Överläkare", (string?)(await client.GetJsonAsync($"/api/emrs/webdoc/care-units/MD1/resources/{resourceId}"))["title"]);

        // Still referenced: 409; then removed piece by piece.
        using (var response = await admin.DeleteAsync(new Uri($"{AdminUnits}/MD1", UriKind.Relative)))
        {
            await response.ProblemAsync(HttpStatusCode.Conflict);
        }

        using (var response = await admin.DeleteAsync(new Uri($"{AdminUnits}/MD1/resources/{resourceId}", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        }

        using (var response = await admin.DeleteAsync(new Uri($"{AdminUnits}/MD1/healthcare-services/{(string)service["id"]!}", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        }

        using (var response = await admin.DeleteAsync(new Uri($"{AdminUnits}/MD1", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        }

        await client.GetProblemAsync("/api/emrs/webdoc/care-units/MD1/resources", HttpStatusCode.NotFound, "NOT_FOUND", "care_unit_id");
    }

    [Fact]
    public async Task Bad_master_data_is_refused_with_the_field_named()
    {
        using var admin = factory.Admin();
        await admin.PostProblemAsync(AdminUnits, new { name = "X", time_zone = "Mars/Olympus" }, HttpStatusCode.BadRequest, "INVALID_FIELD", "time_zone");
        await admin.PostProblemAsync(AdminUnits, new { id = "has space", name = "X" }, HttpStatusCode.BadRequest, "INVALID_FIELD", "id");
        await admin.PostProblemAsync(AdminUnits, new { id = "L0_1", name = "Duplicate" }, HttpStatusCode.Conflict);
        await admin.PostProblemAsync($"{AdminUnits}/L0_1/resources", new { name = "R", kind = "robot" }, HttpStatusCode.BadRequest, "INVALID_FIELD", "kind");
        await admin.PostProblemAsync($"{AdminUnits}/L0_1/resources", new { name = "R", hsa_id = "se2321000131-E1" }, HttpStatusCode.BadRequest, "INVALID_RESOURCE_ID", "hsa_id");
        await admin.PostProblemAsync($"{AdminUnits}/L0_1/resources", new { name = "R", hsa_id = "SE2321000131-E000000000101" }, HttpStatusCode.Conflict);
        await admin.PostProblemAsync($"{AdminUnits}/L0_1/healthcare-services", new { name = "S" }, HttpStatusCode.BadRequest, "MISSING_REQUIRED_FIELD", "duration_minutes");
        await admin.PostProblemAsync($"{AdminUnits}/nope/resources", new { name = "R" }, HttpStatusCode.NotFound, "NOT_FOUND", "care_unit_id");
        await admin.PostProblemAsync("/api/admin/emrs/nope/care-units", new { name = "X" }, HttpStatusCode.NotFound, "NOT_FOUND", "emr");
    }

    [Fact]
    public async Task The_sandbox_is_seeded_as_the_contract_says()
    {
        using var client = factory.Sandbox();
        var units = (await client.GetJsonAsync("/api/emrs/webdoc/care-units")).AsArray();
        Assert.Contains(units, u => (string?)u!["id"] == "L0_1" && (string?)u["name"] == "Vårdcentralen Tolvan" && (string?)u["time_zone"] == "Europe/Stockholm");
        Assert.Contains(units, u => (string?)u!["id"] == "L0_2" && (bool)u["requires_confirmation"]!);
        var practitioners = (await client.GetJsonAsync("/api/emrs/webdoc/care-units/L0_1/resources")).AsArray();
        Assert.True(practitioners.Count(r => (string?)r!["hsa_id"] is not null && (string?)r["kind"] == "practitioner") >= 3);
        Assert.NotEmpty((await client.GetJsonAsync("/api/emrs/webdoc/care-units/L0_2/resources")).AsArray());
        foreach (var unit in new[] { "L0_1", "L0_2" })
        {
            var services = (await client.GetJsonAsync($"/api/emrs/webdoc/care-units/{unit}/healthcare-services")).AsArray();
            Assert.Contains(services, s => (string?)s!["name"] == "General Consultation" && (int)s["duration_minutes"]! == 30);
            Assert.Contains(services, s => (string?)s!["name"] == "Follow-up Visit" && (int)s["duration_minutes"]! == 15);
        }

        var ehn = await client.GetJsonAsync("/api/emrs/takecare/care-units/10/resources/10-991890000019");
        Assert.Equal("Läkare Ehn (läk)", (string?)ehn["name"]);
        foreach (var pn in new[] { "191212121212", "197110021834", "194010126672", "195003042222", "194912062306", "195008121856", "198702072391" })
        {
            await client.GetJsonAsync($"/api/emrs/takecare/care-units/10/patients/se_personal_number:{pn}");
        }

        var emrs = (await client.GetJsonAsync("/api/emrs")).AsArray();
        var webdoc = emrs.Single(e => (string?)e!["code"] == "webdoc")!;
        Assert.Equal(["emr_id", "se_personal_number"], webdoc["patient_id_types"]!.AsArray().Select(x => (string)x!));
        Assert.Equal(["emr_id", "hsa_id", "se_personal_number"], webdoc["resource_id_types"]!.AsArray().Select(x => (string)x!));
    }

    [Fact]
    public async Task Health_and_readiness_answer()
    {
        using var client = factory.CreateClient();
        Assert.Equal("Healthy", (string?)(await client.GetJsonAsync("/healthz"))["status"]);
        var ready = await client.GetJsonAsync("/readyz");
        Assert.Equal("Healthy", (string?)ready["status"]);
        Assert.Equal(["database", "emr:takecare", "emr:webdoc"], ready["checks"]!.AsArray().Select(c => (string)c!["name"]!));
        Assert.All(ready["checks"]!.AsArray(), c => Assert.Equal("Healthy", (string?)c!["status"]));
    }
}
