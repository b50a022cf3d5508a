using Vardbro.Server.Api;

namespace Vardbro.Server.Tests.Patients;

/// <summary>
/// Vardbro's patient id is an RFC 4122 version 5 UUID of <c>emr/emr_id</c> under Vardbro's namespace;
/// clients store it, so it must never change. The expected values come from another implementation
/// (Python's <c>uuid.uuid5</c> with namespace 6f0e6c1a-3b55-4d8e-9a41-2c7d105eb327).
/// </summary>
public sealed class PatientIdTests
{
    [Theory]
    [InlineData("webdoc", "P1", "948d14b4-4a98-5978-bb95-a670fbbab4b0")]
    [InlineData("bench", "P000123", "15517091-2f09-5181-98a2-8bbe33f2e2df")]
    public void The_id_is_the_name_based_uuid_of_emr_and_emr_id(string emr, string emrId, string expected) =>
        Assert.Equal(expected, Ids.VardbroPatientId(emr, emrId));

    [Fact]
    public void Long_and_non_ascii_emr_ids_hash_their_utf8_bytes() =>
        Assert.Equal("d351e482-f8c3-5174-9627-7cbe0e3c8326", Ids.VardbroPatientId("takecare", "å-ö-" + new string('x', 300)));
}
