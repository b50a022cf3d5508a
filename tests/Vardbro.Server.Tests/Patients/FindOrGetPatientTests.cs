using System.Net;
using Vardbro.Server.Tests.Infrastructure;

namespace Vardbro.Server.Tests.Patients;

/// <summary>Leyr's "Find or Get Patient" quickstart, and every way to name the same patient.</summary>
public sealed class FindOrGetPatientTests(VardbroFactory factory) : IClassFixture<VardbroFactory>
{
    private const string L01 = "/api/emrs/webdoc/care-units/L0_1";

    [Fact]
    public async Task Search_then_get_by_emr_id_returns_the_patient()
    {
        using var client = factory.Sandbox();
        var found = await client.GetJsonAsync($"{L01}/patients?first_name=Tolvan&last_name=Tolvansson");
        var first = found.AsArray()[0]!;
        var id = (string)first["id"]!;
        var emrId = (string)first["emr_id"]!;
        Assert.True(Guid.TryParse(id, out _));
        Assert.NotEqual(id, emrId);

        var patient = await client.GetJsonAsync($"{L01}/patients/emr_id:{emrId}");
        Assert.Equal("Tolvan", (string?)patient["first_name"]);
        Assert.Equal("Tolvansson", (string?)patient["last_name"]);
        Assert.Equal("L0_1", (string?)patient["care_unit_id"]);
        Assert.Equal(id, (string?)patient["id"]);
        Assert.Equal("191212121212", (string?)patient["se_personal_number"]);
        Assert.Equal("1912-12-12", (string?)patient["birth_date"]);
        Assert.Equal("male", (string?)patient["gender"]);
        Assert.Equal("+46001234567", (string?)patient["phones"]![0]);
        Assert.EndsWith("+01:00", (string?)patient["created_at"], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("se_personal_number:191212121212")]
    [InlineData("se_personal_number:19121212-1212")]
    [InlineData("se_personal_number:121212%2B1212")]
    [InlineData("se_personal_number:121212+1212")]
    public async Task The_same_patient_is_found_by_every_form_of_the_personal_number(string patientId)
    {
        using var client = factory.Sandbox();
        var patient = await client.GetJsonAsync($"{L01}/patients/{patientId}");
        Assert.Equal("191212121212", (string?)patient["se_personal_number"]);
        Assert.Equal("Tolvan", (string?)patient["first_name"]);
    }

    [Fact]
    public async Task Bare_emr_id_and_prefixed_emr_id_are_the_same_patient()
    {
        using var client = factory.Sandbox();
        var byPn = await client.GetJsonAsync($"{L01}/patients/se_personal_number:191212121212");
        var emrId = (string)byPn["emr_id"]!;
        var bare = await client.GetJsonAsync($"{L01}/patients/{emrId}");
        var typed = await client.GetJsonAsync($"{L01}/patients/emr_id:{emrId}");
        Assert.Equal((string?)byPn["id"], (string?)bare["id"]);
        Assert.Equal((string?)byPn["id"], (string?)typed["id"]);
    }

    [Fact]
    public async Task A_personal_number_with_a_minus_is_someone_under_100()
    {
        using var client = factory.Sandbox();
        // 121212-1212 is a child born 2012: a different person, not in the sandbox.
        await client.GetProblemAsync($"{L01}/patients/se_personal_number:121212-1212", HttpStatusCode.NotFound, "NOT_FOUND", "patient_id");
    }

    [Theory]
    [InlineData("foo:1", HttpStatusCode.BadRequest, "INVALID_PATIENT_ID_TYPE")]
    [InlineData("hsa_id:SE2321000131-E000000000101", HttpStatusCode.BadRequest, "INVALID_PATIENT_ID_TYPE")]
    [InlineData("se_personal_number:191212121213", HttpStatusCode.BadRequest, "INVALID_PATIENT_ID")]
    [InlineData("se_personal_number:19121312-1212", HttpStatusCode.BadRequest, "INVALID_PATIENT_ID")]
    [InlineData("no_personal_number:26258605878", HttpStatusCode.BadRequest, "INVALID_PATIENT_ID")]
    [InlineData("nhs_number:9434765918", HttpStatusCode.BadRequest, "INVALID_PATIENT_ID")]
    [InlineData("nhs_number:9434765919", HttpStatusCode.BadRequest, "PATIENT_ID_LOOKUP_TYPE_NOT_SUPPORTED")]
    [InlineData("no_personal_number:26258605879", HttpStatusCode.BadRequest, "PATIENT_ID_LOOKUP_TYPE_NOT_SUPPORTED")]
    [InlineData("emr_id:no-such-patient", HttpStatusCode.NotFound, "NOT_FOUND")]
    [InlineData("no-such-patient", HttpStatusCode.NotFound, "NOT_FOUND")]
    [InlineData("se_personal_number:197110021834", HttpStatusCode.NotFound, "NOT_FOUND")]
    public async Task Each_id_error_outcome_has_its_status_and_code(string patientId, HttpStatusCode status, string errorCode)
    {
        using var client = factory.Sandbox();
        var problem = await client.GetProblemAsync($"{L01}/patients/{patientId}", status, errorCode, "patient_id");
        Assert.DoesNotContain(patientId.Split(':')[^1], (string?)problem["detail"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Takecare_patients_are_separate_from_webdoc_patients()
    {
        using var client = factory.Sandbox();
        var patient = await client.GetJsonAsync("/api/emrs/takecare/care-units/10/patients/se_personal_number:197110021834");
        Assert.Equal("10", (string?)patient["care_unit_id"]);
        var tolvanWebdoc = await client.GetJsonAsync($"{L01}/patients/se_personal_number:191212121212");
        var tolvanTakecare = await client.GetJsonAsync("/api/emrs/takecare/care-units/10/patients/se_personal_number:191212121212");
        Assert.NotEqual((string?)tolvanWebdoc["id"], (string?)tolvanTakecare["id"]);
    }
}
