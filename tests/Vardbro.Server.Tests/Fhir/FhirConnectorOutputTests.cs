using System.Net;
using System.Text;
using System.Text.Json;
using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;
using Vardbro.Connectors.Fhir;
using Vardbro.Server.Tests.Infrastructure;
using Vardbro.Tests.Peers;
using Task = System.Threading.Tasks.Task;

namespace Vardbro.Server.Tests.Fhir;

/// <summary>
/// The FHIR-shaped routes when the EMR itself is a FHIR server: every answer parses in Firely's
/// strict mode, for every resource type, and carries what the peer holds.
/// </summary>
public sealed class FhirConnectorOutputTests(FhirEmrFixture fixture) : IClassFixture<FhirEmrFixture>, IAsyncLifetime
{
    private const string Unit = FhirEmrFactory.Unit;
    private const string Fhir = "/api/fhir/emrs/webdoc/care-units/" + FhirPeer.CareUnit;
    private const string Tolvan = "se_personal_number:191212121212";

    private static readonly JsonSerializerOptions Strict =
        new JsonSerializerOptions().ForFhir(ModelInfo.ModelInspector).UsingMode(DeserializationMode.Strict);

    public Task InitializeAsync() => fixture.Peer.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    private static async Task<T> GetFhirAsync<T>(HttpClient client, string url)
        where T : Resource
    {
        using var response = await client.GetAsync(new Uri(url, UriKind.Relative));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{url}: {(int)response.StatusCode} {body}");
        Assert.Equal("application/fhir+json", response.Content.Headers.ContentType?.MediaType);
        var typed = Assert.IsType<T>(JsonSerializer.Deserialize<Resource>(body, Strict));
        Assert.True(FhirIds.IsValid(typed.Id), $"{typed.TypeName}.id '{typed.Id}'");
        return typed;
    }

    private static List<T> Entries<T>(Bundle bundle)
        where T : Resource
    {
        Assert.Equal(Bundle.BundleType.Searchset, bundle.Type);
        return bundle.Entry.Select(e => Assert.IsType<T>(e.Resource)).ToList();
    }

    [Fact]
    public async Task Every_fhir_route_answers_strict_fhir_r4_for_the_fhir_connector()
    {
        using var client = fixture.Factory.Sandbox();
        var location = await GetFhirAsync<Location>(client, Fhir);
        Assert.Equal(FhirPeer.CareUnit, location.Id);

        var patient = await GetFhirAsync<Patient>(client, $"{Fhir}/patients/{Tolvan}");
        Assert.Contains(patient.Identifier, i => i.System == "urn:oid:1.2.752.129.2.1.3.1" && i.Value == "191212121212");
        Assert.Single(Entries<Patient>(await GetFhirAsync<Bundle>(client, $"{Fhir}/patients?last_name=tolv")));

        Assert.Equal(3, Entries<Practitioner>(await GetFhirAsync<Bundle>(client, $"{Fhir}/resources")).Count);
        Assert.Equal(FhirPeer.Anna, (await GetFhirAsync<Practitioner>(client, $"{Fhir}/resources/{FhirPeer.Anna}")).Id);
        Assert.Equal(2, Entries<HealthcareService>(await GetFhirAsync<Bundle>(client, $"{Fhir}/healthcare-services")).Count);

        var slots = Entries<Slot>(await GetFhirAsync<Bundle>(client, $"{Fhir}/timeslots?resource_id={FhirPeer.Anna}"));
        Assert.True(slots.Count > 20);
        var slot = slots[0];
        var booking = new { start = slot.StartElement.ToString(), end = slot.EndElement.ToString(), patient_id = Tolvan, resource_id = FhirPeer.Anna };
        var booked = Assert.Single((await client.PostJsonAsync($"{Unit}/appointments", booking, HttpStatusCode.Created)).AsArray())!;
        var appointmentId = (string)booked["id"]!;
        var appointment = await GetFhirAsync<Appointment>(client, $"{Fhir}/appointments/{appointmentId}");
        Assert.Equal(Appointment.AppointmentStatus.Booked, appointment.Status);
        Assert.Equal(slot.Start, appointment.Start);
        Assert.Single(Entries<Appointment>(await GetFhirAsync<Bundle>(client, $"{Fhir}/appointments?patient_id={Tolvan}")));

        var note = await client.PostJsonAsync($"{Unit}/patients/{Tolvan}/medical-notes", new { template_id = "leyr_unstructured", title = "Telefon", created_by_id = FhirPeer.Anna, content = new { unstructured = "Ringde." } }, HttpStatusCode.Created);
        var noteReference = await GetFhirAsync<DocumentReference>(client, $"{Fhir}/patients/{Tolvan}/medical-notes/{(string)note["id"]!}");
        var json = noteReference.Content.Select(c => c.Attachment).Single(a => a.ContentType == "application/json");
        Assert.Equal("Ringde.", JsonSerializer.Deserialize<Dictionary<string, string>>(json.Data)!["unstructured"]);
        Assert.Single(Entries<DocumentReference>(await GetFhirAsync<Bundle>(client, $"{Fhir}/patients/{Tolvan}/medical-notes")));

        var pdf = Encoding.ASCII.GetBytes("%PDF-1.4\nhello\n%%EOF\n");
        var upload = new { content = Convert.ToBase64String(pdf), format = "application/pdf", title = "Provsvar", type = "Lab Result", created_by_id = FhirPeer.Anna };
        var document = await client.PostJsonAsync($"{Unit}/patients/{Tolvan}/documents", upload, HttpStatusCode.Created);
        var documentReference = await GetFhirAsync<DocumentReference>(client, $"{Fhir}/patients/{Tolvan}/documents/{(string)document["id"]!}");
        Assert.Equal("application/pdf", documentReference.Content[0].Attachment.ContentType);
        Assert.Single(Entries<DocumentReference>(await GetFhirAsync<Bundle>(client, $"{Fhir}/patients/{Tolvan}/documents")));
    }
}
