using System.Text.Json;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;
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
using Vardbro.Server.Features.Events;
using Vardbro.Server.Features.Fhir;
using Vardbro.Server.Features.Health;
using Vardbro.Server.Features.HealthcareServices;
using Vardbro.Server.Features.MedicalNotes;
using Vardbro.Server.Features.Patients;
using Vardbro.Server.Features.Resources;
using Vardbro.Server.Features.Schedules;
using Vardbro.Server.Features.Timeslots;
using Vardbro.Server.Features.Webhooks;
using Vardbro.Server.Idempotency;
using Vardbro.Server.Notifications;
using Vardbro.Server.Sandbox;
using Vardbro.Server.Storage;
using Vardbro.Server.Telemetry;

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
builder.Services.AddSettings<AdminOptions>(AdminOptions.Section);
builder.Services.AddSettings<SandboxOptions>(SandboxOptions.Section);
builder.Services.AddSettings<CursorsOptions>(CursorsOptions.Section);
builder.Services.AddSettings<AuditOptions>(AuditOptions.Section);
builder.Services.AddSettings<DocumentsOptions>(DocumentsOptions.Section);
builder.Services.AddSettings<NotificationsOptions>(NotificationsOptions.Section);
builder.Services.AddSettings<EventsOptions>(EventsOptions.Section);
builder.Services.AddSettings<WebhooksOptions>(WebhooksOptions.Section);
builder.Services.AddSettings<ForwardedHeadersSettings>(ForwardedHeadersSettings.Section);
builder.Services.AddVardbroRateLimits();
builder.Services.AddVardbroStorage();
builder.Services.AddSingleton<EmrCatalog>();
builder.Services.AddScoped<EmrConnectors>();
builder.Services.AddSingleton(sp => CursorKeys.From(sp.GetRequiredService<IOptions<CursorsOptions>>().Value));
builder.Services.AddLocalConnector();
builder.Services.AddFhirConnector();
builder.Services.AddClinikoConnector();
builder.Services.AddSingleton<VerifiedSecretCache>();
builder.Services.AddSingleton<SecretHasher>();
builder.Services.AddSingleton<AuditKey>();
builder.Services.AddSingleton<AuditAnchors>();
builder.Services.AddHostedService(sp => sp.GetRequiredService<AuditAnchors>()); // before the writer: stops after it, anchoring its last events
builder.Services.AddSingleton<AuditSealer>();
builder.Services.AddHostedService(sp => sp.GetRequiredService<AuditSealer>());
builder.Services.AddSingleton<AuditLog>();
builder.Services.AddHostedService(sp => sp.GetRequiredService<AuditLog>());
builder.Services.AddSingleton<IdempotencyStore>();
builder.Services.AddHostedService<IdempotencyPurger>();
builder.Services.AddSingleton<EventPurger>();
builder.Services.AddHostedService(sp => sp.GetRequiredService<EventPurger>());
builder.Services.AddSingleton<ChangePoller>();
builder.Services.AddHostedService(sp => sp.GetRequiredService<ChangePoller>());
WebhookDispatcher.Configure(builder.Services);
builder.Services.AddSingleton<WebhookDispatcher>();
builder.Services.AddHostedService(sp => sp.GetRequiredService<WebhookDispatcher>());
builder.Services.AddSingleton<NotificationSettings>();
builder.Services.AddSingleton(sp => new DocumentLimits(sp.GetRequiredService<IOptions<DocumentsOptions>>().Value.MaxSizeBytes));
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
builder.Services.AddVardbroHealthChecks();
builder.AddVardbroTelemetry();

var app = builder.Build();

// ---- start: configuration, database, sandbox -------------------------------------------------
// Every setting is checked before anything starts; a bad one ends the process with one line naming it.
if (Settings.Problems(app.Services, () => app.Services.GetRequiredService<EmrCatalog>(), () => app.Services.GetRequiredService<StorageSettings>(), () => app.Services.GetRequiredService<SecretHasher>(), () => app.Services.GetRequiredService<CursorSigner>(), () => app.Services.GetRequiredService<AuditKey>(), () => app.Services.GetRequiredService<IOptions<RateLimitsOptions>>().Value.CheckEmrs(app.Services.GetRequiredService<EmrCatalog>())) is { } problems)
{
    await Console.Error.WriteLineAsync(problems);
    await app.DisposeAsync();
    return 1;
}

try
{
    await StorageSetup.MigrateAsync(app.Services, app.Lifetime.ApplicationStopping);
}
catch (StartupFailedException ex)
{
    await Console.Error.WriteLineAsync(ex.Message);
    await app.DisposeAsync();
    return 1;
}

await app.Services.GetRequiredService<AuditSealer>().PrepareAsync(app.Lifetime.ApplicationStopping);

var sandbox = app.Services.GetRequiredService<IOptions<SandboxOptions>>().Value.IsEnabled(app.Environment);
if (sandbox)
{
    await SandboxSeeder.SeedAsync(app.Services, app.Lifetime.ApplicationStopping);
}

// ---- pipeline -------------------------------------------------------------------------------
if (app.Services.GetRequiredService<IOptions<ForwardedHeadersSettings>>().Value is { Enabled: true } forwarded)
{
    app.UseForwardedHeaders(forwarded.ToOptions());
}

app.UseMiddleware<RequestIdMiddleware>();
app.UseExceptionHandler();
app.UseStatusCodePages(ErrorPages.WriteStatusCodePageAsync);
app.UseMiddleware<LeyrStandard>(); // before routing: a FHIR switch routes the GET to its /api/fhir twin
app.UseRouting();
app.UseMiddleware<RequestLogMiddleware>();
app.UseMiddleware<BodySizeLimitMiddleware>();
app.UseMiddleware<AuthMiddleware>();
if (app.Services.GetRequiredService<IOptions<RateLimitsOptions>>().Value.Enabled)
{
    app.UseRateLimiter(); // after authentication: the limits are per client
}

app.UseMiddleware<QueryParameterMiddleware>();
app.UseMiddleware<IdempotencyMiddleware>();

// ---- routes ---------------------------------------------------------------------------------
app.MapHealth();
app.MapVardbroMetrics();
app.MapOpenApi();
app.MapScalarApiReference("/docs/reference", o => ReferencePage.Configure(o, app.Environment.IsDevelopment() && sandbox));
app.MapGet("/docs/errors", ErrorPages.Reference).ExcludeFromDescription();

var api = app.MapGroup("/api").AnsweredAtTheEndpoint();
api.MapEmrs();
api.MapMedicalNoteTemplates();
api.MapWebhooks();

// Leyr's older appointment routes, which name no care unit: each finds the appointment's own.
api.MapGroup("/emrs/{emr}").MapAppointmentsWithoutCareUnit();

var careUnit = api.MapGroup("/emrs/{emr}/care-units/{care_unit_id}").AddEndpointFilterFactory(CareUnitScope.Resolve);
careUnit.MapResources();
careUnit.MapHealthcareServices();
careUnit.MapPatients();
careUnit.MapSchedules();
careUnit.MapTimeslots();
careUnit.MapAppointments();
careUnit.MapMedicalNotes();
careUnit.MapDocuments(app.Services.GetRequiredService<DocumentLimits>());
careUnit.MapEvents();

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
return 0;

/// <summary>The entry point, visible to the HTTP-level tests.</summary>
public partial class Program;
