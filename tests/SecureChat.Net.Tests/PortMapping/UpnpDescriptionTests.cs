using System.Net;
using System.Text;
using SecureChat.Net.PortMapping;

namespace SecureChat.Net.Tests.PortMapping;

/// <summary>
/// Device descriptions in the shape of the IGD device templates (an InternetGatewayDevice holding
/// a WANDevice holding a WANConnectionDevice whose serviceList names the connection services),
/// and hostile ones.
/// </summary>
public sealed class UpnpDescriptionTests
{
    private static readonly IPAddress Router = IPAddress.Parse("192.168.1.1");
    private static readonly Uri Location = new("http://192.168.1.1:5000/rootDesc.xml");

    private static string Service(string type, string control) =>
        $"<service><serviceType>{type}</serviceType><serviceId>urn:upnp-org:serviceId:X</serviceId><SCPDURL>/scpd.xml</SCPDURL><controlURL>{control}</controlURL><eventSubURL>/evt</eventSubURL></service>";

    private static byte[] Description(string services, string urlBase = "", string prologue = "<?xml version=\"1.0\"?>") => Encoding.UTF8.GetBytes(
        $"""
        {prologue}
        <root xmlns="urn:schemas-upnp-org:device-1-0">
          <specVersion><major>1</major><minor>1</minor></specVersion>
          {urlBase}
          <device>
            <deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:2</deviceType>
            <friendlyName>router</friendlyName>
            <serviceList>{Service("urn:schemas-upnp-org:service:Layer3Forwarding:1", "/ctl/L3F")}</serviceList>
            <deviceList><device>
              <deviceType>urn:schemas-upnp-org:device:WANDevice:2</deviceType>
              <serviceList>{Service("urn:schemas-upnp-org:service:WANCommonInterfaceConfig:1", "/ctl/CmnIfCfg")}</serviceList>
              <deviceList><device>
                <deviceType>urn:schemas-upnp-org:device:WANConnectionDevice:2</deviceType>
                <serviceList>{services}</serviceList>
              </device></deviceList>
            </device></deviceList>
          </device>
        </root>
        """);

    [Fact]
    public void TryParse_Igd2WithBothVersions_PrefersWanIpConnection2()
    {
        var document = Description(Service(UpnpDescription.WanIpConnection1, "/ctl/IPConn1") + Service(UpnpDescription.WanIpConnection2, "/ctl/IPConn"));

        var service = UpnpDescription.TryParse(document, Location, Router, out var rejection);

        Assert.NotNull(service);
        Assert.Equal(string.Empty, rejection);
        Assert.Equal(UpnpDescription.WanIpConnection2, service.ServiceType);
        Assert.True(service.IsVersion2);
        Assert.Equal(new Uri("http://192.168.1.1:5000/ctl/IPConn"), service.ControlUrl);
    }

    [Fact]
    public void TryParse_Igd1WithIpAndPpp_TakesWanIpConnection1()
    {
        var document = Description(Service(UpnpDescription.WanPppConnection1, "/ctl/PPP") + Service(UpnpDescription.WanIpConnection1, "/ctl/IPConn"));

        var service = UpnpDescription.TryParse(document, Location, Router, out _);

        Assert.Equal(UpnpDescription.WanIpConnection1, service?.ServiceType);
        Assert.False(service!.IsVersion2);
    }

    [Fact]
    public void TryParse_OnlyPpp_TakesWanPppConnection()
    {
        var service = UpnpDescription.TryParse(Description(Service(UpnpDescription.WanPppConnection1, "ctl/PPP")), Location, Router, out _);

        Assert.Equal(UpnpDescription.WanPppConnection1, service?.ServiceType);
        Assert.Equal(new Uri("http://192.168.1.1:5000/ctl/PPP"), service!.ControlUrl);
    }

    [Fact]
    public void TryParse_UrlBase_ResolvesTheControlUrlAgainstIt()
    {
        var document = Description(Service(UpnpDescription.WanIpConnection1, "ctl/IPConn"), "<URLBase>http://192.168.1.1:49152/</URLBase>");

        var service = UpnpDescription.TryParse(document, Location, Router, out _);

        Assert.Equal(new Uri("http://192.168.1.1:49152/ctl/IPConn"), service?.ControlUrl);
    }

    [Theory]
    [InlineData("http://198.18.0.9/ctl/IPConn", "")]
    [InlineData("http://10.0.0.1:5000/ctl/IPConn", "")]
    [InlineData("//evil.example/ctl", "")]
    [InlineData("/ctl/IPConn", "<URLBase>http://10.9.9.9/</URLBase>")]
    public void TryParse_ControlUrlOnAnotherHost_IsRefused(string control, string urlBase)
    {
        var document = Description(Service(UpnpDescription.WanIpConnection1, control), urlBase);

        Assert.Null(UpnpDescription.TryParse(document, Location, Router, out var rejection));
        Assert.NotEmpty(rejection);
    }

    [Fact]
    public void TryParse_NoConnectionService_IsRefused()
    {
        Assert.Null(UpnpDescription.TryParse(Description(string.Empty), Location, Router, out var rejection));
        Assert.Contains("WANIPConnection", rejection, StringComparison.Ordinal);
        Assert.Null(UpnpDescription.TryParse(Description($"<service><serviceType>{UpnpDescription.WanIpConnection1}</serviceType></service>"), Location, Router, out _));
    }

    [Fact]
    public void TryParse_EntityExpansionBomb_IsRefusedNotExpanded()
    {
        var bomb = "<?xml version=\"1.0\"?><!DOCTYPE root [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\"><!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\"><!ENTITY d \"&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;\">]>";
        var document = Description(Service(UpnpDescription.WanIpConnection1, "/ctl/&d;"), prologue: bomb);

        Assert.Null(UpnpDescription.TryParse(document, Location, Router, out var rejection));
        Assert.Contains("DTD", rejection, StringComparison.Ordinal);
    }

    [Fact]
    public void TryParse_ExternalEntity_IsRefused()
    {
        var external = "<?xml version=\"1.0\"?><!DOCTYPE root [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>";
        var document = Description(Service(UpnpDescription.WanIpConnection1, "/ctl/&x;"), prologue: external);

        Assert.Null(UpnpDescription.TryParse(document, Location, Router, out _));
    }

    [Fact]
    public void TryParse_Oversized_IsRefused()
    {
        var padding = "<friendlyName>" + new string('x', UpnpDescription.MaxBytes) + "</friendlyName>";
        var document = Description(Service(UpnpDescription.WanIpConnection1, "/ctl/IPConn") + padding);

        Assert.Null(UpnpDescription.TryParse(document, Location, Router, out var rejection));
        Assert.Contains("KiB", rejection, StringComparison.Ordinal);
    }

    [Fact]
    public void TryParse_BrokenDocuments_AreRefusedWithoutThrowing()
    {
        var golden = Description(Service(UpnpDescription.WanIpConnection1, "/ctl/IPConn"));
        Assert.Null(UpnpDescription.TryParse(golden.AsSpan(0, golden.Length / 2), Location, Router, out _));
        Assert.Null(UpnpDescription.TryParse([], Location, Router, out _));
        Assert.Null(UpnpDescription.TryParse("<root><device/></root>"u8, Location, Router, out _));
        Assert.Null(UpnpDescription.TryParse(Description($"<service><serviceType><b/></serviceType></service>"), Location, Router, out _));
        // A seeded generator, so that a failure repeats; nothing here is secret.
#pragma warning disable CA5394
        var random = new Random(17);
        for (var i = 0; i < 1000; i++)
        {
            var mutated = golden.ToArray();
            mutated[random.Next(mutated.Length)] = (byte)random.Next(256);
            var service = UpnpDescription.TryParse(mutated, Location, Router, out _);
            Assert.True(service is null || service.ControlUrl.Host == "192.168.1.1");
        }
#pragma warning restore CA5394
    }
}
