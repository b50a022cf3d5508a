using System.Text;
using System.Text.Json;
using Vardbro.Connectors.Fhir;
using Vardbro.Connectors.Fhir.Auth;
using Vardbro.Tests.Peers;

namespace Vardbro.Connectors.Tests.Fhir;

/// <summary>The peer as Oracle Health Millennium pages: <c>_offset</c> ignored, <c>_sort</c> refused, pages capped at two.</summary>
public sealed class CappedOraclePeerFixture : IAsyncLifetime
{
    public FhirPeer Peer { get; private set; } = null!;

    public async Task InitializeAsync() => Peer = await FhirPeer.StartAsync("oracle", maxCount: 2);

    public Task DisposeAsync() => Peer.DisposeAsync().AsTask();
}

/// <summary>
/// Paging by the server's own links: every match exactly once whatever the server's page size, no
/// loop, no silent cut, and cursors a client cannot forge to point Vardbro elsewhere.
/// </summary>
public sealed class FhirPagingTests(CappedOraclePeerFixture fixture) : IClassFixture<CappedOraclePeerFixture>
{
    // The oracle profile's seed: Tolvan Tolvansson and the five Tolvgrens match family "tolv".
    private static readonly string[] Tolv = ["tolvan-tolvansson", "tolvgren-anders", "tolvgren-beata", "tolvgren-cecilia", "tolvgren-david", "tolvgren-eva"];

    private FhirConnector Connector(string? maxPages = null, CursorSigner? cursors = null)
    {
        var settings = FhirSettings.Read("oracle", key => key switch
        {
            "BaseUrl" => fixture.Peer.BaseUrl,
            "MaxPages" => maxPages,
            _ => null,
        }).Settings!;
        return new FhirConnector(FhirTransport.Create(settings, new FhirAuthSettings(), TimeProvider.System), settings, TimeProvider.System, cursors);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(50)]
    public async Task Every_match_comes_exactly_once_whatever_the_servers_page_size(int limit)
    {
        var connector = Connector();
        var seen = new List<string>();
        string? cursor = null;
        for (var pages = 0; ; pages++)
        {
            Assert.True(pages < 10, "the pages never end");
            var page = await connector.SearchPatientsAsync(new PatientQuery(null, "tolv", null, null, null), limit, cursor, default);
            Assert.True(page.Items.Count <= limit);
            Assert.True(page.Items.Count == limit || page.NextCursor is null, "a short page before the last");
            seen.AddRange(page.Items.Select(p => p.EmrId));
            if ((cursor = page.NextCursor) is null)
            {
                break;
            }
        }

        Assert.Equal(Tolv, seen.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task A_page_the_server_cannot_fill_within_the_page_ceiling_is_a_bad_answer_naming_the_setting()
    {
        var error = await Assert.ThrowsAsync<EmrBadAnswerException>(() => Connector(maxPages: "2").SearchPatientsAsync(new PatientQuery(null, "tolv", null, null, null), 6, null, default));
        Assert.Contains("Emrs:oracle:MaxPages", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_forged_or_foreign_cursor_is_refused_before_anything_is_fetched()
    {
        var connector = Connector();
        var page = await connector.SearchPatientsAsync(new PatientQuery(null, "tolv", null, null, null), 2, null, default);
        var cursor = page.NextCursor!;
        var parts = Cursors.Decode(cursor, 4);

        // Another host, another path, a wider search, another resource type, the position: each part is signed.
        string[] forged =
        [
            Cursors.Encode(parts[0], "http://169.254.169.254/latest/meta-data", parts[2], parts[3]),
            Cursors.Encode(parts[0], parts[1] + "&family=a", parts[2], parts[3]),
            Cursors.Encode("Appointment", parts[1], parts[2], parts[3]),
            Cursors.Encode(parts[0], parts[1], parts[2] == "0" ? "1" : "0", parts[3]),
            Convert.ToBase64String(Encoding.UTF8.GetBytes(JsonSerializer.Serialize(parts))).TrimEnd('=') + "x",
        ];
        await fixture.Peer.ClearRequestsAsync();
        foreach (var bad in forged)
        {
            var error = await Assert.ThrowsAsync<VardbroException>(() => connector.SearchPatientsAsync(new PatientQuery(null, "tolv", null, null, null), 2, bad, default));
            Assert.Equal((ErrorCodes.InvalidField, "cursor"), (error.Errors[0].ErrorCode, error.Errors[0].Path));
        }

        Assert.Empty(await fixture.Peer.RequestsAsync());

        // Signed by another key (another instance without the shared Cursors:Key): refused too.
        var other = Connector(cursors: new CursorSigner(new byte[32]));
        await Assert.ThrowsAsync<VardbroException>(() => other.SearchPatientsAsync(new PatientQuery(null, "tolv", null, null, null), 2, cursor, default));
    }
}
