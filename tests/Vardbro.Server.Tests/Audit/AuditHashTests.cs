using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Vardbro.Server.Audit;
using Vardbro.Server.Storage;

namespace Vardbro.Server.Tests.Audit;

/// <summary>
/// Stored chains were sealed with the canonical form serialized by <see cref="JsonSerializer"/>; the
/// hand-written form must hash every event to exactly the same value, or verifying an existing trail
/// would report it broken.
/// </summary>
public sealed class AuditHashTests
{
    private static readonly byte[] Key = Enumerable.Range(1, 32).Select(i => (byte)i).ToArray();

    private static string Reference(AuditEventRow e, string previousHash, byte[]? key = null)
    {
        var canonical = JsonSerializer.Serialize(new object?[]
        {
            e.Seq, e.At.UtcTicks.ToString(CultureInfo.InvariantCulture), e.ClientId, e.ActorId, e.Action, e.Emr, e.CareUnitId,
            e.ResourceType, e.ResourceId, e.PatientIds, e.OutcomeStatus, e.RequestId, previousHash,
        });
        var bytes = Encoding.UTF8.GetBytes(canonical);
        return Convert.ToHexStringLower(key is null ? SHA256.HashData(bytes) : HMACSHA256.HashData(key, bytes));
    }

    public static TheoryData<string?, string> Texts => new()
    {
        { null, "" },
        { "plain", "a b c" },
        { "Åsa Öberg-Ødegård \"quoted\" <tag> & 'x' \\ back", "ü ß é \u00e5" },
        { "line\nbreak\ttab\u0001ctl", "emoji \U0001F600 and \u2028 separator" },
        { new string('x', 3000), string.Join(' ', Enumerable.Range(0, 60).Select(i => $"7d1c0b52-{i:D4}-5e6f-8a9b-0c1d2e3f4a5b")) },
    };

    [Theory]
    [MemberData(nameof(Texts))]
    public void The_hash_is_the_one_the_serializer_form_gives(string? text, string patientIds)
    {
        foreach (var seq in new long?[] { null, 1, long.MaxValue })
        {
            var e = new AuditEventRow
            {
                Seq = seq,
                At = new DateTimeOffset(2026, 11, 26, 7, 1, 2, TimeSpan.Zero).AddTicks(1234560),
                ClientId = "client-1",
                ActorId = text,
                Action = "patient.read",
                Emr = text,
                CareUnitId = "L0_1",
                ResourceType = "patient",
                ResourceId = text,
                PatientIds = patientIds,
                OutcomeStatus = 404,
                RequestId = "0HN8:00000001",
            };
            Assert.Equal(Reference(e, AuditSealer.Genesis), AuditSealer.HashOf(e, AuditSealer.Genesis));
            Assert.Equal(Reference(e, "ab\"c"), AuditSealer.HashOf(e, "ab\"c"));

            // Keyed: HMAC-SHA256 of the same canonical form.
            Assert.Equal(Reference(e, "ab\"c", Key), AuditSealer.HashOf(e, "ab\"c", new AuditKey(Key, "unused")));
        }
    }
}
