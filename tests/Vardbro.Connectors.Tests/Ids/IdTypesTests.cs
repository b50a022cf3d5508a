namespace Vardbro.Connectors.Tests.Ids;

public class IdTypesTests
{
    [Theory]
    [InlineData(IdType.EmrId, "emr_id")]
    [InlineData(IdType.SePersonalNumber, "se_personal_number")]
    [InlineData(IdType.NoPersonalNumber, "no_personal_number")]
    [InlineData(IdType.NhsNumber, "nhs_number")]
    [InlineData(IdType.HsaId, "hsa_id")]
    public void NameAndTryParseNameRoundTrip(IdType type, string name)
    {
        Assert.Equal(name, IdTypes.Name(type));
        Assert.True(IdTypes.TryParseName(name, out IdType parsed));
        Assert.Equal(type, parsed);
    }

    [Theory]
    [InlineData("EMR_ID")]
    [InlineData("Nhs_number")]
    [InlineData("")]
    [InlineData("foo")]
    [InlineData(" emr_id")]
    public void TryParseNameIsExactAndLowerCase(string name)
    {
        Assert.False(IdTypes.TryParseName(name, out _));
    }

    [Fact]
    public void NameOfUndefinedValueThrows()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => IdTypes.Name((IdType)99));
    }

    [Theory]
    [InlineData(IdType.EmrId, IdSubject.Patient, true)]
    [InlineData(IdType.EmrId, IdSubject.Resource, true)]
    [InlineData(IdType.SePersonalNumber, IdSubject.Patient, true)]
    [InlineData(IdType.SePersonalNumber, IdSubject.Resource, true)]
    [InlineData(IdType.NoPersonalNumber, IdSubject.Patient, true)]
    [InlineData(IdType.NoPersonalNumber, IdSubject.Resource, true)]
    [InlineData(IdType.NhsNumber, IdSubject.Patient, true)]
    [InlineData(IdType.NhsNumber, IdSubject.Resource, false)]
    [InlineData(IdType.HsaId, IdSubject.Patient, false)]
    [InlineData(IdType.HsaId, IdSubject.Resource, true)]
    public void AppliesTo(IdType type, IdSubject subject, bool expected)
    {
        Assert.Equal(expected, IdTypes.AppliesTo(type, subject));
    }

    [Fact]
    public void NationalTypes()
    {
        Assert.Equal([IdType.SePersonalNumber, IdType.NoPersonalNumber, IdType.NhsNumber], IdTypes.National);
        Assert.False(IdTypes.IsNational(IdType.EmrId));
        Assert.False(IdTypes.IsNational(IdType.HsaId));
        Assert.True(IdTypes.IsNational(IdType.NhsNumber));
    }
}
