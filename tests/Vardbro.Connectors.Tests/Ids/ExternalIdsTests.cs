namespace Vardbro.Connectors.Tests.Ids;

public class ExternalIdsTests
{
    private const string Path = "external_id";

    private static readonly DateOnly Today = new(2026, 3, 25);

    private static readonly IdType[] Swedish = [IdType.EmrId, IdType.SePersonalNumber];
    private static readonly IdType[] SwedishAndNhs = [IdType.EmrId, IdType.SePersonalNumber, IdType.NhsNumber];
    private static readonly IdType[] Nordic = [IdType.EmrId, IdType.SePersonalNumber, IdType.NoPersonalNumber];
    private static readonly IdType[] NhsOnly = [IdType.EmrId, IdType.NhsNumber];
    private static readonly IdType[] All = [IdType.EmrId, IdType.SePersonalNumber, IdType.NoPersonalNumber, IdType.NhsNumber];

    [Theory]
    [InlineData("191212121212", "191212121212")]
    [InlineData("19121212-1212", "191212121212")]
    [InlineData("121212-1212", "201212121212")]
    [InlineData("121212+1212", "191212121212")]
    [InlineData("1212121212", "201212121212")]
    public void BareSwedishShapesAreInferred(string raw, string canonical)
    {
        Assert.Equal(new TypedId(IdType.SePersonalNumber, canonical), ExternalIds.ParseExternalId(raw, Swedish, Today, Path));
    }

    [Theory]
    [InlineData("26258605879")]
    [InlineData("262586 05879")]
    public void BareElevenDigitsAreNorwegian(string raw)
    {
        Assert.Equal(new TypedId(IdType.NoPersonalNumber, "26258605879"), ExternalIds.ParseExternalId(raw, Nordic, Today, Path));
        Assert.Equal(new TypedId(IdType.NoPersonalNumber, "26258605879"), ExternalIds.ParseExternalId(raw, All, Today, Path));
    }

    [Theory]
    [InlineData("9434765919")]
    [InlineData("943 476 5919")]
    [InlineData("943-476-5919")]
    public void BareTenDigitsAreNhsWhenOnlyNhsIsAccepted(string raw)
    {
        Assert.Equal(new TypedId(IdType.NhsNumber, "9434765919"), ExternalIds.ParseExternalId(raw, NhsOnly, Today, Path));
    }

    [Theory]
    [InlineData("1212121212")]
    [InlineData("9434765919")]
    public void BareTenDigitsAreAmbiguousWhenSwedishAndNhsAreAccepted(string raw)
    {
        VardbroException ex = Assert.Throws<VardbroException>(() => ExternalIds.ParseExternalId(raw, SwedishAndNhs, Today, Path));
        ApiError error = Assert.Single(ex.Errors);
        Assert.Equal("INVALID_PATIENT_ID", error.ErrorCode);
        Assert.Equal(Path, error.Path);
        Assert.Contains("prefix is required", error.Details, StringComparison.Ordinal);
        Assert.Contains("se_personal_number:", error.Details, StringComparison.Ordinal);
        Assert.Contains("nhs_number:", error.Details, StringComparison.Ordinal);
        Assert.DoesNotContain(raw, error.Details, StringComparison.Ordinal);
    }

    [Fact]
    public void NhsWithSpacesIsNotAmbiguous()
    {
        Assert.Equal(new TypedId(IdType.NhsNumber, "9434765919"), ExternalIds.ParseExternalId("943 476 5919", All, Today, Path));
    }

    [Fact]
    public void SwedishSeparatorDecidesAgainstNhs()
    {
        Assert.Equal(new TypedId(IdType.SePersonalNumber, "201212121212"), ExternalIds.ParseExternalId("121212-1212", SwedishAndNhs, Today, Path));
        Assert.Equal(new TypedId(IdType.SePersonalNumber, "191212121212"), ExternalIds.ParseExternalId("121212+1212", All, Today, Path));
    }

    [Theory]
    [InlineData("se_personal_number:121212-1212", IdType.SePersonalNumber, "201212121212")]
    [InlineData("nhs_number:9434765919", IdType.NhsNumber, "9434765919")]
    [InlineData("no_personal_number:26258605879", IdType.NoPersonalNumber, "26258605879")]
    public void TypedValuesAreValidated(string raw, IdType type, string canonical)
    {
        Assert.Equal(new TypedId(type, canonical), ExternalIds.ParseExternalId(raw, All, Today, Path));
    }

    [Fact]
    public void TypedPrefixResolvesTheAmbiguity()
    {
        Assert.Equal(new TypedId(IdType.SePersonalNumber, "201212121212"), ExternalIds.ParseExternalId("se_personal_number:1212121212", SwedishAndNhs, Today, Path));
    }

    [Theory]
    [InlineData("no_personal_number:26258605879", "no_personal_number")]
    [InlineData("nhs_number:9434765919", "nhs_number")]
    public void TypedButNotAccepted(string raw, string typeName)
    {
        VardbroException ex = Assert.Throws<VardbroException>(() => ExternalIds.ParseExternalId(raw, Swedish, Today, Path));
        ApiError error = Assert.Single(ex.Errors);
        Assert.Equal("PATIENT_ID_LOOKUP_TYPE_NOT_SUPPORTED", error.ErrorCode);
        Assert.Equal(Path, error.Path);
        Assert.Contains(typeName, error.Details, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("foo:1", "INVALID_PATIENT_ID_TYPE")]
    [InlineData("hsa_id:SE2321000131-E000000012345", "INVALID_PATIENT_ID_TYPE")]
    [InlineData("emr_id:abc", "INVALID_PATIENT_ID")]
    [InlineData("se_personal_number:191212121213", "INVALID_PATIENT_ID")]
    [InlineData("nhs_number:9434765918", "INVALID_PATIENT_ID")]
    [InlineData("191212121213", "INVALID_PATIENT_ID")]
    [InlineData("121212-1213", "INVALID_PATIENT_ID")]
    [InlineData("9434765918", "INVALID_PATIENT_ID")]
    [InlineData("26258605878", "INVALID_PATIENT_ID")]
    [InlineData("abc", "INVALID_PATIENT_ID")]
    [InlineData("12345", "INVALID_PATIENT_ID")]
    [InlineData("", "INVALID_PATIENT_ID")]
    public void Errors(string raw, string code)
    {
        VardbroException ex = Assert.Throws<VardbroException>(() => ExternalIds.ParseExternalId(raw, All, Today, Path));
        ApiError error = Assert.Single(ex.Errors);
        Assert.Equal(code, error.ErrorCode);
        Assert.Equal(Path, error.Path);
        if (raw.Length > 3)
        {
            Assert.DoesNotContain(raw[(raw.IndexOf(':', StringComparison.Ordinal) + 1)..], error.Details, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void BareValueOfANonAcceptedShapeIsInvalid()
    {
        VardbroException ex = Assert.Throws<VardbroException>(() => ExternalIds.ParseExternalId("26258605879", Swedish, Today, Path));
        Assert.Equal("INVALID_PATIENT_ID", ex.Errors[0].ErrorCode);
        Assert.Contains("no_personal_number", ex.Errors[0].Details, StringComparison.Ordinal);
    }

    [Fact]
    public void BareValueFailingItsCheckExplains()
    {
        VardbroException ex = Assert.Throws<VardbroException>(() => ExternalIds.ParseExternalId("191212121213", Swedish, Today, Path));
        Assert.Equal("The check digit of the Swedish personal number is wrong.", ex.Errors[0].Details);
    }

    [Fact]
    public void EmrIdIsNotANationalId()
    {
        VardbroException ex = Assert.Throws<VardbroException>(() => ExternalIds.ParseExternalId("emr_id:abc", All, Today, Path));
        Assert.Contains("national id", ex.Errors[0].Details, StringComparison.Ordinal);
    }
}
