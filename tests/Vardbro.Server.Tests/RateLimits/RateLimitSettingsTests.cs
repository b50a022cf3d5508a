using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Vardbro.Server.Api;

namespace Vardbro.Server.Tests.RateLimits;

/// <summary>
/// <c>RateLimits:*</c> is checked like every other setting: a bad value stops the start with one
/// sentence naming the key (<c>StartupTests</c> shows the same on the built server, with exit code 1).
/// </summary>
public sealed class RateLimitSettingsTests
{
    [Theory]
    [InlineData("RateLimits:PerClient:RequestsPerMinute", "0", "RateLimits:PerClient:RequestsPerMinute must be a whole number from 1 to 60,000,000, not 0.")]
    [InlineData("RateLimits:PerClient:Burst", "-3", "RateLimits:PerClient:Burst must be a whole number from 1 to 10,000,000, not -3.")]
    [InlineData("RateLimits:PerClient:Burst", "lots", "RateLimits:PerClient:Burst")]
    [InlineData("RateLimits:FailedAuth:PerAddressPerMinute", "0", "RateLimits:FailedAuth:PerAddressPerMinute must be a whole number from 1")]
    [InlineData("RateLimits:FailedAuth:PerClientPerMinute", "60000001", "RateLimits:FailedAuth:PerClientPerMinute must be a whole number from 1 to 60,000,000, not 60000001.")]
    [InlineData("RateLimits:Emrs:takecare:Burst", "0", "RateLimits:Emrs:takecare:Burst must be a whole number from 1")]
    [InlineData("RateLimits:Emrs:takecare:Bursts", "5", "RateLimits:Emrs:takecare:Bursts is not a setting (known: RateLimits:Emrs:takecare:RequestsPerMinute, RateLimits:Emrs:takecare:Burst)")]
    [InlineData("RateLimits:PerClient:PerMinute", "5", "RateLimits:PerClient:PerMinute is not a setting")]
    [InlineData("RateLimits:Enabled", "perhaps", "RateLimits:Enabled")]
    public void A_bad_rate_limit_setting_is_one_problem_naming_its_key(string key, string value, string problem)
    {
        var problems = ProblemsOf(new() { [key] = value });
        Assert.NotNull(problems);
        Assert.StartsWith("Configuration error: ", problems, StringComparison.Ordinal);
        Assert.Contains(problem, problems, StringComparison.Ordinal);
    }

    [Fact]
    public void The_defaults_are_those_of_the_contract_and_an_emr_override_falls_back_to_them()
    {
        Assert.Null(ProblemsOf(new() { ["RateLimits:Emrs:takecare:RequestsPerMinute"] = "60" }));
        var limits = new RateLimitsOptions();
        Assert.True(limits.Enabled);
        Assert.Equal(1200, limits.PerClient.RequestsPerMinute);
        Assert.Equal(100, limits.PerClient.Burst);
        Assert.Equal(30, limits.FailedAuth.PerAddressPerMinute);
        Assert.Equal(60, limits.FailedAuth.PerClientPerMinute);

        var bound = Bind(new() { ["RateLimits:Emrs:takecare:RequestsPerMinute"] = "60" });
        Assert.Equal((60, 100), (bound.ForEmr("takecare")!.RequestsPerMinute, bound.ForEmr("takecare")!.Burst));
        Assert.Null(bound.ForEmr("webdoc"));
    }

    private static ServiceProvider ServicesOf(Dictionary<string, string?> settings)
    {
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(settings).Build());
        services.AddVardbroRateLimits();
        return services.BuildServiceProvider();
    }

    private static string? ProblemsOf(Dictionary<string, string?> settings)
    {
        using var services = ServicesOf(settings);
        return Settings.Problems(services);
    }

    private static RateLimitsOptions Bind(Dictionary<string, string?> settings)
    {
        using var services = ServicesOf(settings);
        return services.GetRequiredService<IOptions<RateLimitsOptions>>().Value;
    }
}
