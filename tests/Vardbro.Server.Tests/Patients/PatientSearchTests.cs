using System.Net;
using System.Text.Json.Nodes;
using Vardbro.Server.Tests.Infrastructure;

namespace Vardbro.Server.Tests.Patients;

public sealed class PatientSearchTests(VardbroFactory factory) : IClassFixture<VardbroFactory>
{
    private const string L01 = "/api/emrs/webdoc/care-units/L0_1";

    // The sandbox seeds webdoc's patients Åsa Öström (born 1950-03-04, +46701234522, åsa@example.com),
    // Søren Østergård, Björn Ostrowski, Élise Ängström, Anna Andersson and Anna Andersén (SandboxSeeder),
    // and no other last name that folds to a prefix these tests search for.
    private static List<string> LastNames(JsonNode list) => list.AsArray().Select(p => (string)p!["last_name"]!).ToList();

    [Theory]
    [InlineData("last_name=ostrom", new[] { "Öström" })]
    [InlineData("last_name=OSTR", new[] { "Öström", "Ostrowski" })]
    [InlineData("last_name=oster", new[] { "Østergård" })]
    [InlineData("first_name=soren", new[] { "Østergård" })]
    [InlineData("first_name=elise", new[] { "Ängström" })]
    [InlineData("last_name=angstr", new[] { "Ängström" })]
    [InlineData("first_name=tolv", new[] { "Tolvansson" })]
    [InlineData("first_name=Anna&last_name=anders", new[] { "Andersén", "Andersson" })]
    [InlineData("birth_date=1950-03-04", new[] { "Öström" })]
    [InlineData("email=%C3%85SA@EXAMPLE.COM", new[] { "Öström" })]
    [InlineData("phone=%2B46701234522", new[] { "Öström" })]
    [InlineData("phone=0701234522", new[] { "Öström" })]
    [InlineData("last_name=nobody", new string[0])]
    public async Task Names_match_by_folded_prefix_and_other_criteria_exactly(string query, string[] expected)
    {
        using var client = factory.Sandbox();
        var found = await client.GetJsonAsync($"{L01}/patients?{query}");
        Assert.Equal(expected, LastNames(found));
    }

    [Fact]
    public async Task Results_are_sorted_by_folded_last_then_first_name()
    {
        using var client = factory.Sandbox();
        var found = await client.GetJsonAsync($"{L01}/patients?last_name=a");
        // Folded: andersen < andersson < angstrom.
        Assert.Equal(["Andersén", "Andersson", "Ängström"], LastNames(found));
    }

    [Fact]
    public async Task Paging_follows_the_Link_header_to_the_end_without_gaps_or_repeats()
    {
        using var client = factory.Sandbox();
        var seen = new List<string>();
        var url = $"{L01}/patients?last_name=o&limit=1";
        var pages = 0;
        while (url is not null)
        {
            using var response = await client.GetAsync(new Uri(url, UriKind.Relative));
            var page = await response.JsonAsync(HttpStatusCode.OK);
            Assert.True(page.AsArray().Count <= 1);
            seen.AddRange(LastNames(page));
            url = response.Headers.TryGetValues("Link", out var links)
                ? links.Single().Split(';')[0].Trim('<', '>', ' ')
                : null;
            if (url is not null)
            {
                // The cursor says nothing of where it stands: no name, folded or not, in its bytes.
                var cursor = Uri.UnescapeDataString(url.Split("cursor=")[1].Split('&')[0]).Replace('-', '+').Replace('_', '/');
                var bytes = System.Text.Encoding.Latin1.GetString(Convert.FromBase64String(cursor.PadRight(cursor.Length + ((4 - (cursor.Length % 4)) % 4), '=')));
                Assert.All(new[] { "ostergard", "ostrom", "ostrowski", "pat_" }, n => Assert.DoesNotContain(n, bytes, StringComparison.OrdinalIgnoreCase));
                Assert.Contains("limit=1", url, StringComparison.Ordinal);
                Assert.Contains("rel=\"next\"", links!.Single(), StringComparison.Ordinal);
            }

            pages++;
            Assert.True(pages < 10);
        }

        // Folded: ostergard < ostrom < ostrowski.
        Assert.Equal(["Østergård", "Öström", "Ostrowski"], seen);
    }

    [Fact]
    public async Task A_full_last_page_without_more_has_no_Link_header()
    {
        using var client = factory.Sandbox();
        using var response = await client.GetAsync(new Uri($"{L01}/patients?last_name=ostr&limit=2", UriKind.Relative));
        var page = await response.JsonAsync(HttpStatusCode.OK);
        Assert.Equal(2, page.AsArray().Count);
        Assert.False(response.Headers.Contains("Link"));
    }

    [Fact]
    public async Task Search_needs_at_least_one_criterion()
    {
        using var client = factory.Sandbox();
        await client.GetProblemAsync($"{L01}/patients", HttpStatusCode.BadRequest, "MISSING_REQUIRED_FIELD");
        await client.GetProblemAsync($"{L01}/patients?limit=10", HttpStatusCode.BadRequest, "MISSING_REQUIRED_FIELD");
    }

    [Fact]
    public async Task Patients_of_the_EMR_are_found_from_any_of_its_care_units()
    {
        using var client = factory.Sandbox();
        var found = await client.GetJsonAsync("/api/emrs/webdoc/care-units/L0_2/patients?last_name=ostrom");
        Assert.Equal(["Öström"], LastNames(found));
        Assert.Equal("L0_1", (string?)found[0]!["care_unit_id"]);
    }
}
