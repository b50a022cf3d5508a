using System.Net;
using System.Text.Json.Nodes;
using Vardbro.Server.Tests.Infrastructure;

namespace Vardbro.Server.Tests.Patients;

/// <summary>
/// Leyr's lists are bare arrays that its clients read whole ("leave parameters empty to see all"):
/// without <c>limit</c> a list answers all its items up to 1,000 and only a longer one announces a next
/// page; with <c>limit</c> it pages as before (API.md §8).
/// </summary>
public sealed class WholeListTests(VardbroFactory factory) : IClassFixture<VardbroFactory>
{
    private const string L01 = "/api/emrs/webdoc/care-units/L0_1";

    private static async Task<(JsonArray Items, string? Next)> PageAsync(HttpClient client, string url)
    {
        using var response = await client.GetAsync(new Uri(url, UriKind.Relative));
        var items = (await response.JsonAsync(HttpStatusCode.OK)).AsArray();
        var next = response.Headers.TryGetValues("Link", out var links) ? links.Single() : null;
        return (items, next is null ? null : next[(next.IndexOf('<', StringComparison.Ordinal) + 1)..next.IndexOf('>', StringComparison.Ordinal)]);
    }

    [Fact]
    public async Task A_search_without_limit_answers_up_to_1000_and_pages_beyond_and_a_limit_pages_as_before()
    {
        using var client = factory.Sandbox();
        using var gate = new SemaphoreSlim(8);
        var creates = Enumerable.Range(0, 1001).Select(async i =>
        {
            await gate.WaitAsync();
            try
            {
                await client.PostJsonAsync($"{L01}/patients", new { first_name = $"P{i:D4}", last_name = "Helalista" }, HttpStatusCode.Created);
            }
            finally
            {
                gate.Release();
            }
        });
        await Task.WhenAll(creates);

        var (first, next) = await PageAsync(client, $"{L01}/patients?last_name=helalista");
        Assert.Equal(1000, first.Count);
        Assert.NotNull(next);
        Assert.DoesNotContain("limit=", next, StringComparison.Ordinal);
        var (rest, end) = await PageAsync(client, next);
        Assert.Equal("P1000", (string?)Assert.Single(rest)!["first_name"]);
        Assert.Null(end);
        Assert.Equal(1001, first.Concat(rest).Select(p => (string)p!["id"]!).Distinct().Count());

        var (paged, pagedNext) = await PageAsync(client, $"{L01}/patients?last_name=helalista&limit=200");
        Assert.Equal(200, paged.Count);
        Assert.Contains("limit=200", pagedNext, StringComparison.Ordinal);

        // The audit list, read by the operator, is a list like any other: its 1,001 creates and more.
        using var admin = factory.Admin();
        var (events, eventsNext) = await PageAsync(admin, "/api/admin/audit");
        Assert.Equal(1000, events.Count);
        Assert.NotNull(eventsNext);
        var (fifty, _) = await PageAsync(admin, "/api/admin/audit?limit=50");
        Assert.Equal(50, fifty.Count);
    }

    [Fact]
    public async Task Appointments_notes_and_documents_without_limit_come_whole_past_the_old_page_of_50()
    {
        using var client = factory.Sandbox();
        var patient = await client.PostJsonAsync($"{L01}/patients", new { first_name = "Lista", last_name = "Långsson", external_id = "197110021834" }, HttpStatusCode.Created);
        var patientId = (string)patient["emr_id"]!;
        var patientPath = $"{L01}/patients/emr_id:{patientId}";

        var now = TimeProvider.System.GetUtcNow();
        var slots = (await client.GetJsonAsync($"{L01}/timeslots?healthcare_service_id=L0_1-follow-up&start={Uri.EscapeDataString(now.ToString("O"))}&end={Uri.EscapeDataString(now.AddDays(30).ToString("O"))}")).AsArray();
        var taken = new HashSet<(string?, string?)>();
        foreach (var slot in slots)
        {
            // One per resource and time: a booking takes that resource's slot for every service.
            if (taken.Count == 55 || !taken.Add(((string?)slot!["resource_id"], (string?)slot["start"])))
            {
                continue;
            }

            using var content = JsonContent.Of(new JsonObject { ["start"] = (string?)slot["start"], ["end"] = (string?)slot["end"], ["patient_id"] = patientId, ["resource_id"] = (string?)slot["resource_id"], ["healthcare_service_id"] = "L0_1-follow-up" }.ToJsonString());
            using var booked = await client.PostAsync(new Uri($"{L01}/appointments", UriKind.Relative), content);
            if (booked.StatusCode != HttpStatusCode.Created)
            {
                // Overlapping follow-up pieces of one window: the first took the time.
                taken.Remove(((string?)slot["resource_id"], (string?)slot["start"]));
            }
        }

        Assert.Equal(55, taken.Count);
        for (var i = 0; i < 55; i++)
        {
            await client.PostJsonAsync($"{patientPath}/medical-notes", new { template_id = "leyr_unstructured", title = $"Anteckning {i}", created_by_id = "1001", content = new { unstructured = "Text" } }, HttpStatusCode.Created);
            await client.PostJsonAsync($"{patientPath}/documents", new { content = Convert.ToBase64String("Hej"u8.ToArray()), format = "text/plain", title = $"Brev {i}", type = "Letter", created_by_id = "1001" }, HttpStatusCode.Created);
        }

        foreach (var list in new[] { $"{L01}/appointments?patient_id={patientId}", $"{patientPath}/medical-notes", $"{patientPath}/documents" })
        {
            var (whole, next) = await PageAsync(client, list);
            Assert.Equal(55, whole.Count);
            Assert.Null(next);

            var (page, pageNext) = await PageAsync(client, list + (list.Contains('?', StringComparison.Ordinal) ? "&" : "?") + "limit=50");
            Assert.Equal(50, page.Count);
            Assert.NotNull(pageNext);
            var (rest, end) = await PageAsync(client, pageNext);
            Assert.Equal(5, rest.Count);
            Assert.Null(end);
        }
    }
}
