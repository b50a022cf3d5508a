using Microsoft.EntityFrameworkCore;
using Vardbro.Connectors;
using Vardbro.Server.Api;
using Vardbro.Server.Emrs;
using Vardbro.Server.Storage;

namespace Vardbro.Server.Sandbox;

/// <summary><c>Sandbox:Enabled</c>: the sandbox EMRs' data and client; by default on in Development only.</summary>
public sealed class SandboxOptions
{
    public const string Section = "Sandbox";

    public bool? Enabled { get; set; }

    public bool IsEnabled(IHostEnvironment environment) => Enabled ?? environment?.IsDevelopment() == true;
}

/// <summary>
/// Seeds the sandbox on first start: the <c>webdoc</c> and <c>takecare</c> EMRs' master data and
/// test patients (an EMR is seeded only while it has no care units), and the sandbox client.
/// </summary>
public static partial class SandboxSeeder
{
    public const string ClientId = "sandbox-client";
    public const string ClientSecret = "sandbox-secret";


    /// <summary>Only EMRs whose records Vardbro holds itself are seeded; test data never goes to a remote EHR.</summary>
    private static bool OwnsMasterData(EmrCatalog catalog, EmrDefinition emr) =>
        typeof(ISelfHostedEhr).IsAssignableFrom(catalog.KindOf(emr).ConnectorType);

    public static async Task SeedAsync(IServiceProvider services, CancellationToken cancellationToken)
    {
        await using var scope = services.CreateAsyncScope();
        var sp = scope.ServiceProvider;
        var logger = sp.GetRequiredService<ILoggerFactory>().CreateLogger("Vardbro.Sandbox");
        var catalog = sp.GetRequiredService<EmrCatalog>();
        var connectors = sp.GetRequiredService<EmrConnectors>();
        var time = sp.GetRequiredService<TimeProvider>();

        if (catalog.Find("webdoc") is { } webdoc && OwnsMasterData(catalog, webdoc))
        {
            await SeedEmrAsync(connectors, "webdoc", WebDoc, time, cancellationToken);
        }

        if (catalog.Find("takecare") is { } takecare && OwnsMasterData(catalog, takecare))
        {
            await SeedEmrAsync(connectors, "takecare", TakeCare, time, cancellationToken);
        }

        var db = sp.GetRequiredService<VardbroDb>();
        if (!await db.Clients.AnyAsync(c => c.Id == ClientId, cancellationToken))
        {
            var grants = catalog.All.Where(e => e.Code is "webdoc" or "takecare").Select(e => new Grant(e.Code, [Grant.AllCareUnits])).ToList();
            db.Clients.Add(new ClientRow
            {
                Id = ClientId,
                Name = "Sandbox client",
                SecretHash = sp.GetRequiredService<SecretHasher>().Hash(ClientSecret),
                SecretStamp = Secrets.NewStamp(),
                GrantsJson = Secrets.SerializeGrants(grants),
                CreatedAt = time.GetUtcNow(),
            });
            try
            {
                await db.SaveChangesAsync(cancellationToken);
            }
            catch (DbUpdateException)
            {
                // Another instance seeded it at the same moment.
            }
        }

        LogSandboxActive(logger, ClientId);
    }

    private sealed record SeedUnit(NewCareUnit Unit, NewResource[] Resources, NewHealthcareService[] Services);

    /// <summary>
    /// A couple of dozen patients per EMR, so that search, accent folding ("ostrom" finds "Öström") and
    /// paging (seven last names begin with "S") can be tried. Personal numbers carry valid check digits;
    /// none is one the HTTP tests create or expect to be unknown; PatientSearchTests searches webdoc's first seven.
    /// </summary>
    private sealed record SeedPatient(string First, string Last, string PersonalNumber, string? Phone, string? Email);

    private sealed record SeedEmr(SeedUnit[] Units, SeedPatient[] Patients);

    /// <summary>Patients both sandbox EMRs have (as one patient may be registered at two clinics), for search, folding and paging.</summary>
    private static readonly SeedPatient[] Neighbours =
    [
        new SeedPatient("Nils", "Hägglund", "196802095213", null, null),
        new SeedPatient("Maja", "Söderberg", "197605272108", null, null),
        new SeedPatient("Oskar", "Ekström", "197605016828", null, null),
        new SeedPatient("Ingrid", "Fröding", "196002072160", null, null),
        new SeedPatient("Per", "Lindén", "200408139863", null, null),
        new SeedPatient("Sofia", "Mårtensson", "194402141172", null, null),
        new SeedPatient("Gustav", "Wåhlin", "194710245335", null, null),
        new SeedPatient("Linnea", "Björklund", "198508224063", null, null),
        new SeedPatient("Emil", "Dahlström", "199903267525", null, null),
        new SeedPatient("Mads", "Sørensen", "198704256588", null, null),
        new SeedPatient("Ebba", "Sandström", "194804132969", null, null),
        new SeedPatient("Hugo", "Stålhammar", "195203216055", null, null),
        new SeedPatient("Freja", "Kjær", "194809235692", null, null),
        new SeedPatient("Ida", "Svärd", "193508167081", null, null),
        new SeedPatient("Axel", "Strömgren", "195009169441", null, null),
    ];

    private static readonly SeedEmr WebDoc = new(
        [
            new SeedUnit(
                new NewCareUnit("L0_1", "Vårdcentralen Tolvan", "Europe/Stockholm", "Tolvansgatan 1, 123 45 Tolvstad", false),
                [
                    new NewResource("1001", "Anna Lindqvist", "Läkare", ResourceKinds.Practitioner, "SE2321000131-E000000000101", null),
                    new NewResource("1002", "Erik Sandberg", "Sjuksköterska", ResourceKinds.Practitioner, "SE2321000131-E000000000102", null),
                    new NewResource("1003", "Maria Öberg", "Psykolog", ResourceKinds.Practitioner, "SE2321000131-E000000000103", null),
                ],
                [
                    new NewHealthcareService("L0_1-general", "General Consultation", "A general consultation with a practitioner.", 30),
                    new NewHealthcareService("L0_1-follow-up", "Follow-up Visit", "A short follow-up of an earlier visit.", 15),
                ]),
            new SeedUnit(
                new NewCareUnit("L0_2", "Vårdcentralen Tolvan Jour", "Europe/Stockholm", "Tolvansgatan 3, 123 45 Tolvstad", true),
                [
                    new NewResource("2001", "Johan Ek", "Läkare", ResourceKinds.Practitioner, "SE2321000131-E000000000201", null),
                ],
                [
                    new NewHealthcareService("L0_2-general", "General Consultation", "A general consultation with a practitioner.", 30),
                    new NewHealthcareService("L0_2-follow-up", "Follow-up Visit", "A short follow-up of an earlier visit.", 15),
                ]),
        ],
        [
            new SeedPatient("Tolvan", "Tolvansson", "191212121212", "+46001234567", "Tolvan.Tolvansson@example.com"),
            new SeedPatient("Åsa", "Öström", "195003043188", "+46701234522", "åsa@example.com"),
            new SeedPatient("Søren", "Østergård", "194001014275", "+46701234572", "søren@example.com"),
            new SeedPatient("Björn", "Ostrowski", "198702075360", "+46701234591", "björn@example.com"),
            new SeedPatient("Élise", "Ängström", "197110026452", "+46701234534", "élise@example.com"),
            new SeedPatient("Anna", "Andersson", "194912067545", "+46701234506", "anna@example.com"),
            new SeedPatient("Anna", "Andersén", "195008128638", "+46701234556", "anna@example.com"),
            new SeedPatient("Karin", "Bäckström", "194009046238", null, null),
            new SeedPatient("Sven", "Nyström", "196007126417", null, null),
            new SeedPatient("Elin", "Sjöberg", "197210057092", null, null),
            .. Neighbours,
        ]);

    private static readonly SeedEmr TakeCare = new(
        [
            new SeedUnit(
                new NewCareUnit("10", "TakeCare Vårdcentral", "Europe/Stockholm", null, false),
                [
                    new NewResource("10-991890000019", "Läkare Ehn (läk)", "läk", ResourceKinds.Practitioner, null, null),
                ],
                [
                    new NewHealthcareService("10-general", "General Consultation", "A general consultation with a practitioner.", 30),
                    new NewHealthcareService("10-follow-up", "Follow-up Visit", "A short follow-up of an earlier visit.", 15),
                ]),
        ],
        [
            new SeedPatient("Tolvan", "Tolvansson", "191212121212", "+46001234567", "Tolvan.Tolvansson@example.com"),
            new SeedPatient("Lars", "Ström", "197110021834", null, null),
            new SeedPatient("Karin", "Åkesson", "194010126672", null, null),
            new SeedPatient("Sven", "Nyström", "195003042222", null, null),
            new SeedPatient("Greta", "Bäckström", "194912062306", null, null),
            new SeedPatient("Nils", "Öhman", "195008121856", null, null),
            new SeedPatient("Elin", "Sjöberg", "198702072391", null, null),
            .. Neighbours,
            new SeedPatient("Åsa", "Öström", "196104171233", null, null),
            new SeedPatient("Søren", "Østergård", "198309294562", null, null),
        ]);

    private static async Task SeedEmrAsync(EmrConnectors connectors, string emr, SeedEmr seed, TimeProvider time, CancellationToken cancellationToken)
    {
        var directory = connectors.Require<ICareUnitDirectory>(emr);
        if ((await directory.ListCareUnitsAsync(cancellationToken)).Count > 0)
        {
            return;
        }

        var admin = connectors.Require<IMasterDataAdmin>(emr);
        var scheduling = connectors.Require<IScheduling>(emr);
        try
        {
            foreach (var unit in seed.Units)
            {
                await admin.CreateCareUnitAsync(unit.Unit, cancellationToken);
                foreach (var service in unit.Services)
                {
                    await admin.CreateHealthcareServiceAsync(unit.Unit.Id, service, cancellationToken);
                }

                // Weekday working hours as an open-ended rule, so the sandbox never runs out of timeslots.
                var today = TimeZones.LocalDate(time.GetUtcNow(), TimeZones.Find(unit.Unit.TimeZone));
                var hours = new WeeklyRecurrence(
                    [DayOfWeek.Monday, DayOfWeek.Tuesday, DayOfWeek.Wednesday, DayOfWeek.Thursday, DayOfWeek.Friday],
                    new TimeOnly(8, 0), new TimeOnly(16, 0), today, null);
                foreach (var resource in unit.Resources)
                {
                    await admin.CreateResourceAsync(unit.Unit.Id, resource, cancellationToken);
                    await scheduling.CreateScheduleAsync(unit.Unit.Id, resource.Id, new NewSchedule(null, null, hours, []), cancellationToken);
                }
            }
        }
        catch (ConflictException)
        {
            // Another instance is seeding this EMR.
            return;
        }

        var patients = connectors.Require<IPatientDirectory>(emr);
        foreach (var p in seed.Patients)
        {
            var nationalId = new TypedId(IdType.SePersonalNumber, p.PersonalNumber);
            await patients.CreateOrReturnPatientAsync(
                seed.Units[0].Unit.Id,
                new NewPatient(p.First, p.Last, nationalId, null, null, p.Phone is null ? [] : [p.Phone], p.Email is null ? [] : [p.Email], null),
                cancellationToken);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Sandbox mode is on: the sandbox credentials ({ClientId} / sandbox-secret) are active. Turn it off with Sandbox:Enabled=false in production.")]
    private static partial void LogSandboxActive(ILogger logger, string clientId);
}
