using System.Globalization;

namespace Vardbro.Connectors.Fhir;

/// <summary>One FHIR EMR's settings, from <c>Emrs:&lt;code&gt;:…</c>.</summary>
/// <param name="BaseUrl">The FHIR base, e.g. <c>https://ehr.example/fhir/R4/</c> (always ends with '/').</param>
/// <param name="Timeout">The longest a call to the server may take, retries included.</param>
/// <param name="ReadRetries">How many times a failed read is retried (writes never are).</param>
/// <param name="ConditionalCreate">Whether the server honours <c>If-None-Exist</c>; if not, patients are looked up first.</param>
/// <param name="TimeZone">The care units' time zone where a Location does not say.</param>
/// <param name="DefaultServiceMinutes">The length of a HealthcareService that does not say.</param>
/// <param name="ScheduleHorizonDays">How far ahead a weekly schedule is turned into Slots.</param>
/// <param name="Code">The EMR's code, for messages that name its settings.</param>
/// <param name="MaxPages">The most pages one read follows before it is refused as too large (502, naming this setting).</param>
/// <param name="Booking">How bookings are made (<c>Emrs:&lt;code&gt;:Booking</c>); <see cref="FhirBooking.Auto"/> decides from the CapabilityStatement.</param>
/// <param name="CareUnitQuery">The search that lists care units (<c>Emrs:&lt;code&gt;:CareUnitQuery</c>), for servers that refuse an unconstrained Location search.</param>
/// <param name="NoteFieldsAsText">
/// Store a note's fields as <c>text/plain</c> (<c>Emrs:&lt;code&gt;:NoteFields = text</c>) for servers that accept only
/// document content types (Millennium); by default (<c>json</c>) as <c>application/json</c>.
/// </param>
/// <param name="SortAlways">
/// Send <c>_sort</c> even where the CapabilityStatement does not declare it (<c>Emrs:&lt;code&gt;:Sort = always</c>),
/// for servers known to honour it undeclared; by default (<c>declared</c>) only where declared.
/// </param>
public sealed record FhirSettings(
    Uri BaseUrl,
    TimeSpan Timeout,
    int ReadRetries,
    bool ConditionalCreate,
    string TimeZone,
    int DefaultServiceMinutes,
    int ScheduleHorizonDays,
    string Code = "fhir",
    int MaxPages = 100,
    bool SortAlways = false,
    FhirBooking Booking = FhirBooking.Auto,
    string CareUnitQuery = "Location?_count=100",
    bool NoteFieldsAsText = false)
{
    /// <summary>Reads the settings through <paramref name="get"/> (a key below <c>Emrs:&lt;code&gt;</c>); problems are listed, not thrown.</summary>
    public static (FhirSettings? Settings, IReadOnlyList<string> Problems) Read(string code, Func<string, string?> get)
    {
        ArgumentNullException.ThrowIfNull(get);
        var problems = new List<string>();
        var raw = get("BaseUrl");
        Uri? baseUrl = null;
        if (string.IsNullOrWhiteSpace(raw))
        {
            problems.Add($"Emrs:{code}:BaseUrl is required for a fhir EMR (the FHIR base, e.g. https://ehr.example/fhir/R4).");
        }
        else if (!Uri.TryCreate(raw.EndsWith('/') ? raw : raw + "/", UriKind.Absolute, out baseUrl) || baseUrl.Scheme is not ("http" or "https"))
        {
            problems.Add($"Emrs:{code}:BaseUrl must be an absolute http(s) URL.");
        }

        var timeout = ConnectorSettings.Number(code, get, "TimeoutSeconds", 10, 1, 600, problems);
        var retries = ConnectorSettings.Number(code, get, "ReadRetries", 2, 0, 10, problems);
        var minutes = ConnectorSettings.Number(code, get, "DefaultServiceMinutes", 30, 5, 480, problems);
        var horizon = ConnectorSettings.Number(code, get, "ScheduleHorizonDays", 90, 1, 366, problems);
        var maxPages = ConnectorSettings.Number(code, get, "MaxPages", 100, 1, 10_000, problems);
        var conditional = true;
        if (get("ConditionalCreate") is { } flag && !bool.TryParse(flag, out conditional))
        {
            problems.Add($"Emrs:{code}:ConditionalCreate must be true or false.");
        }

        var sort = get("Sort") ?? "declared";
        if (sort is not ("declared" or "always"))
        {
            problems.Add($"Emrs:{code}:Sort must be 'declared' or 'always', not '{sort}'.");
        }

        var bookingName = get("Booking") ?? "auto";
        var booking = bookingName switch
        {
            "auto" => FhirBooking.Auto,
            "slot-update" => FhirBooking.SlotUpdate,
            "appointment-with-slot" => FhirBooking.AppointmentWithSlot,
            "find-book" => FhirBooking.FindBook,
            _ => (FhirBooking?)null,
        };
        if (booking is null)
        {
            problems.Add($"Emrs:{code}:Booking must be auto, slot-update, appointment-with-slot or find-book, not '{bookingName}'.");
        }

        var careUnitQuery = get("CareUnitQuery") ?? "Location?_count=100";
        if (!careUnitQuery.StartsWith("Location?", StringComparison.Ordinal) || careUnitQuery.Any(char.IsWhiteSpace))
        {
            problems.Add($"Emrs:{code}:CareUnitQuery must be a Location search relative to the base, e.g. Location?-physicalType=bu.");
        }

        var noteFields = get("NoteFields") ?? "json";
        if (noteFields is not ("json" or "text"))
        {
            problems.Add($"Emrs:{code}:NoteFields must be 'json' or 'text', not '{noteFields}'.");
        }

        var zone = get("TimeZone") ?? TimeZones.Default;
        if (!TimeZones.TryFind(zone, out _))
        {
            problems.Add($"Emrs:{code}:TimeZone '{zone}' is not a known time zone.");
        }

        return problems.Count > 0 || baseUrl is null
            ? (null, problems)
            : (new FhirSettings(baseUrl, TimeSpan.FromSeconds(timeout), retries, conditional, zone, minutes, horizon, code, maxPages, sort == "always", booking ?? FhirBooking.Auto, careUnitQuery, noteFields == "text"), problems);
    }

}

/// <summary>The ways FHIR servers take bookings (README "Connecting a FHIR R4 server").</summary>
public enum FhirBooking
{
    /// <summary>Chosen from the server's CapabilityStatement.</summary>
    Auto,

    /// <summary>Mark the Slot busy with a versioned update (If-Match), then create the Appointment.</summary>
    SlotUpdate,

    /// <summary>Create the Appointment booked with one Slot reference; the server consumes the Slot and refuses a taken one (Oracle Health).</summary>
    AppointmentWithSlot,

    /// <summary><c>Appointment/$find</c> for timeslots, <c>$book</c> to book (Argonaut Scheduling, Epic).</summary>
    FindBook,
}
