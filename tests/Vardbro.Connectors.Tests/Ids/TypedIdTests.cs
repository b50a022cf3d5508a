namespace Vardbro.Connectors.Tests.Ids;

public class TypedIdTests
{
    private static readonly DateOnly Today = new(2026, 3, 25);

    [Theory]
    [InlineData("abc_12345", IdType.EmrId, "abc_12345")]
    [InlineData("emr_id:abc_12345", IdType.EmrId, "abc_12345")]
    [InlineData("emr_id:a:b", IdType.EmrId, "a:b")]
    [InlineData("emr_id:se_personal_number:1", IdType.EmrId, "se_personal_number:1")]
    [InlineData("Patient 1", IdType.EmrId, "Patient 1")]
    [InlineData("se_personal_number:191212121212", IdType.SePersonalNumber, "191212121212")]
    [InlineData("se_personal_number:19121212-1212", IdType.SePersonalNumber, "191212121212")]
    [InlineData("se_personal_number:121212+1212", IdType.SePersonalNumber, "191212121212")]
    [InlineData("se_personal_number:121212-1212", IdType.SePersonalNumber, "201212121212")]
    [InlineData("no_personal_number:26258605879", IdType.NoPersonalNumber, "26258605879")]
    [InlineData("no_personal_number:262586 05879", IdType.NoPersonalNumber, "26258605879")]
    [InlineData("nhs_number:943 476 5919", IdType.NhsNumber, "9434765919")]
    [InlineData("nhs_number:943-476-5919", IdType.NhsNumber, "9434765919")]
    public void ParsesPatientIdsToCanonicalValues(string raw, IdType type, string value)
    {
        TypedId id = TypedId.Parse(raw, IdSubject.Patient, Today, "patient_id");
        Assert.Equal(new TypedId(type, value), id);
    }

    [Theory]
    [InlineData("res-1", IdType.EmrId, "res-1")]
    [InlineData("hsa_id:SE2321000131-E000000012345", IdType.HsaId, "SE2321000131-E000000012345")]
    [InlineData("hsa_id:SE162321000255-O10951", IdType.HsaId, "SE162321000255-O10951")]
    [InlineData("se_personal_number:197110021834", IdType.SePersonalNumber, "197110021834")]
    [InlineData("no_personal_number:55038512357", IdType.NoPersonalNumber, "55038512357")]
    public void ParsesResourceIds(string raw, IdType type, string value)
    {
        TypedId id = TypedId.Parse(raw, IdSubject.Resource, Today, "resource_id");
        Assert.Equal(type, id.Type);
        Assert.Equal(value, id.Value);
    }

    [Fact]
    public void BareValueEqualsEmrIdPrefix()
    {
        Assert.Equal(
            TypedId.Parse("abc_12345", IdSubject.Patient, Today, "patient_id"),
            TypedId.Parse("emr_id:abc_12345", IdSubject.Patient, Today, "patient_id"));
    }

    [Fact]
    public void ToStringIsTypeColonValue()
    {
        Assert.Equal("se_personal_number:191212121212", new TypedId(IdType.SePersonalNumber, "191212121212").ToString());
        Assert.Equal("emr_id:abc", new TypedId(IdType.EmrId, "abc").ToString());
        Assert.Equal("hsa_id:SE162321000255-O10951", TypedId.Parse("hsa_id:SE162321000255-O10951", IdSubject.Resource, Today, "r").ToString());
        Assert.Equal("nhs_number:9434765919", TypedId.Parse("nhs_number:943 476 5919", IdSubject.Patient, Today, "p").ToString());
    }

    [Fact]
    public void EmrIdOf128CharactersIsAccepted()
    {
        string value = new('x', 128);
        Assert.Equal(value, TypedId.Parse(value, IdSubject.Patient, Today, "patient_id").Value);
    }

    [Theory]
    [InlineData("foo:1", IdSubject.Patient, "INVALID_PATIENT_ID_TYPE")]
    [InlineData("foo:1", IdSubject.Resource, "INVALID_RESOURCE_ID_TYPE")]
    [InlineData(":abc", IdSubject.Patient, "INVALID_PATIENT_ID_TYPE")]
    [InlineData("EMR_ID:abc", IdSubject.Resource, "INVALID_RESOURCE_ID_TYPE")]
    [InlineData("Se_personal_number:191212121212", IdSubject.Patient, "INVALID_PATIENT_ID_TYPE")]
    [InlineData("hsa_id:SE2321000131-E000000012345", IdSubject.Patient, "INVALID_PATIENT_ID_TYPE")]
    [InlineData("nhs_number:9434765919", IdSubject.Resource, "INVALID_RESOURCE_ID_TYPE")]
    public void TypeErrors(string raw, IdSubject subject, string code)
    {
        VardbroException ex = Assert.Throws<VardbroException>(() => TypedId.Parse(raw, subject, Today, "the_path"));
        ApiError error = Assert.Single(ex.Errors);
        Assert.Equal(code, error.ErrorCode);
        Assert.Equal("the_path", error.Path);
        Assert.False(string.IsNullOrWhiteSpace(error.Details));
    }

    [Fact]
    public void TypeErrorsNameTheTypesThatApply()
    {
        VardbroException patient = Assert.Throws<VardbroException>(() => TypedId.Parse("hsa_id:SE2321000131-E1", IdSubject.Patient, Today, "p"));
        Assert.Contains("hsa_id does not apply to patients", patient.Errors[0].Details, StringComparison.Ordinal);
        Assert.Contains("nhs_number", patient.Errors[0].Details, StringComparison.Ordinal);

        VardbroException resource = Assert.Throws<VardbroException>(() => TypedId.Parse("nhs_number:9434765919", IdSubject.Resource, Today, "r"));
        Assert.Contains("nhs_number does not apply to resources", resource.Errors[0].Details, StringComparison.Ordinal);
        Assert.Contains("hsa_id", resource.Errors[0].Details, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("se_personal_number:191212121213", "check digit of the Swedish personal number")]
    [InlineData("se_personal_number:191213121212", "month")]
    [InlineData("se_personal_number:191212321212", "day")]
    [InlineData("se_personal_number:1912121212", "check digit")]
    [InlineData("se_personal_number:12121212", "form")]
    [InlineData("se_personal_number:", "form")]
    [InlineData("no_personal_number:26258605878", "control digits")]
    [InlineData("no_personal_number:2625860587", "11 digits")]
    [InlineData("nhs_number:9434765918", "check digit of the NHS number")]
    [InlineData("nhs_number:94347659", "10 digits")]
    [InlineData("", "empty")]
    [InlineData("emr_id:", "empty")]
    [InlineData("   ", "blank")]
    [InlineData(" abc", "white space")]
    [InlineData("emr_id:abc ", "white space")]
    [InlineData("a\tb", "control character")]
    [InlineData("a\u0000b", "control character")]
    [InlineData("a\u007Fb", "control character")]
    public void PatientValueErrors(string raw, string detailsMention)
    {
        VardbroException ex = Assert.Throws<VardbroException>(() => TypedId.Parse(raw, IdSubject.Patient, Today, "patient_id"));
        ApiError error = Assert.Single(ex.Errors);
        Assert.Equal("INVALID_PATIENT_ID", error.ErrorCode);
        Assert.Equal("patient_id", error.Path);
        Assert.Contains(detailsMention, error.Details, StringComparison.Ordinal);
        AssertValueNotEchoed(raw, error.Details);
    }

    [Theory]
    [InlineData("se_personal_number:191212121213")]
    [InlineData("no_personal_number:26258605878")]
    [InlineData("hsa_id:se2321000131-E000000012345")]
    [InlineData("hsa_id:SE2321000131E000000012345")]
    [InlineData("hsa_id:SE123456789012-ABCDEFGHIJKLMNOPQ")]
    [InlineData("")]
    [InlineData("x\ny")]
    public void ResourceValueErrors(string raw)
    {
        VardbroException ex = Assert.Throws<VardbroException>(() => TypedId.Parse(raw, IdSubject.Resource, Today, "resource_id"));
        ApiError error = Assert.Single(ex.Errors);
        Assert.Equal("INVALID_RESOURCE_ID", error.ErrorCode);
        Assert.Equal("resource_id", error.Path);
        AssertValueNotEchoed(raw, error.Details);
    }

    [Fact]
    public void EmrIdLongerThan128IsRejected()
    {
        VardbroException ex = Assert.Throws<VardbroException>(() => TypedId.Parse(new string('x', 129), IdSubject.Resource, Today, "resource_id"));
        Assert.Equal("INVALID_RESOURCE_ID", ex.Errors[0].ErrorCode);
        Assert.Contains("128", ex.Errors[0].Details, StringComparison.Ordinal);
    }

    private static void AssertValueNotEchoed(string raw, string details)
    {
        int colon = raw.IndexOf(':', StringComparison.Ordinal);
        string value = colon >= 0 ? raw[(colon + 1)..] : raw;
        if (value.Trim().Length >= 3)
        {
            Assert.DoesNotContain(value.Trim(), details, StringComparison.Ordinal);
        }
    }
}
