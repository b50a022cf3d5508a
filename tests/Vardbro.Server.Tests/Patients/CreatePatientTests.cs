using System.Net;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Vardbro.Server.Tests.Infrastructure;

namespace Vardbro.Server.Tests.Patients;

/// <summary>A server with one more built-in EMR that accepts every national id type.</summary>
public sealed class NordicFactory : VardbroFactory
{
    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureAppConfiguration(c => c.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Emrs:nordic:Name"] = "Nordic test EHR",
            ["Emrs:nordic:Connector"] = "local",
            ["Emrs:nordic:PatientIdTypes:0"] = "emr_id",
            ["Emrs:nordic:PatientIdTypes:1"] = "se_personal_number",
            ["Emrs:nordic:PatientIdTypes:2"] = "no_personal_number",
            ["Emrs:nordic:PatientIdTypes:3"] = "nhs_number",
        }));
    }
}

public sealed class CreatePatientTests(NordicFactory factory) : IClassFixture<NordicFactory>, IAsyncLifetime
{
    private const string L01 = "/api/emrs/webdoc/care-units/L0_1";
    private const string Nordic = "/api/emrs/nordic/care-units/N1";

    public async Task InitializeAsync()
    {
        using var admin = factory.Admin();
        using var response = await admin.PostAsync(new Uri("/api/admin/emrs/nordic/care-units", UriKind.Relative), JsonContent.Of("""{"id":"N1","name":"Nordklinikken","time_zone":"Europe/Oslo"}"""));
        Assert.True(response.StatusCode is HttpStatusCode.Created or HttpStatusCode.Conflict);
        await admin.PutJsonAsync("/api/admin/clients/sandbox-client/grants", new { grants = new object[] { new { emr = "webdoc", care_units = new[] { "*" } }, new { emr = "nordic", care_units = new[] { "*" } } } }, HttpStatusCode.OK);
    }

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Create_returns_201_then_the_same_patient_with_200()
    {
        using var client = factory.Sandbox();
        var body = """{"first_name":"Lars","last_name":"Ström","external_id":"19711002-1834","phones":["+46 70 111 22 33"]}""";
        var created = await client.PostJsonAsync($"{L01}/patients", body, HttpStatusCode.Created);
        Assert.Equal("197110021834", (string?)created["se_personal_number"]);
        Assert.Equal("1971-10-02", (string?)created["birth_date"]);
        Assert.Equal("male", (string?)created["gender"]);
        Assert.Equal("L0_1", (string?)created["care_unit_id"]);

        var again = await client.PostJsonAsync($"{L01}/patients", """{"first_name":"L","last_name":"S","external_id":"se_personal_number:197110021834"}""", HttpStatusCode.OK);
        Assert.Equal((string?)created["id"], (string?)again["id"]);
        Assert.Equal("Lars", (string?)again["first_name"]);

        var read = await client.GetJsonAsync($"{L01}/patients/emr_id:{(string)created["emr_id"]!}");
        Assert.Equal((string?)created["id"], (string?)read["id"]);
    }

    [Fact]
    public async Task Without_a_national_id_the_same_names_birth_date_and_a_shared_contact_match()
    {
        using var client = factory.Sandbox();
        var first = await client.PostJsonAsync($"{L01}/patients", """{"first_name":"Kim","last_name":"Dahl","birth_date":"1990-05-06","emails":["kim@example.com"]}""", HttpStatusCode.Created);
        var same = await client.PostJsonAsync($"{L01}/patients", """{"first_name":"KIM","last_name":"dahl","birth_date":"1990-05-06","emails":["Kim@Example.com"],"phones":["+4670000000"]}""", HttpStatusCode.OK);
        Assert.Equal((string?)first["id"], (string?)same["id"]);
        await client.PostJsonAsync($"{L01}/patients", """{"first_name":"Kim","last_name":"Dahl","birth_date":"1990-05-06","emails":["other@example.com"]}""", HttpStatusCode.Created);
    }

    [Fact]
    public async Task Twenty_concurrent_identical_creates_make_one_patient()
    {
        var clients = Enumerable.Range(0, 20).Select(_ => factory.Sandbox()).ToList();
        try
        {
            var body = """{"first_name":"Greta","last_name":"Parallell","external_id":"198702072391"}""";
            using var start = new ManualResetEventSlim(false);
            var tasks = clients.Select(c => Task.Run(async () =>
            {
                start.Wait();
                using var response = await c.PostAsync(new Uri($"{L01}/patients", UriKind.Relative), JsonContent.Of(body));
                var json = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
                return (response.StatusCode, Id: (string?)json["id"]);
            })).ToList();
            start.Set();
            var results = await Task.WhenAll(tasks);
            Assert.Single(results, r => r.StatusCode == HttpStatusCode.Created);
            Assert.Equal(19, results.Count(r => r.StatusCode == HttpStatusCode.OK));
            Assert.Single(results.Select(r => r.Id).Distinct());
        }
        finally
        {
            clients.ForEach(c => c.Dispose());
        }

        using var check = factory.Sandbox();
        var found = await check.GetJsonAsync($"{L01}/patients?last_name=parallell");
        Assert.Single(found.AsArray());
    }

    [Fact]
    public async Task Norwegian_and_NHS_numbers_are_accepted_where_the_EMR_takes_them()
    {
        using var client = factory.Sandbox();
        var norwegian = await client.PostJsonAsync($"{Nordic}/patients", """{"first_name":"Ola","last_name":"Nordmann","external_id":"26258605879"}""", HttpStatusCode.Created);
        Assert.Equal("26258605879", (string?)norwegian["no_personal_number"]);
        Assert.Null((string?)norwegian["birth_date"]); // synthetic month: no calendar date
        var byId = await client.GetJsonAsync($"{Nordic}/patients/no_personal_number:26258605879");
        Assert.Equal((string?)norwegian["id"], (string?)byId["id"]);

        var nhs = await client.PostJsonAsync($"{Nordic}/patients", """{"first_name":"John","last_name":"Smith","external_id":"nhs_number:943 476 5919"}""", HttpStatusCode.Created);
        Assert.Equal("9434765919", (string?)nhs["nhs_number"]);
        await client.GetJsonAsync($"{Nordic}/patients/nhs_number:943-476-5919");

        // Ten bare digits fit a Swedish number without separator and an NHS number: the prefix is required.
        var problem = await client.PostProblemAsync($"{Nordic}/patients", """{"first_name":"A","last_name":"B","external_id":"9434765919"}""", HttpStatusCode.BadRequest, "INVALID_PATIENT_ID", "external_id");
        Assert.Contains("prefix", (string?)problem["detail"], StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Validation_reports_every_problem_together()
    {
        using var client = factory.Sandbox();
        var problem = await client.PostProblemAsync($"{L01}/patients", """{"external_id":"191212121213","birth_date":"12/12/1912","gender":"robot","emails":["nope"]}""", HttpStatusCode.BadRequest);
        var errors = problem["errors"]!.AsArray().Select(e => ((string?)e!["error_code"], (string?)e["path"])).ToList();
        Assert.Contains(("MISSING_REQUIRED_FIELD", "first_name"), errors);
        Assert.Contains(("MISSING_REQUIRED_FIELD", "last_name"), errors);
        Assert.Contains(("INVALID_PATIENT_ID", "external_id"), errors);
        Assert.Contains(("INVALID_FIELD", "birth_date"), errors);
        Assert.Contains(("INVALID_FIELD", "gender"), errors);
        Assert.Contains(("INVALID_FIELD", "emails[0]"), errors);
    }

    [Fact]
    public async Task A_national_id_type_the_EMR_does_not_take_is_refused()
    {
        using var client = factory.Sandbox();
        await client.PostProblemAsync($"{L01}/patients", """{"first_name":"Ola","last_name":"Nordmann","external_id":"no_personal_number:26258605879"}""", HttpStatusCode.BadRequest, "PATIENT_ID_LOOKUP_TYPE_NOT_SUPPORTED", "external_id");
    }
}
