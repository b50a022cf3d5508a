using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Trace;
using Vardbro.Server.Tests.Fhir;
using Vardbro.Server.Tests.Infrastructure;
using Vardbro.Tests.Peers;

namespace Vardbro.Server.Tests.Telemetry;

/// <summary>What a telemetry test captured: spans, log entries at Information for every category.</summary>
public sealed class Captured
{
    public SpanCollection Spans { get; } = new();

    public LogCapture Logs { get; } = new();

    /// <summary>Everything captured as text: span names and tag values, log messages and their values.</summary>
    public string AllText()
    {
        var text = new StringBuilder();
        foreach (var span in Spans)
        {
            text.AppendLine(span.DisplayName);
            foreach (var tag in span.TagObjects)
            {
                text.Append(tag.Key).Append('=').AppendLine(Convert.ToString(tag.Value, System.Globalization.CultureInfo.InvariantCulture));
            }

            foreach (var e in span.Events)
            {
                text.AppendLine(e.Name);
            }
        }

        foreach (var entry in Logs.Entries)
        {
            text.AppendLine(entry);
        }

        return text.ToString();
    }

    /// <summary>The app of <paramref name="factory"/> with every span exported here and every log category at Information captured.</summary>
    public WebApplicationFactory<Program> Around(WebApplicationFactory<Program> factory, Dictionary<string, string?>? settings = null) =>
        factory.WithWebHostBuilder(b =>
        {
            var all = new Dictionary<string, string?>
            {
                ["Logging:LogLevel:Default"] = "Information",
                ["Logging:LogLevel:Microsoft"] = "Information",
                ["Logging:LogLevel:Microsoft.AspNetCore"] = "Information",
                ["Logging:LogLevel:Microsoft.AspNetCore.Hosting.Diagnostics"] = "Information",
                ["Logging:LogLevel:Microsoft.EntityFrameworkCore"] = "Information",
                ["Logging:LogLevel:System.Net.Http"] = "Information",
                ["Logging:LogLevel:Vardbro.Requests"] = "Information",
                ["Telemetry:Prometheus"] = "true",
                ["Telemetry:Tracing"] = "true",
            };
            foreach (var (key, value) in settings ?? [])
            {
                all[key] = value;
            }

            b.ConfigureAppConfiguration(c => c.AddInMemoryCollection(all));
            b.ConfigureLogging(l => l.AddProvider(Logs));
            b.ConfigureTestServices(s => s.ConfigureOpenTelemetryTracerProvider(t => t.AddInMemoryExporter(Spans)));
        });
}

/// <summary>The spans an in-memory exporter adds, from any thread.</summary>
public sealed class SpanCollection : ICollection<Activity>
{
    private readonly ConcurrentQueue<Activity> spans = new();

    public int Count => spans.Count;

    public bool IsReadOnly => false;

    public void Add(Activity item) => spans.Enqueue(item);

    public void Clear() => spans.Clear();

    public bool Contains(Activity item) => spans.Contains(item);

    public void CopyTo(Activity[] array, int arrayIndex) => spans.CopyTo(array, arrayIndex);

    public bool Remove(Activity item) => throw new NotSupportedException("Spans are only added.");

    public IEnumerator<Activity> GetEnumerator() => spans.GetEnumerator();

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}

/// <summary>Keeps every log entry's message, values and exception as text.</summary>
public sealed class LogCapture : ILoggerProvider
{
    public ConcurrentQueue<string> Entries { get; } = new();

    public ILogger CreateLogger(string categoryName) => new Logger(categoryName, Entries);

    public void Dispose()
    {
    }

    private sealed class Logger(string category, ConcurrentQueue<string> entries) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var values = state is IEnumerable<KeyValuePair<string, object?>> pairs ? string.Join(" ", pairs.Select(p => $"{p.Key}={p.Value}")) : "";
            entries.Enqueue($"{logLevel} {category}: {formatter(state, exception)} | {values} | {exception}");
        }
    }
}

public sealed class TelemetryTests(VardbroFactory factory) : IClassFixture<VardbroFactory>
{
    private const string L01 = "/api/emrs/webdoc/care-units/L0_1";

    // A patient made up for this test: its personal number, names and phone must appear nowhere.
    private const string PersonalNumber = "198112189876";
    private const string LastName = "Telemetrisdotter";
    private const string FirstName = "Spårbar";
    private const string Phone = "+46705550123";

    [Fact]
    public async Task The_metrics_endpoint_shows_request_durations_and_after_a_booking_the_booking_and_audit_metrics()
    {
        var captured = new Captured();
        await using var app = captured.Around(factory);
        using var client = app.Sandbox();

        var slots = (await client.GetJsonAsync($"{L01}/timeslots?resource_id=1002&healthcare_service_id=L0_1-general")).AsArray();
        var slot = slots[^1]!;
        var body = new { start = (string)slot["start"]!, end = (string)slot["end"]!, patient_id = "se_personal_number:191212121212", resource_id = "1002" };
        await client.PostJsonAsync($"{L01}/appointments", body, HttpStatusCode.Created);
        using (var again = await client.PostAsync(new Uri($"{L01}/appointments", UriKind.Relative), JsonContent.Of(System.Text.Json.JsonSerializer.Serialize(body))))
        {
            Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
        }

        var metrics = await client.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        Assert.Contains("http_server_request_duration_seconds_bucket{", metrics, StringComparison.Ordinal);
        Assert.Matches("""vardbro_bookings_total\{[^}]*vardbro_emr="webdoc"[^}]*vardbro_outcome="won"[^}]*\} [1-9]""", metrics);
        Assert.Matches("""vardbro_bookings_total\{[^}]*vardbro_outcome="lost"[^}]*\} [1-9]""", metrics);
        Assert.Matches("""vardbro_audit_commit_duration_seconds_count\{[^}]*vardbro_outcome="stored"[^}]*\} [1-9]""", metrics);
        Assert.Matches("""vardbro_audit_events_total\{[^}]*vardbro_outcome="stored"[^}]*\} [1-9]""", metrics);
        Assert.Contains("vardbro_audit_queue_depth", metrics, StringComparison.Ordinal);
        Assert.Contains("vardbro_audit_commit_duration_seconds_bucket{otel_scope_name=\"Vardbro\",vardbro_outcome=\"stored\",le=\"0.005\"}", metrics, StringComparison.Ordinal);
        Assert.Contains("vardbro_outbox_backlog", metrics, StringComparison.Ordinal);

        // The request's server span carries its route, not its path, and its x-request-id.
        var span = captured.Spans.First(s => s.Kind == ActivityKind.Server && (s.GetTagItem("http.route") as string)?.Contains("/appointments", StringComparison.Ordinal) == true && (string?)s.GetTagItem("http.request.method") == "POST");
        Assert.Equal(span.GetTagItem("http.route"), span.GetTagItem("url.path"));
        Assert.NotNull(span.GetTagItem("vardbro.request_id"));
    }

    [Fact]
    public async Task A_refusal_is_answered_at_its_endpoint_so_the_request_log_sees_its_status()
    {
        var captured = new Captured();
        await using var app = captured.Around(factory);
        using var client = app.Sandbox();

        using (var missing = await client.GetAsync(new Uri($"{L01}/patients/emr_id:no-such-patient", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
            Assert.Equal("NOT_FOUND", (string?)JsonNode.Parse(await missing.Content.ReadAsStringAsync())!["errors"]![0]!["error_code"]);
        }

        var slot = (await client.GetJsonAsync($"{L01}/timeslots?resource_id=1002&healthcare_service_id=L0_1-general")).AsArray()[^2]!;
        var body = System.Text.Json.JsonSerializer.Serialize(new { start = (string)slot["start"]!, end = (string)slot["end"]!, patient_id = "se_personal_number:191212121212", resource_id = "1002" });
        using (var won = await client.PostAsync(new Uri($"{L01}/appointments", UriKind.Relative), JsonContent.Of(body)))
        {
            Assert.Equal(HttpStatusCode.Created, won.StatusCode);
        }

        using (var lost = await client.PostAsync(new Uri($"{L01}/appointments", UriKind.Relative), JsonContent.Of(body)))
        {
            Assert.Equal(HttpStatusCode.Conflict, lost.StatusCode);
        }

        // Before, the refusal passed the request log as an exception, which logged the status not yet set (200).
        var requests = captured.Logs.Entries.Where(e => e.Contains("Vardbro.Requests", StringComparison.Ordinal)).ToList();
        Assert.True(requests.Any(e => e.Contains("GET /api/emrs/{emr}/care-units/{care_unit_id}/patients/{patient_id} answered 404", StringComparison.Ordinal)), string.Join('\n', requests));
        Assert.True(requests.Any(e => e.Contains("POST /api/emrs/{emr}/care-units/{care_unit_id}/appointments/ answered 409", StringComparison.Ordinal)), string.Join('\n', requests));
    }

    [Fact]
    public async Task Spans_metrics_and_information_logs_carry_no_personal_number_name_or_phone()
    {
        var captured = new Captured();
        await using var app = captured.Around(factory);
        using var client = app.Sandbox();

        var created = await client.PostJsonAsync($"{L01}/patients", new { first_name = FirstName, last_name = LastName, external_id = "se_personal_number:" + PersonalNumber, phones = new[] { Phone } }, HttpStatusCode.Created);
        await client.GetJsonAsync($"{L01}/patients/se_personal_number:{PersonalNumber}");
        await client.GetJsonAsync($"{L01}/patients?last_name={Uri.EscapeDataString(LastName)}&first_name={Uri.EscapeDataString(FirstName)}");
        await client.GetJsonAsync($"{L01}/patients?phone={Uri.EscapeDataString(Phone)}");
        await client.GetAsync(new Uri($"{L01}/patients/se_personal_number:{PersonalNumber}0", UriKind.Relative)); // malformed: an error path too
        var slot = (await client.GetJsonAsync($"{L01}/timeslots?resource_id=1002&healthcare_service_id=L0_1-general")).AsArray()[^2]!;
        await client.PostJsonAsync($"{L01}/appointments", new { start = (string)slot["start"]!, end = (string)slot["end"]!, patient_id = "se_personal_number:" + PersonalNumber, resource_id = "1002" }, HttpStatusCode.Created);
        var metrics = await client.GetStringAsync(new Uri("/metrics", UriKind.Relative));

        var text = captured.AllText() + metrics;
        Assert.NotEmpty(captured.Spans);
        Assert.Contains("Vardbro.Requests", text, StringComparison.Ordinal); // the logs were captured at Information
        Assert.Contains((string)created["emr_id"]!, JsonSerializer(created), StringComparison.Ordinal);
        foreach (var secret in new[] { PersonalNumber, "19811218-9876", LastName, FirstName, Phone, Phone.TrimStart('+'), "705550123" })
        {
            Assert.DoesNotContain(secret, text, StringComparison.OrdinalIgnoreCase);
        }
    }

    private static string JsonSerializer(JsonNode node) => node.ToJsonString();
}

/// <summary>Connector calls to a FHIR server appear as spans of their own under the request's trace, without URLs.</summary>
public sealed class FhirTelemetryTests(FhirEmrFixture fixture) : IClassFixture<FhirEmrFixture>, IAsyncLifetime
{
    public Task InitializeAsync() => fixture.Peer.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task A_request_against_the_fhir_peer_has_connector_spans_in_its_trace_with_no_personal_number()
    {
        var captured = new Captured();
        await using var app = captured.Around(fixture.Factory);
        using var client = app.Sandbox();

        var traceId = ActivityTraceId.CreateRandom();
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(FhirEmrFactory.Unit + "/patients/se_personal_number:191212121212", UriKind.Relative));
        request.Headers.Add("traceparent", $"00-{traceId}-{ActivitySpanId.CreateRandom()}-01");
        using var response = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        var trace = await WaitForAsync(() => captured.Spans.Where(s => s.TraceId == traceId).ToList(), spans => spans.Any(s => s.Kind == ActivityKind.Server));
        var server = trace.Single(s => s.Kind == ActivityKind.Server);
        var connector = trace.Where(s => s.Source.Name == "Vardbro.Connectors").ToList();
        Assert.NotEmpty(connector);
        Assert.All(connector, s =>
        {
            Assert.Equal("webdoc", s.GetTagItem("vardbro.emr"));
            Assert.Equal("fhir", s.GetTagItem("vardbro.connector"));
        });
        Assert.Contains(connector, s => (string?)s.GetTagItem("vardbro.connector.resource") == "Patient");
        Assert.Contains(trace, s => s.Source.Name == "System.Net.Http" || s.OperationName.StartsWith("System.Net.Http", StringComparison.Ordinal));

        // Every connector span hangs under the request's span.
        var ids = trace.Select(s => s.SpanId).ToHashSet();
        Assert.All(connector, s => Assert.Contains(s.ParentSpanId, ids));
        Assert.Contains(server.SpanId, connector.Select(s => s.ParentSpanId));

        var text = captured.AllText();
        Assert.DoesNotContain("191212121212", text, StringComparison.Ordinal);
        Assert.DoesNotContain("19121212-1212", text, StringComparison.Ordinal);
        Assert.DoesNotContain("Tolvansson", text, StringComparison.OrdinalIgnoreCase);
    }

    private static async Task<List<Activity>> WaitForAsync(Func<List<Activity>> read, Func<List<Activity>, bool> done)
    {
        // The server span ends as the response completes; the exporter may see it a moment later.
        for (var i = 0; i < 50; i++)
        {
            var spans = read();
            if (done(spans))
            {
                return spans;
            }

            await Task.Delay(100);
        }

        return read();
    }
}
