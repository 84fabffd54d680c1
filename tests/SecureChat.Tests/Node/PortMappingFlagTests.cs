using SecureChat.Cli;
using SecureChat.Daemon;
using SecureChat.Node.Reachability;

namespace SecureChat.Tests.Node;

/// <summary><c>securechat run</c>'s port-mapping switches, as the node's options they become.</summary>
public sealed class PortMappingFlagTests
{
    private static readonly DiscoveryChoices Defaults = new(false, 6881, [], false, false, "0.0.0.0", 7313);

    [Fact]
    public void PortMappingOf_Defaults_EveryProtocolInOrderEveryMinute()
    {
        var options = RunCommand.PortMappingOf(Defaults);

        Assert.True(options.Enabled);
        Assert.Equal([PortMappingMethod.Pcp, PortMappingMethod.NatPmp, PortMappingMethod.Upnp], options.Methods);
        Assert.Equal(TimeSpan.FromSeconds(60), options.CheckInterval);
        Assert.Equal(TimeSpan.FromSeconds(7200), options.Lease);
    }

    [Fact]
    public void PortMappingOf_NoPortMapping_Off() =>
        Assert.False(RunCommand.PortMappingOf(Defaults with { NoPortMapping = true, PortMapping = "pcp" }).Enabled);

    [Theory]
    [InlineData("pcp", PortMappingMethod.Pcp)]
    [InlineData("natpmp", PortMappingMethod.NatPmp)]
    [InlineData("upnp", PortMappingMethod.Upnp)]
    public void PortMappingOf_OneProtocolNamed_OnlyThatOneAsked(string name, PortMappingMethod method)
    {
        var options = RunCommand.PortMappingOf(Defaults with { PortMapping = name, PortMappingCheck = 3 });

        Assert.Equal([method], options.Methods);
        Assert.Equal(TimeSpan.FromSeconds(3), options.CheckInterval);
    }

    [Theory]
    [InlineData("igd", 60, "--port-mapping takes auto, pcp, natpmp or upnp (got 'igd').")]
    [InlineData("auto", 0, "--port-mapping-check takes 1 to 3600 seconds (got 0).")]
    [InlineData("auto", 3601, "--port-mapping-check takes 1 to 3600 seconds (got 3601).")]
    public void PortMappingOf_BadValue_UsageErrorWithASentence(string name, int check, string sentence)
    {
        var error = Assert.Throws<UsageException>(() => RunCommand.PortMappingOf(Defaults with { PortMapping = name, PortMappingCheck = check }));
        Assert.Equal(sentence, error.Message);
    }
}
