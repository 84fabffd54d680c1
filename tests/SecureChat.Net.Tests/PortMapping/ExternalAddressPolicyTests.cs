using System.Net;
using SecureChat.Net.PortMapping;

namespace SecureChat.Net.Tests.PortMapping;

/// <summary>What every mapper accepts as a router's external address (UPnP-IGD, NAT-PMP, PCP share the rule).</summary>
public sealed class ExternalAddressPolicyTests
{
    [Theory]
    [InlineData("0.0.0.0")]
    [InlineData("10.1.2.3")]
    [InlineData("172.16.0.1")]
    [InlineData("172.31.255.255")]
    [InlineData("192.168.0.1")]
    [InlineData("100.64.0.1")]
    [InlineData("100.127.255.254")]
    [InlineData("127.0.0.1")]
    [InlineData("169.254.1.1")]
    [InlineData("224.0.0.1")]
    [InlineData("255.255.255.255")]
    public void IsPublic_UnreachableFromTheInternet_IsFalse(string address) =>
        Assert.False(ExternalAddressPolicy.IsPublic(IPAddress.Parse(address)));

    [Theory]
    [InlineData("198.18.0.1")]
    [InlineData("198.19.255.1")]
    [InlineData("8.8.8.8")]
    [InlineData("172.32.0.1")]
    [InlineData("100.128.0.1")]
    [InlineData("11.0.0.1")]
    public void IsPublic_ReachableAddress_IsTrue(string address) =>
        Assert.True(ExternalAddressPolicy.IsPublic(IPAddress.Parse(address)));
}
