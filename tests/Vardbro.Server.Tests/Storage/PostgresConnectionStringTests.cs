using Npgsql;
using Vardbro.Server.Storage;

namespace Vardbro.Server.Tests.Storage;

/// <summary>
/// Automatic preparation and no reset on close are Vardbro's defaults on PostgreSQL; an operator who
/// names either keeps what they wrote.
/// </summary>
public sealed class PostgresConnectionStringTests
{
    [Fact]
    public void A_string_that_names_neither_gets_both_defaults()
    {
        var built = new NpgsqlConnectionStringBuilder(StorageSetup.PostgresConnectionString("Host=db;Username=v;Password=p;Database=vardbro"));
        Assert.Equal(64, built.MaxAutoPrepare);
        Assert.True(built.NoResetOnClose);
        Assert.Equal("db", built.Host);
        Assert.Equal("vardbro", built.Database);
    }

    [Theory]
    [InlineData("Host=db;Max Auto Prepare=0;No Reset On Close=false", 0, false)]
    [InlineData("Host=db;MaxAutoPrepare=8;NoResetOnClose=False", 8, false)]
    [InlineData("Host=db;max auto prepare=16", 16, true)]
    public void Values_the_operator_sets_are_kept(string configured, int maxAutoPrepare, bool noResetOnClose)
    {
        var built = new NpgsqlConnectionStringBuilder(StorageSetup.PostgresConnectionString(configured));
        Assert.Equal(maxAutoPrepare, built.MaxAutoPrepare);
        Assert.Equal(noResetOnClose, built.NoResetOnClose);
    }
}
