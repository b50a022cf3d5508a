using System.Text.Json;
using Microsoft.AspNetCore.Http.Json;
using Scalar.AspNetCore;
using Vardbro.Connectors;
using Vardbro.Connectors.Cliniko;
using Vardbro.Connectors.Fhir;
using Vardbro.Connectors.Local;
using Vardbro.Server.Api;
using Vardbro.Server.Audit;
using Vardbro.Server.Emrs;
using Vardbro.Server.Features;
using Vardbro.Server.Features.Admin;
using Vardbro.Server.Features.Appointments;
using Vardbro.Server.Features.Documents;
using Vardbro.Server.Features.Emrs;
using Vardbro.Server.Features.Fhir;
using Vardbro.Server.Features.Health;
using Vardbro.Server.Features.HealthcareServices;
using Vardbro.Server.Features.MedicalNotes;
using Vardbro.Server.Features.Patients;
using Vardbro.Server.Features.Resources;
using Vardbro.Server.Features.Schedules;
using Vardbro.Server.Features.Timeslots;
using Vardbro.Server.Idempotency;
using Vardbro.Server.Notifications;
using Vardbro.Server.Sandbox;
using Vardbro.Server.Storage;

// Malformed JSON read through the PipeReader-based binder leaves the connection in a broken state
// (Kestrel then drops it); the stream-based reader reports the same JsonException cleanly.
AppContext.SetSwitch("Microsoft.AspNetCore.UseStreamBasedJsonParsing", true);

// Started from another directory (a service unit, a script), the server still reads the settings
// shipped beside it; `dotnet run` keeps the project directory as its content root.
var builder = WebApplication.CreateBuilder(new WebApplicationOptions
{
    Args = args,
    ContentRootPath = File.Exists(Path.Combine(Directory.GetCurrentDirectory(), "appsettings.json")) ? null : AppContext.BaseDirectory,
});

// ---- services -----------------------------------------------------------------------------
builder.Services.AddSingleton(TimeProvider.System);
builder.Services.AddVardbroStorage();
builder.Services.AddSingleton<EmrCatalog>();
builder.Services.AddScoped<EmrConnectors>();
builder.Services.AddSingleton(sp => CursorKeys.From(sp.GetRequiredService<IConfiguration>()));
builder.Services.AddLocalConnector();
builder.Services.AddFhirConnector();
builder.Services.AddClinikoConnector();
builder.Services.AddSingleton<VerifiedSecretCache>();
builder.Services.AddSingleton<AuditSealer>();
builder.Services.AddHostedService(sp => sp.GetRequiredService<AuditSealer>());
builder.Services.AddSingleton<AuditLog>();
builder.Services.AddHostedService(sp => sp.GetRequiredService<AuditLog>());
builder.Services.AddSingleton<IdempotencyStore>();
builder.Services.AddHostedService<IdempotencyPurger>();
builder.Services.AddSingleton<NotificationSettings>();
builder.Services.AddSingleton(sp => DocumentLimits.From(sp.GetRequiredService<IConfiguration>()));
builder.Services.AddHttpClient<HttpNotificationSender>(HttpNotificationSender.Configure);
builder.Services.AddSingleton<NotificationDispatcher>();
builder.Services.AddScoped<INotificationOutbox, OutboxPort>();
builder.Services.AddHostedService(sp => sp.GetRequiredService<NotificationDispatcher>());
builder.Services.AddExceptionHandler<ErrorHandler>();
builder.Services.AddProblemDetails();
builder.Services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
builder.Services.Configure<JsonOptions>(o =>
{
    o.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
    o.SerializerOptions.DictionaryKeyPolicy = null;
    o.SerializerOptions.Encoder = Problem.JsonEncoder;

    // A key given twice is refused in every body (also inside JsonElement fields such as a note's
    // content): "last one wins" would let a client's second value silently replace its first.
    o.SerializerOptions.AllowDuplicateProperties = false;
});
builder.Services.AddOpenApi(OpenApiSetup.Configure);

var app = builder.Build();

// ---- start: configuration, database, sandbox -------------------------------------------------
_ = app.Services.GetRequiredService<EmrCatalog>(); // a bad Emrs entry stops the start, with its reason
_ = app.Services.GetRequiredService<CursorSigner>(); // so does a bad Cursors:Key
await StorageSetup.MigrateAsync(app.Services, app.Lifetime.ApplicationStopping);
if (SandboxSeeder.IsEnabled(app.Configuration, app.Environment))
{
    await SandboxSeeder.SeedAsync(app.Services, app.Lifetime.ApplicationStopping);
}

// ---- pipeline -------------------------------------------------------------------------------
app.UseMiddleware<RequestIdMiddleware>();
app.UseExceptionHandler();
app.UseStatusCodePages(ErrorPages.WriteStatusCodePageAsync);
app.UseRouting();
app.UseMiddleware<BodySizeLimitMiddleware>();
app.UseMiddleware<AuthMiddleware>();
app.UseMiddleware<IdempotencyMiddleware>();

// ---- routes ---------------------------------------------------------------------------------
app.MapHealth();
app.MapOpenApi();
app.MapScalarApiReference("/docs/reference");
app.MapGet("/docs/errors", ErrorPages.Reference).ExcludeFromDescription();

var api = app.MapGroup("/api");
api.MapEmrs();
api.MapMedicalNoteTemplates();

var careUnit = api.MapGroup("/emrs/{emr}/care-units/{care_unit_id}").AddEndpointFilterFactory(CareUnitScope.Resolve);
careUnit.MapResources();
careUnit.MapHealthcareServices();
careUnit.MapPatients();
careUnit.MapSchedules();
careUnit.MapTimeslots();
careUnit.MapAppointments();
careUnit.MapMedicalNotes();
careUnit.MapDocuments(DocumentLimits.From(app.Configuration));

// The same reads as FHIR R4 resources, for every connector (docs/api.md, "FHIR-shaped output").
var fhirCareUnit = api.MapGroup("/fhir/emrs/{emr}/care-units/{care_unit_id}").AddEndpointFilterFactory(CareUnitScope.Resolve);
fhirCareUnit.MapFhir();
api.MapGroup("/fhir/emrs/{emr}").AddEndpointFilterFactory(CareUnitScope.Resolve).MapFhirLocations();

var admin = api.MapGroup("/admin");
admin.MapClientsAdmin();
admin.MapMasterDataAdmin();
admin.MapAuditAdmin();
admin.MapOutboxAdmin();

await app.RunAsync();

/// <summary>The entry point, visible to the HTTP-level tests.</summary>
public partial class Program;
