using System.Net;
using System.Text.Json.Nodes;

namespace Vardbro.Server.Tests.Processes;

/// <summary>One round of a race: the same booking sent at once by many clients split over two server processes.</summary>
public static class BookingRace
{
    public static async Task<HttpStatusCode[]> RunAsync(ServerProcess first, ServerProcess second, string appointmentsUrl, JsonNode slot, string resourceId, int requests = 20)
    {
        ArgumentNullException.ThrowIfNull(first);
        ArgumentNullException.ThrowIfNull(second);
        ArgumentNullException.ThrowIfNull(slot);
        var body = new JsonObject
        {
            ["start"] = (string)slot["start"]!,
            ["end"] = (string)slot["end"]!,
            ["patient_id"] = "se_personal_number:191212121212",
            ["resource_id"] = resourceId,
        }.ToJsonString();
        var clients = Enumerable.Range(0, requests).Select(i => i % 2 == 0 ? first.Sandbox() : second.Sandbox()).ToList();
        try
        {
            using var gate = new ManualResetEventSlim(false);
            var tasks = clients.Select(c => Task.Run(async () =>
            {
                gate.Wait();
                using var response = await c.PostAsync(new Uri(appointmentsUrl, UriKind.Relative), Infrastructure.JsonContent.Of(body));
                return response.StatusCode;
            })).ToList();
            gate.Set();
            return await Task.WhenAll(tasks);
        }
        finally
        {
            clients.ForEach(c => c.Dispose());
        }
    }
}
