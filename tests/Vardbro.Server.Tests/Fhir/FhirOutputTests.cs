using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;
using Vardbro.Connectors.Fhir;
using Vardbro.Server.Tests.Documents;
using Vardbro.Server.Tests.Infrastructure;
using Task = System.Threading.Tasks.Task;

namespace Vardbro.Server.Tests.Fhir;

/// <summary>
/// The FHIR-shaped routes of the built-in connector (sandbox <c>webdoc</c>, care unit <c>L0_1</c>):
/// every answer parses in Firely's strict mode and says what the JSON route says; errors are
/// OperationOutcomes.
/// </summary>
public sealed class FhirOutputTests(VardbroFactory factory) : IClassFixture<VardbroFactory>
{
    private const string L01 = "/api/emrs/webdoc/care-units/L0_1";
    private const string Fhir = "/api/fhir/emrs/webdoc/care-units/L0_1";
    private const string Tolvan = "se_personal_number:191212121212";
    private const string EmrIdSystem = "urn:vardbro:emr-id:webdoc";

    private static readonly JsonSerializerOptions Strict =
        new JsonSerializerOptions().ForFhir(ModelInfo.ModelInspector).UsingMode(DeserializationMode.Strict);

    /// <summary>GETs a FHIR answer, checks its content type and parses it strictly (a parse error throws).</summary>
    private static async Task<T> GetFhirAsync<T>(HttpClient client, string url)
        where T : Resource
    {
        using var response = await client.GetAsync(new Uri(url, UriKind.RelativeOrAbsolute));
        return await ReadFhirAsync<T>(response);
    }

    private static async Task<T> ReadFhirAsync<T>(HttpResponseMessage response)
        where T : Resource
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"Expected 200, got {(int)response.StatusCode}: {body}");
        Assert.Equal("application/fhir+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("utf-8", response.Content.Headers.ContentType?.CharSet);
        var resource = JsonSerializer.Deserialize<Resource>(body, Strict);
        var typed = Assert.IsType<T>(resource);
        AssertValidIds(typed);
        return typed;
    }

    /// <summary>The resource's id and, in a Bundle, every entry's id are valid FHIR ids.</summary>
    private static void AssertValidIds(Resource resource)
    {
        Assert.True(resource is CapabilityStatement || FhirIds.IsValid(resource.Id), $"{resource.TypeName}.id '{resource.Id}' is not a valid FHIR id");
        if (resource is Bundle bundle)
        {
            Assert.All(bundle.Entry, e =>
            {
                var entry = Assert.IsAssignableFrom<Resource>(e.Resource);
                AssertValidIds(entry);
                Assert.StartsWith("http://localhost/api/fhir/emrs/webdoc/care-units/", e.FullUrl, StringComparison.Ordinal);
            });
        }
    }

    private static List<T> Entries<T>(Bundle bundle)
        where T : Resource
    {
        Assert.Equal(Bundle.BundleType.Searchset, bundle.Type);
        return bundle.Entry.Select(e => Assert.IsType<T>(e.Resource)).ToList();
    }

    private static string? EmrId(IEnumerable<Identifier> identifiers) => identifiers.SingleOrDefault(i => i.System == EmrIdSystem)?.Value;

    private static List<KeyValuePair<string, string>> Sorted(IEnumerable<KeyValuePair<string, string>> content) => content.OrderBy(kv => kv.Key, StringComparer.Ordinal).ToList();

    /// <summary>The path a reference points at (its absolute URL without the host).</summary>
    private static string Path(ResourceReference? reference)
    {
        Assert.True(Uri.TryCreate(reference?.Reference, UriKind.Absolute, out var url), reference?.Reference);
        return url.AbsolutePath;
    }

    private static DateTimeOffset Instant(JsonNode? node) => DateTimeOffset.Parse((string)node!, CultureInfo.InvariantCulture);

    [Fact]
    public async Task The_care_unit_is_a_Location_whose_identifier_carries_L0_1()
    {
        using var client = factory.Sandbox();
        var location = await GetFhirAsync<Location>(client, Fhir);
        Assert.NotEqual("L0_1", location.Id); // an underscore is no FHIR id: a stable stand-in is used
        Assert.Equal("L0_1", EmrId(location.Identifier));
        Assert.Equal("Vårdcentralen Tolvan", location.Name);
        Assert.Equal(Location.LocationStatus.Active, location.Status);
        Assert.Equal(location.Id, (await GetFhirAsync<Location>(client, Fhir)).Id);
    }

    [Fact]
    public async Task Patient_search_is_a_searchset_of_Patients_and_a_read_is_the_same_Patient()
    {
        using var client = factory.Sandbox();
        var json = (await client.GetJsonAsync($"{L01}/patients?last_name=tolvansson")).AsArray();
        var bundle = await GetFhirAsync<Bundle>(client, $"{Fhir}/patients?last_name=tolvansson");
        var patients = Entries<Patient>(bundle);
        Assert.Equal(json.Count, patients.Count);
        Assert.Equal(json.Count, bundle.Total);
        Assert.Equal(json.Select(p => (string)p!["id"]!), patients.Select(p => p.Id));
        Assert.Equal(json.Select(p => (string)p!["emr_id"]!), patients.Select(p => EmrId(p.Identifier)));
        Assert.Contains(bundle.Link, l => l.Relation == "self" && l.Url!.EndsWith($"{Fhir}/patients?last_name=tolvansson", StringComparison.Ordinal));
        Assert.DoesNotContain(bundle.Link, l => l.Relation == "next");

        var tolvanJson = await client.GetJsonAsync($"{L01}/patients/{Tolvan}");
        var tolvan = await GetFhirAsync<Patient>(client, $"{Fhir}/patients/{Tolvan}");
        Assert.Equal((string?)tolvanJson["id"], tolvan.Id);
        Assert.Equal((string?)tolvanJson["emr_id"], EmrId(tolvan.Identifier));
        var personalNumber = Assert.Single(tolvan.Identifier, i => i.System == "urn:oid:1.2.752.129.2.1.3.1");
        Assert.Equal("191212121212", personalNumber.Value);
        Assert.Equal("Tolvansson", tolvan.Name[0].Family);
        Assert.Equal(["Tolvan"], tolvan.Name[0].Given);
        Assert.Equal("1912-12-12", tolvan.BirthDate);
        Assert.Contains(tolvan.Telecom, t => t.System == ContactPoint.ContactPointSystem.Phone && t.Value == (string?)tolvanJson["phones"]![0]);
        Assert.Contains(patients, p => p.Id == tolvan.Id);

        // Any typed id the JSON route takes: the bare EHR id reads the same patient.
        var byEmrId = await GetFhirAsync<Patient>(client, $"{Fhir}/patients/emr_id:{Uri.EscapeDataString((string)tolvanJson["emr_id"]!)}");
        Assert.Equal(tolvan.Id, byEmrId.Id);
    }

    [Fact]
    public async Task Patient_search_pages_with_a_next_link_in_the_Bundle_and_the_Link_header()
    {
        using var client = factory.Sandbox();
        foreach (var first in new[] { "Agda", "Bertil", "Cecilia" })
        {
            await client.PostJsonAsync($"{L01}/patients", new { first_name = first, last_name = "Fhirsida" }, HttpStatusCode.Created);
        }

        using var response = await client.GetAsync(new Uri($"{Fhir}/patients?last_name=fhirsida&limit=2", UriKind.Relative));
        var page1 = await ReadFhirAsync<Bundle>(response);
        Assert.Equal(2, page1.Entry.Count);
        Assert.Null(page1.Total);
        var header = response.Headers.GetValues("Link").Single();
        var headerUrl = header.Split(';')[0].Trim('<', '>');
        Assert.StartsWith($"{Fhir}/patients?", headerUrl, StringComparison.Ordinal);
        var next = Assert.Single(page1.Link, l => l.Relation == "next").Url;
        Assert.True(Uri.TryCreate(next, UriKind.Absolute, out var nextUri), next);
        Assert.Equal(headerUrl, nextUri.PathAndQuery);

        var page2 = await GetFhirAsync<Bundle>(client, next);
        var last = Assert.Single(Entries<Patient>(page2));
        Assert.Equal("Cecilia", last.Name[0].Given.Single());
        Assert.DoesNotContain(page2.Link, l => l.Relation == "next");
        Assert.Null(page2.Total); // the last page of three matches does not say 1
    }

    [Fact]
    public async Task Resources_are_Practitioners_rooms_Locations_and_equipment_Devices()
    {
        using (var admin = factory.Admin())
        {
            await admin.PostJsonAsync("/api/admin/emrs/webdoc/care-units/L0_1/resources", new { name = "Rum 3", title = "Mottagningsrum", kind = "room" }, HttpStatusCode.Created);
            await admin.PostJsonAsync("/api/admin/emrs/webdoc/care-units/L0_1/resources", new { name = "EKG-apparat", kind = "equipment" }, HttpStatusCode.Created);
        }

        using var client = factory.Sandbox();
        var json = (await client.GetJsonAsync($"{L01}/resources")).AsArray();
        var bundle = await GetFhirAsync<Bundle>(client, $"{Fhir}/resources");
        Assert.Equal(json.Count, bundle.Entry.Count);
        Assert.Equal(json.Select(r => (string)r!["id"]!), bundle.Entry.Select(e => EmrId(e.Resource switch
        {
            Practitioner p => p.Identifier,
            Location l => l.Identifier,
            Device d => d.Identifier,
            _ => [],
        })));
        Assert.Equal(
            json.Select(r => (string)r!["kind"]! switch { "room" => "Location", "equipment" => "Device", _ => "Practitioner" }),
            bundle.Entry.Select(e => e.Resource!.TypeName));

        var anna = await GetFhirAsync<Practitioner>(client, $"{Fhir}/resources/hsa_id:SE2321000131-E000000000101");
        Assert.Equal("1001", anna.Id);
        Assert.Equal("1001", EmrId(anna.Identifier));
        Assert.Contains(anna.Identifier, i => i.System == "urn:oid:1.2.752.29.4.19" && i.Value == "SE2321000131-E000000000101");
        Assert.Equal("Lindqvist", anna.Name[0].Family);

        var roomId = (string)json.Single(r => (string?)r!["kind"] == "room")!["id"]!;
        var room = await GetFhirAsync<Location>(client, $"{Fhir}/resources/{roomId}");
        Assert.Equal("Rum 3", room.Name);
        var deviceId = (string)json.Single(r => (string?)r!["kind"] == "equipment")!["id"]!;
        var device = await GetFhirAsync<Device>(client, $"{Fhir}/resources/{deviceId}");
        Assert.Equal("EKG-apparat", device.DeviceName[0].Name);
    }

    [Fact]
    public async Task Healthcare_services_are_a_searchset_of_HealthcareService()
    {
        using var client = factory.Sandbox();
        var json = (await client.GetJsonAsync($"{L01}/healthcare-services")).AsArray();
        var services = Entries<HealthcareService>(await GetFhirAsync<Bundle>(client, $"{Fhir}/healthcare-services"));
        Assert.Equal(json.Count, services.Count);
        Assert.Equal(json.Select(s => (string)s!["id"]!), services.Select(s => EmrId(s.Identifier)));
        Assert.Equal(json.Select(s => (string)s!["name"]!), services.Select(s => s.Name));
        Assert.All(services, s => Assert.Equal(("Location", "/api/fhir/emrs/webdoc/Location/L0_1"), (s.Location.Single().Type, Path(s.Location.Single()))));
        Assert.Equal(
            json.Select(s => $"{Fhir}/healthcare-services/{(string)s!["id"]!}"),
            (await GetFhirAsync<Bundle>(client, $"{Fhir}/healthcare-services")).Entry.Select(e => new Uri(e.FullUrl!).AbsolutePath));
    }

    [Fact]
    public async Task Timeslots_are_Slots_with_the_start_and_end_of_the_JSON_route()
    {
        using var client = factory.Sandbox();
        var from = TimeProvider.System.GetUtcNow().AddDays(2);
        var query = $"start={Uri.EscapeDataString(from.ToString("O", CultureInfo.InvariantCulture))}&end={Uri.EscapeDataString(from.AddDays(3).ToString("O", CultureInfo.InvariantCulture))}&resource_id=1001";
        var json = (await client.GetJsonAsync($"{L01}/timeslots?{query}")).AsArray();
        Assert.NotEmpty(json);
        var slots = Entries<Slot>(await GetFhirAsync<Bundle>(client, $"{Fhir}/timeslots?{query}"));
        Assert.Equal(json.Count, slots.Count);
        for (var i = 0; i < json.Count; i++)
        {
            var start = Instant(json[i]!["start"]);
            var end = Instant(json[i]!["end"]);
            Assert.Equal(start, slots[i].Start);
            Assert.Equal(end, slots[i].End);
            Assert.Equal(start.Offset, slots[i].Start!.Value.Offset); // shown in the care unit's offset, like the JSON route
            Assert.Equal(Slot.SlotStatus.Free, slots[i].Status);
            Assert.Equal($"{Fhir}/Schedule/emr_id:1001", Path(slots[i].Schedule));
        }

        Assert.Equal(slots.Count, slots.Select(s => s.Id).Distinct().Count());

        // The same checks and errors as the JSON route.
        await client.GetOutcomeAsync($"{Fhir}/timeslots?start=2026-03-01T00:00:00%2B01:00&end=2026-07-01T00:00:00%2B01:00", HttpStatusCode.BadRequest, "INVALID_FIELD", "end");
    }

    [Fact]
    public async Task Appointments_are_FHIR_Appointments_with_their_participants()
    {
        using var client = factory.Sandbox();
        var from = TimeProvider.System.GetUtcNow().AddDays(7);
        var query = $"start={Uri.EscapeDataString(from.ToString("O", CultureInfo.InvariantCulture))}&end={Uri.EscapeDataString(from.AddDays(7).ToString("O", CultureInfo.InvariantCulture))}&resource_id=1002&healthcare_service_id=L0_1-general";
        var slot = (await client.GetJsonAsync($"{L01}/timeslots?{query}"))[0]!;
        var booked = (await client.PostJsonAsync($"{L01}/appointments", new
        {
            start = (string)slot["start"]!,
            end = (string)slot["end"]!,
            patient_id = Tolvan,
            resource_id = "1002",
            healthcare_service_id = "L0_1-general",
            comment = "Via FHIR",
        }, HttpStatusCode.Created))[0]!;
        var id = (string)booked["id"]!;
        var tolvan = await client.GetJsonAsync($"{L01}/patients/{Tolvan}");

        var appointment = await GetFhirAsync<Appointment>(client, $"{Fhir}/appointments/{Uri.EscapeDataString(id)}");
        Assert.Equal(id, EmrId(appointment.Identifier));
        Assert.Equal(Appointment.AppointmentStatus.Booked, appointment.Status);
        Assert.Equal(Instant(booked["start"]), appointment.Start);
        Assert.Equal(Instant(booked["end"]), appointment.End);
        Assert.Equal("Via FHIR", appointment.Comment);
        Assert.Equal(
            [$"{Fhir}/Patient/emr_id:{(string)tolvan["emr_id"]!}", $"{Fhir}/Practitioner/emr_id:1002", "/api/fhir/emrs/webdoc/Location/L0_1", $"{Fhir}/HealthcareService/L0_1-general"],
            appointment.Participant.Select(p => Path(p.Actor)));
        Assert.Equal(["Patient", "Practitioner", "Location", "HealthcareService"], appointment.Participant.Select(p => p.Actor!.Type));
        Assert.All(appointment.Participant, p => Assert.Equal(ParticipationStatus.Accepted, p.Status));

        var list = Entries<Appointment>(await GetFhirAsync<Bundle>(client, $"{Fhir}/appointments?patient_id={Tolvan}&resource_id=1002"));
        Assert.Contains(list, a => a.Id == appointment.Id);
        var jsonList = (await client.GetJsonAsync($"{L01}/appointments?patient_id={Tolvan}&resource_id=1002")).AsArray();
        Assert.Equal(jsonList.Select(a => (string)a!["id"]!), list.Select(a => EmrId(a.Identifier)));

        // A filter naming nobody matches nothing, as in the JSON route.
        Assert.Empty((await GetFhirAsync<Bundle>(client, $"{Fhir}/appointments?patient_id=emr_id:nobody")).Entry);
    }

    [Fact]
    public async Task Medical_notes_are_DocumentReferences_whose_json_attachment_is_the_content()
    {
        using var client = factory.Sandbox();
        var content = new Dictionary<string, string> { ["status"] = "Oförändrat, inga nya besvär.", ["medications"] = "Inga" };
        var note = await client.PostJsonAsync($"{L01}/patients/{Tolvan}/medical-notes", new
        {
            template_id = "leyr_care_status",
            title = "Statusanteckning",
            created_by_id = "1001",
            content,
        }, HttpStatusCode.Created);
        var noteId = (string)note["id"]!;
        var tolvan = await client.GetJsonAsync($"{L01}/patients/{Tolvan}");

        var reference = await GetFhirAsync<DocumentReference>(client, $"{Fhir}/patients/{Tolvan}/medical-notes/{Uri.EscapeDataString(noteId)}");
        Assert.Equal(noteId, EmrId(reference.Identifier));
        Assert.Equal($"{Fhir}/Patient/emr_id:{(string)tolvan["emr_id"]!}", Path(reference.Subject));
        Assert.Equal($"{Fhir}/Practitioner/emr_id:1001", Path(reference.Author.Single()));
        Assert.Equal(CompositionStatus.Preliminary, reference.DocStatus);
        Assert.Equal("Statusanteckning", reference.Description);
        Assert.Equal(Instant(note["created_at"]), reference.Date);
        var structured = reference.Content.Select(c => c.Attachment).Single(a => a.ContentType == "application/json");
        Assert.Equal(Sorted(content), Sorted(JsonSerializer.Deserialize<Dictionary<string, string>>(structured.Data)!));
        var text = reference.Content.Select(c => c.Attachment).Single(a => a.ContentType!.StartsWith("text/plain", StringComparison.Ordinal));
        Assert.Contains("Oförändrat, inga nya besvär.", Encoding.UTF8.GetString(text.Data!), StringComparison.Ordinal);

        // The FHIR connector reads the same DocumentReference back into the same note.
        var back = FhirMapping.ToNote(reference);
        Assert.NotNull(back);
        Assert.Equal(Sorted(content), Sorted(back.Content));
        Assert.Equal("leyr_care_status", back.TemplateId);

        var list = Entries<DocumentReference>(await GetFhirAsync<Bundle>(client, $"{Fhir}/patients/{Tolvan}/medical-notes"));
        var jsonList = (await client.GetJsonAsync($"{L01}/patients/{Tolvan}/medical-notes")).AsArray();
        Assert.Equal(jsonList.Select(n => (string)n!["id"]!), list.Select(n => EmrId(n.Identifier)));
        Assert.Contains(list, n => n.Id == reference.Id);
    }

    [Fact]
    public async Task Documents_are_DocumentReferences_whose_attachment_url_downloads_the_same_bytes()
    {
        using var client = factory.Sandbox();
        var pdf = DocumentsTests.Pdf(5000);
        var created = await client.PostJsonAsync($"{L01}/patients/{Tolvan}/documents", new JsonObject
        {
            ["content"] = Convert.ToBase64String(pdf),
            ["format"] = "application/pdf",
            ["title"] = "Remissvar",
            ["type"] = "Referral",
            ["created_by_id"] = "1001",
        }.ToJsonString(), HttpStatusCode.Created);
        var id = (string)created["id"]!;

        var reference = await GetFhirAsync<DocumentReference>(client, $"{Fhir}/patients/{Tolvan}/documents/{Uri.EscapeDataString(id)}");
        Assert.Equal(id, EmrId(reference.Identifier));
        Assert.Equal(CompositionStatus.Final, reference.DocStatus);
        Assert.Equal("Remissvar", reference.Description);
        var attachment = reference.Content.Single().Attachment;
        Assert.Equal("application/pdf", attachment.ContentType);
        // R4's unsignedInt (a JSON number); the SDK's Size getter would throw on it, being R5's integer64.
        Assert.Equal(pdf.Length, Assert.IsType<UnsignedInt>(attachment.SizeElement).Value);
        Assert.True(Uri.TryCreate(attachment.Url, UriKind.Absolute, out var url), attachment.Url);
        Assert.EndsWith($"/documents/{id}/content", url.AbsolutePath, StringComparison.Ordinal);
        Assert.StartsWith(L01 + "/patients/", url.AbsolutePath, StringComparison.Ordinal);
        using (var download = await client.GetAsync(url))
        {
            Assert.Equal(HttpStatusCode.OK, download.StatusCode);
            Assert.Equal(pdf, await download.Content.ReadAsByteArrayAsync());
        }

        var back = FhirMapping.ToDocument(reference);
        Assert.Equal(pdf.Length, back.SizeBytes);
        Assert.Equal((string?)created["sha256"], back.Sha256);
        Assert.Equal("Referral", back.Type);

        var list = Entries<DocumentReference>(await GetFhirAsync<Bundle>(client, $"{Fhir}/patients/{Tolvan}/documents"));
        Assert.Contains(list, d => d.Id == reference.Id && d.Content.Single().Attachment.Url == attachment.Url);
    }

    [Fact]
    public async Task Errors_are_OperationOutcomes_carrying_the_envelope()
    {
        using var client = factory.Sandbox();
        await client.GetOutcomeAsync($"{Fhir}/patients/emr_id:nobody", HttpStatusCode.NotFound, "NOT_FOUND", "patient_id");
        await client.GetOutcomeAsync($"{Fhir}/patients/se_personal_number:191212121213", HttpStatusCode.BadRequest, "INVALID_PATIENT_ID", "patient_id");
        await client.GetOutcomeAsync($"{Fhir}/patients", HttpStatusCode.BadRequest, "MISSING_REQUIRED_FIELD");
        await client.GetOutcomeAsync($"{Fhir}/patients?last_name=x&limit=500", HttpStatusCode.BadRequest, "INVALID_FIELD", "limit");
        await client.GetOutcomeAsync($"{Fhir}/patients/{Tolvan}/medical-notes/note_missing", HttpStatusCode.NotFound, "NOT_FOUND", "note_id");
        await client.GetOutcomeAsync($"{Fhir}/patients/{Tolvan}/documents/doc_missing", HttpStatusCode.NotFound, "NOT_FOUND", "document_id");
        await client.GetOutcomeAsync($"{Fhir}/appointments/nope", HttpStatusCode.NotFound, "NOT_FOUND", "appointment_id");
        await client.GetOutcomeAsync($"{Fhir}/resources/emr_id:9999", HttpStatusCode.NotFound, "NOT_FOUND", "resource_id");
        await client.GetOutcomeAsync($"{Fhir}/healthcare-services/nope", HttpStatusCode.NotFound, "NOT_FOUND", "healthcare_service_id");
        await client.GetOutcomeAsync("/api/fhir/emrs/webdoc/care-units/NOPE", HttpStatusCode.NotFound, "NOT_FOUND", "care_unit_id");
        await client.GetOutcomeAsync("/api/fhir/emrs/nosuch/care-units/L0_1", HttpStatusCode.NotFound, "NOT_FOUND", "emr");
        await client.GetOutcomeAsync($"{Fhir}/no-such-route", HttpStatusCode.NotFound, "NOT_FOUND", "path");

        // The shape a client reads: error_code in details.coding, details in details.text, path in
        // expression, the envelope's code and instance in extensions; the issue type follows the status.
        var outcome = await client.GetOutcomeAsync($"{Fhir}/patients/se_personal_number:191212121213", HttpStatusCode.BadRequest);
        var issue = Assert.Single(outcome.Issue);
        Assert.Equal(OperationOutcome.IssueSeverity.Error, issue.Severity);
        Assert.Equal(OperationOutcome.IssueType.Invalid, issue.Code);
        Assert.Equal("INVALID_PATIENT_ID", FhirConformance.ErrorCode(issue));
        Assert.Equal("BAD_REQUEST", FhirConformance.Extension<Code>(issue, "urn:vardbro:fhir:code"));
        Assert.Equal(["patient_id"], issue.Expression);
        Assert.Equal(OperationOutcome.IssueType.NotFound, (await client.GetOutcomeAsync($"{Fhir}/appointments/nope", HttpStatusCode.NotFound)).Issue[0].Code);
        using var anonymous = factory.CreateClient();
        var login = await anonymous.GetOutcomeAsync($"{Fhir}/patients/{Tolvan}", HttpStatusCode.Unauthorized, "UNAUTHORIZED");
        Assert.Equal(OperationOutcome.IssueType.Login, login.Issue[0].Code);
        Assert.Equal("UNAUTHORIZED", FhirConformance.Extension<Code>(login.Issue[0], "urn:vardbro:fhir:code"));

        // The JSON routes keep the problem envelope.
        await client.GetProblemAsync($"{L01}/patients/emr_id:nobody", HttpStatusCode.NotFound, "NOT_FOUND", "patient_id");
    }

    [Fact]
    public async Task Count_is_limit_and_total_is_given_only_for_a_complete_list()
    {
        using var client = factory.Sandbox();
        foreach (var first in new[] { "Dagny", "Egon", "Frida" })
        {
            await client.PostJsonAsync($"{L01}/patients", new { first_name = first, last_name = "Fhirtotal" }, HttpStatusCode.Created);
        }

        var all = await GetFhirAsync<Bundle>(client, $"{Fhir}/patients?last_name=fhirtotal");
        Assert.Equal(3, all.Total);
        var page = await GetFhirAsync<Bundle>(client, $"{Fhir}/patients?last_name=fhirtotal&_count=1");
        var pages = 1;
        while (true)
        {
            Assert.Single(page.Entry);
            Assert.Null(page.Total); // a page of a longer list: the number of matches is not known
            if (page.Link.SingleOrDefault(l => l.Relation == "next") is not { } next)
            {
                break;
            }

            Assert.Contains("_count=1", next.Url, StringComparison.Ordinal);
            page = await GetFhirAsync<Bundle>(client, next.Url!);
            pages++;
        }

        Assert.Equal(3, pages);
        Assert.Equal(3, (await GetFhirAsync<Bundle>(client, $"{Fhir}/patients?last_name=fhirtotal&_count=3")).Total);
        await client.GetOutcomeAsync($"{Fhir}/patients?last_name=fhirtotal&_count=1&limit=1", HttpStatusCode.BadRequest, "INVALID_FIELD", "_count");
        await client.GetOutcomeAsync($"{Fhir}/patients?last_name=fhirtotal&_count=0", HttpStatusCode.BadRequest, "INVALID_FIELD", "_count");
        await client.GetOutcomeAsync($"{Fhir}/patients/{Tolvan}/medical-notes?_count=201", HttpStatusCode.BadRequest, "INVALID_FIELD", "_count");
        await client.GetOutcomeAsync($"{Fhir}/resources?_count=5", HttpStatusCode.BadRequest, "INVALID_FIELD", "_count");
        Assert.True((await GetFhirAsync<Bundle>(client, $"{Fhir}/appointments?_count=1")).Entry.Count <= 1);
    }

    [Fact]
    public async Task The_metadata_is_a_CapabilityStatement_of_the_routes_this_EMR_serves()
    {
        using var client = factory.Sandbox();
        var statement = await GetFhirAsync<CapabilityStatement>(client, $"{Fhir}/metadata");
        Assert.Equal(CapabilityStatementKind.Instance, statement.Kind);
        Assert.Equal(FHIRVersion.N4_0_1, statement.FhirVersion);
        Assert.Equal(["json"], statement.Format);
        Assert.Equal($"http://localhost{Fhir}", statement.Implementation!.Url);
        var resources = statement.Rest.Single().Resource.ToDictionary(r => r.Type!, r => r);
        Assert.Equal(
            ["Appointment", "Device", "DocumentReference", "HealthcareService", "Location", "Patient", "Practitioner", "Schedule", "Slot"],
            resources.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(
            [CapabilityStatement.TypeRestfulInteraction.Read, CapabilityStatement.TypeRestfulInteraction.SearchType],
            resources["Patient"].Interaction.Select(i => i.Code!.Value));
        Assert.Equal(["first_name", "last_name", "birth_date", "phone", "email"], resources["Patient"].SearchParam.Select(p => p.Name));
        Assert.Equal([CapabilityStatement.TypeRestfulInteraction.Read], resources["Location"].Interaction.Select(i => i.Code!.Value));

        using var anonymous = factory.CreateClient();
        await anonymous.GetOutcomeAsync($"{Fhir}/metadata", HttpStatusCode.Unauthorized, "UNAUTHORIZED");
    }

    [Fact]
    public async Task A_client_without_a_grant_for_the_care_unit_is_refused_on_FHIR_paths()
    {
        using var admin = factory.Admin();
        var created = await admin.PostJsonAsync("/api/admin/clients", new { name = "fhir only L0_2", grants = new[] { new { emr = "webdoc", care_units = new[] { "L0_2" } } } }, HttpStatusCode.Created);
        using var client = factory.WithCredentials((string)created["client_id"]!, (string)created["client_secret"]!);

        foreach (var url in new[] { Fhir, $"{Fhir}/patients/{Tolvan}", $"{Fhir}/patients?last_name=tolvansson", $"{Fhir}/resources", $"{Fhir}/patients/{Tolvan}/documents" })
        {
            await client.GetOutcomeAsync(url, HttpStatusCode.Forbidden, "FORBIDDEN", "care_unit_id");
        }

        await client.GetOutcomeAsync("/api/fhir/emrs/takecare/care-units/10/resources", HttpStatusCode.Forbidden, "FORBIDDEN");
        var l02 = await GetFhirAsync<Location>(client, "/api/fhir/emrs/webdoc/care-units/L0_2");
        Assert.Equal("L0_2", EmrId(l02.Identifier));
        await GetFhirAsync<Patient>(client, $"/api/fhir/emrs/webdoc/care-units/L0_2/patients/{Tolvan}");
    }

    [Fact]
    public async Task Each_FHIR_read_of_patient_data_writes_its_audit_event()
    {
        using var admin = factory.Admin();
        var created = await admin.PostJsonAsync("/api/admin/clients", new { name = "fhir audit", grants = new[] { new { emr = "webdoc", care_units = new[] { "*" } } } }, HttpStatusCode.Created);
        var clientId = (string)created["client_id"]!;
        using var client = factory.WithCredentials(clientId, (string)created["client_secret"]!);
        client.DefaultRequestHeaders.Add("x-actor-id", "SE2321000131-E000000000101");

        var note = await client.PostJsonAsync($"{L01}/patients/{Tolvan}/medical-notes", new { template_id = "leyr_unstructured", title = "Audit", created_by_id = "1001", content = new { unstructured = "Text" } }, HttpStatusCode.Created);
        var document = await client.PostJsonAsync($"{L01}/patients/{Tolvan}/documents", new JsonObject
        {
            ["content"] = Convert.ToBase64String(DocumentsTests.Pdf(100)),
            ["format"] = "application/pdf",
            ["title"] = "Audit",
            ["type"] = "Other",
            ["created_by_id"] = "1001",
        }.ToJsonString(), HttpStatusCode.Created);
        var tolvanId = (string)(await client.GetJsonAsync($"{L01}/patients/{Tolvan}"))["id"]!;
        var before = (await admin.GetJsonAsync($"/api/admin/audit?client_id={clientId}")).AsArray().Count;

        // Reads that touch no patient write nothing, as in the JSON routes.
        await GetFhirAsync<Location>(client, Fhir);
        await GetFhirAsync<Bundle>(client, $"{Fhir}/resources");
        await GetFhirAsync<Bundle>(client, $"{Fhir}/healthcare-services");
        await GetFhirAsync<Bundle>(client, $"{Fhir}/timeslots");
        Assert.Equal(before, (await admin.GetJsonAsync($"/api/admin/audit?client_id={clientId}")).AsArray().Count);

        await GetFhirAsync<Bundle>(client, $"{Fhir}/patients?last_name=tolvansson");
        await GetFhirAsync<Patient>(client, $"{Fhir}/patients/{Tolvan}");
        await GetFhirAsync<Bundle>(client, $"{Fhir}/appointments?patient_id={Tolvan}");
        await GetFhirAsync<Bundle>(client, $"{Fhir}/patients/{Tolvan}/medical-notes");
        await GetFhirAsync<DocumentReference>(client, $"{Fhir}/patients/{Tolvan}/medical-notes/{(string)note["id"]!}");
        await GetFhirAsync<Bundle>(client, $"{Fhir}/patients/{Tolvan}/documents");
        await GetFhirAsync<DocumentReference>(client, $"{Fhir}/patients/{Tolvan}/documents/{(string)document["id"]!}");
        await client.GetOutcomeAsync($"{Fhir}/patients/emr_id:nobody", HttpStatusCode.NotFound);

        // Committed before each response: no waiting.
        var events = (await admin.GetJsonAsync($"/api/admin/audit?client_id={clientId}")).AsArray().Skip(before).ToList();
        Assert.Equal(
            ["patient.search", "patient.read", "appointment.list", "note.list", "note.read", "document.list", "document.read", "patient.read"],
            events.Select(e => (string)e!["action"]!));
        Assert.All(events.Take(7), e =>
        {
            Assert.Contains(tolvanId, e!["patient_ids"]!.AsArray().Select(x => (string)x!));
            Assert.Equal(200, (int)e["outcome_status"]!);
            Assert.Equal("webdoc", (string?)e["emr"]);
            Assert.Equal("L0_1", (string?)e["care_unit_id"]);
            Assert.Equal("SE2321000131-E000000000101", (string?)e["actor_id"]);
        });
        Assert.Equal(tolvanId, (string?)events[1]!["resource_id"]);
        Assert.Equal((string?)note["id"], (string?)events[4]!["resource_id"]);
        Assert.Equal((string?)document["id"], (string?)events[6]!["resource_id"]);
        Assert.Equal(404, (int)events[7]!["outcome_status"]!);
        Assert.DoesNotContain("191212121212", JsonSerializer.Serialize(events), StringComparison.Ordinal);
    }
}
