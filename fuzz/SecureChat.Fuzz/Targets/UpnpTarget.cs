using System.Net;
using System.Text;
using SecureChat.Net.PortMapping;

namespace SecureChat.Fuzz.Targets;

/// <summary>
/// What a UPnP gateway (or any device on the LAN) sends the UPnP-IGD client, picked by the first
/// byte: 0 an SSDP answer (<see cref="SsdpDiscovery.TryParse"/>), 1 a device description
/// (<see cref="UpnpDescription.TryParse"/>), 2 a SOAP answer to GetExternalIPAddress
/// (<see cref="UpnpSoap.ParseReply"/>). The device is at 192.168.1.1; whatever is accepted must
/// point there and nowhere else.
/// </summary>
internal sealed class UpnpTarget : IFuzzTarget
{
    private static readonly IPAddress Device = IPAddress.Parse("192.168.1.1");
    private static readonly Uri Location = new("http://192.168.1.1:5000/rootDesc.xml");

    public string Name => "upnp";

    public bool Run(byte[] input)
    {
        if (input.Length == 0)
        {
            return false;
        }

        var rest = input.AsSpan(1);
        switch (input[0] % 3)
        {
            case 0:
                var answer = SsdpDiscovery.TryParse(rest, Device, out var why);
                FuzzInvariantException.Check(answer is null ? why.Length > 0 : answer.Location.Host == "192.168.1.1" && answer.Location.Scheme == "http", "An SSDP answer accepted off the device's host, or refused without a reason.");
                return answer is not null;
            case 1:
                var service = UpnpDescription.TryParse(rest, Location, Device, out var rejection);
                FuzzInvariantException.Check(service is null ? rejection.Length > 0 : service.ControlUrl.Host == "192.168.1.1" && service.ControlUrl.Scheme == "http", "A control URL accepted off the device's host, or a description refused without a reason.");
                return service is not null;
            default:
                var reply = UpnpSoap.ParseReply(rest, UpnpDescription.WanIpConnection1, "GetExternalIPAddress");
                FuzzInvariantException.Check(reply.Succeeded || reply.IsMalformed || reply.ErrorCode is >= 1 and <= 999, "A SOAP fault with a code outside 1-999.");
                FuzzInvariantException.Check(reply.Sentence.All(c => c is >= ' ' and <= '~'), "A sentence from a device kept characters that are not printable ASCII.");
                return !reply.IsMalformed;
        }
    }

    public IEnumerable<(string Name, byte[] Bytes)> Seeds()
    {
        yield return ("ssdp-answer", [0, .. Encoding.ASCII.GetBytes(
            "HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=120\r\nST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\nUSN: uuid:1::urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\nEXT:\r\nSERVER: Linux UPnP/1.1 router/1.0\r\nLOCATION: http://192.168.1.1:5000/rootDesc.xml\r\n\r\n")]);
        yield return ("description", [1, .. Encoding.UTF8.GetBytes(
            "<?xml version=\"1.0\"?><root xmlns=\"urn:schemas-upnp-org:device-1-0\"><specVersion><major>1</major><minor>1</minor></specVersion>" +
            "<device><deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:2</deviceType><deviceList><device><deviceType>urn:schemas-upnp-org:device:WANDevice:2</deviceType>" +
            "<deviceList><device><deviceType>urn:schemas-upnp-org:device:WANConnectionDevice:2</deviceType><serviceList>" +
            "<service><serviceType>urn:schemas-upnp-org:service:WANIPConnection:2</serviceType><serviceId>urn:upnp-org:serviceId:WANIPConn1</serviceId><SCPDURL>/WANIPCn.xml</SCPDURL><controlURL>/ctl/IPConn</controlURL><eventSubURL>/evt/IPConn</eventSubURL></service>" +
            "<service><serviceType>urn:schemas-upnp-org:service:WANPPPConnection:1</serviceType><controlURL>ctl/PPP</controlURL></service>" +
            "</serviceList></device></deviceList></device></deviceList></device></root>")]);
        yield return ("soap-response", [2, .. Encoding.UTF8.GetBytes(
            "<?xml version=\"1.0\"?><s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" s:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\"><s:Body>" +
            "<u:GetExternalIPAddressResponse xmlns:u=\"urn:schemas-upnp-org:service:WANIPConnection:1\"><NewExternalIPAddress>198.18.0.7</NewExternalIPAddress></u:GetExternalIPAddressResponse></s:Body></s:Envelope>")]);
        yield return ("soap-fault", [2, .. Encoding.UTF8.GetBytes(
            "<?xml version=\"1.0\"?><s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" s:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\"><s:Body>" +
            "<s:Fault><faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail><UPnPError xmlns=\"urn:schemas-upnp-org:control-1-0\"><errorCode>725</errorCode><errorDescription>OnlyPermanentLeasesSupported</errorDescription></UPnPError></detail></s:Fault></s:Body></s:Envelope>")]);
    }
}
