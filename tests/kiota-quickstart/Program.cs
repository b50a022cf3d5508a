// Leyr's quickstarts (find or create a patient, show availability, book, cancel) through the
// Kiota-generated client, with the errors a client must handle caught as typed errors.
// Usage: KiotaQuickstart <base url> <client id> <client secret>
using System.Globalization;
using Microsoft.Kiota.Abstractions.Authentication;
using Microsoft.Kiota.Http.HttpClientLibrary;
using Vardbro.Client;
using Vardbro.Client.Models;

var http = new HttpClient();
http.DefaultRequestHeaders.Add("x-leyr-client-id", args[1]);
http.DefaultRequestHeaders.Add("x-leyr-client-secret", args[2]);
var adapter = new HttpClientRequestAdapter(new AnonymousAuthenticationProvider(), httpClient: http) { BaseUrl = args[0].TrimEnd('/') };
var client = new VardbroClient(adapter);

var careUnits = await client.Api.Emrs["webdoc"].CareUnits.GetAsync() ?? throw new InvalidOperationException("no care units");
var unitId = careUnits[0].Id!;
var unit = client.Api.Emrs["webdoc"].CareUnits[unitId];
var resources = await unit.Resources.GetAsync() ?? [];
var services = await unit.HealthcareServices.GetAsync() ?? [];
Console.WriteLine($"care unit {unitId}: {resources.Count} resources, {services.Count} services ({services[0].DurationMinutes} min)");

// Find a patient, or create one.
var found = await unit.Patients.GetAsync(c => c.QueryParameters.LastName = "Tolvansson") ?? [];
Check(found.Count > 0, "Tolvansson found");
var created = await unit.Patients.PostAsync(new CreatePatientRequest
{
    FirstName = "Kiota",
    LastName = "Klient",
    ExternalId = "se_personal_number:198702072391",
    Gender = CreatePatientRequest_gender.Male,
    Phones = ["+46701234567"],
});
Check(created?.Id is not null && created.SePersonalNumber == "198702072391", "patient created");
var patient = await unit.Patients["se_personal_number:198702072391"].GetAsync();
Check(patient?.Id == created!.Id, "patient read back by personal number");

// Show availability.
var now = DateTimeOffset.UtcNow;
var slots = await unit.Timeslots.GetAsync(c =>
{
    c.QueryParameters.Start = now;
    c.QueryParameters.End = now.AddDays(14);
    c.QueryParameters.ResourceId = resources[0].Id;
    c.QueryParameters.HealthcareServiceId = services[0].Id;
}) ?? [];
Check(slots.Count > 1, "timeslots listed");
static string Text(DateTimeOffset? t) => t!.Value.ToString("yyyy-MM-dd'T'HH:mm:sszzz", CultureInfo.InvariantCulture);
var slot = slots[0];
BookAppointmentRequest Booking(TimeslotResponse s) => new()
{
    Start = Text(s.Start),
    End = Text(s.End),
    PatientId = "se_personal_number:198702072391",
    ResourceId = s.ResourceId,
    HealthcareServiceId = s.HealthcareServiceId,
    Comment = "Booked through the generated client",
};

// Book, with an idempotency key.
var key = Guid.NewGuid().ToString();
var booked = await unit.Appointments.PostAsync(Booking(slot), c => c.Headers.Add("Idempotency-Key", key)) ?? [];
Check(booked.Count == 1 && booked[0].Status == AppointmentResponse_status.Booked, "appointment booked");
var appointmentId = booked[0].Id!;

// The same slot again: a typed 409.
try
{
    await unit.Appointments.PostAsync(Booking(slot));
    Check(false, "a taken slot is refused");
}
catch (Problem problem) when (problem.ResponseStatusCode == 409)
{
    Check(problem.Errors?.Any(e => e.ErrorCode == Problem_errors_error_code.NO_TIMESLOTS_AVAILABLE) == true, "taken slot: typed 409 NO_TIMESLOTS_AVAILABLE");
}

// The same idempotency key with another body: a typed 422.
try
{
    await unit.Appointments.PostAsync(Booking(slots[1]), c => c.Headers.Add("Idempotency-Key", key));
    Check(false, "a reused idempotency key is refused");
}
catch (Problem problem) when (problem.ResponseStatusCode == 422)
{
    Check(problem.Errors?.Any(e => e.ErrorCode == Problem_errors_error_code.IDEMPOTENCY_KEY_REUSED) == true, "reused key: typed 422 IDEMPOTENCY_KEY_REUSED");
}

// Cancel, then cancel again: a typed 409.
var cancelled = await unit.Appointments[appointmentId].PatchAsync(new UpdateAppointmentRequest { Status = UpdateAppointmentRequest_status.Cancelled, Comment = "Cannot come" });
Check(cancelled?.Status == AppointmentResponse_status.Cancelled, "appointment cancelled");
try
{
    await unit.Appointments[appointmentId].PatchAsync(new UpdateAppointmentRequest { Status = UpdateAppointmentRequest_status.Cancelled });
    Check(false, "cancelling twice is refused");
}
catch (Problem problem) when (problem.ResponseStatusCode == 409)
{
    Check(problem.Status == 409 && problem.Type?.EndsWith("/docs/errors#conflict", StringComparison.Ordinal) == true, "cancel twice: typed 409");
}

var list = await unit.Appointments.GetAsync(c => c.QueryParameters.PatientId = "se_personal_number:198702072391") ?? [];
Check(list.Any(a => a.Id == appointmentId && a.Status == AppointmentResponse_status.Cancelled), "appointment listed as cancelled");
Console.WriteLine("QUICKSTART OK");
return 0;

static void Check(bool condition, string what)
{
    if (!condition)
    {
        throw new InvalidOperationException("FAILED: " + what);
    }

    Console.WriteLine("ok: " + what);
}
