using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using SecureChat.Net.PortMapping;

namespace SecureChat.Net.Tests.PortMapping;

/// <summary>
/// <see cref="UpnpMapper"/> against a scripted gateway on loopback: an SSDP responder on a
/// loopback UDP port and an HTTP handler that answers the description and each SOAP action as the
/// test says, so the retries the spec asks for (725, 718 on version 2) and every hostile answer
/// can be shown. The real gateway is miniupnpd in the NetSim tests.
/// </summary>
public sealed class UpnpMapperTests
{
    private sealed class ScriptedGateway : HttpMessageHandler
    {
        public ConcurrentQueue<(string Action, string Body)> Calls { get; } = new();

        public Func<string, string, (HttpStatusCode, string)> Answer { get; set; } = (_, _) => (HttpStatusCode.InternalServerError, string.Empty);

        public string ServiceType { get; init; } = UpnpDescription.WanIpConnection1;

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (request.Method == HttpMethod.Get)
            {
                return Reply(HttpStatusCode.OK, $"<?xml version=\"1.0\"?><root xmlns=\"urn:schemas-upnp-org:device-1-0\"><device><serviceList><service><serviceType>{ServiceType}</serviceType><controlURL>/ctl/IPConn</controlURL></service></serviceList></device></root>");
            }

            var action = request.Headers.GetValues("SOAPAction").Single().Trim('"').Split('#')[1];
            var body = await request.Content!.ReadAsStringAsync(cancellationToken);
            Calls.Enqueue((action, body));
            var (status, text) = Answer(action, body);
            return Reply(status, text);
        }

        private static HttpResponseMessage Reply(HttpStatusCode status, string body) => new(status) { Content = new StringContent(body, Encoding.UTF8, "text/xml") };
    }

    private static string Response(string serviceType, string action, string arguments) =>
        $"<?xml version=\"1.0\"?><s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body><u:{action}Response xmlns:u=\"{serviceType}\">{arguments}</u:{action}Response></s:Body></s:Envelope>";

    private static string Fault(int code) =>
        $"<?xml version=\"1.0\"?><s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail><UPnPError xmlns=\"urn:schemas-upnp-org:control-1-0\"><errorCode>{code}</errorCode><errorDescription>no</errorDescription></UPnPError></detail></s:Fault></s:Body></s:Envelope>";

    /// <summary>Runs <paramref name="scenario"/> with a mapper whose SSDP search reaches a responder on loopback that names the scripted gateway.</summary>
    private static async Task WithGatewayAsync(ScriptedGateway gateway, Func<UpnpMapper, Task> scenario)
    {
        using var responder = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        responder.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        using var stop = new CancellationTokenSource();
        var answering = Task.Run(async () =>
        {
            var buffer = new byte[1024];
            while (!stop.IsCancellationRequested)
            {
                var got = await responder.ReceiveFromAsync(buffer, new IPEndPoint(IPAddress.Any, 0), stop.Token);
                var answer = Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\nLOCATION: http://127.0.0.1:5000/rootDesc.xml\r\n\r\n");
                await responder.SendToAsync(answer, got.RemoteEndPoint, stop.Token);
            }
        });
        using var http = new HttpClient(gateway);
        var mapper = new UpnpMapper(http, TimeProvider.System) { SearchDestination = (IPEndPoint)responder.LocalEndPoint! };
        try
        {
            await scenario(mapper);
        }
        finally
        {
            await stop.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => answering);
        }
    }

    private static (HttpStatusCode, string) External(string serviceType, string address) =>
        (HttpStatusCode.OK, Response(serviceType, "GetExternalIPAddress", $"<NewExternalIPAddress>{address}</NewExternalIPAddress>"));

    [Fact]
    public async Task MapAsync_OnlyPermanentLeases_RetriesWithLeaseZeroAndStillExpires()
    {
        var gateway = new ScriptedGateway();
        gateway.Answer = (action, body) => action switch
        {
            "GetExternalIPAddress" => External(gateway.ServiceType, "198.18.0.7"),
            "AddPortMapping" when body.Contains("<NewLeaseDuration>0<", StringComparison.Ordinal) => (HttpStatusCode.OK, Response(gateway.ServiceType, action, string.Empty)),
            _ => (HttpStatusCode.InternalServerError, Fault(725)),
        };

        await WithGatewayAsync(gateway, async mapper =>
        {
            var result = await mapper.MapAsync(MappingProtocol.Udp, 40200, TimeSpan.FromMinutes(30), CancellationToken.None);

            Assert.Equal(MappingFailure.None, result.Failure);
            Assert.Equal(new IPEndPoint(IPAddress.Parse("198.18.0.7"), 40200), result.Lease!.External);
            Assert.InRange(result.Lease.Expires - TimeProvider.System.GetUtcNow(), TimeSpan.FromMinutes(29), TimeSpan.FromMinutes(30));
            var adds = gateway.Calls.Where(c => c.Action == "AddPortMapping").Select(c => c.Body).ToList();
            Assert.Equal(2, adds.Count);
            Assert.Contains("<NewLeaseDuration>1800</NewLeaseDuration>", adds[0], StringComparison.Ordinal);
            Assert.Contains("<NewProtocol>UDP</NewProtocol>", adds[1], StringComparison.Ordinal);
            Assert.Contains("<NewInternalClient>127.0.0.1</NewInternalClient>", adds[1], StringComparison.Ordinal);
        });
    }

    [Fact]
    public async Task MapAsync_ConflictOnVersion2_TakesThePortAddAnyPortMappingReserves()
    {
        var gateway = new ScriptedGateway { ServiceType = UpnpDescription.WanIpConnection2 };
        gateway.Answer = (action, _) => action switch
        {
            "GetExternalIPAddress" => External(gateway.ServiceType, "198.18.0.7"),
            "AddPortMapping" => (HttpStatusCode.InternalServerError, Fault(718)),
            "AddAnyPortMapping" => (HttpStatusCode.OK, Response(gateway.ServiceType, action, "<NewReservedPort>50123</NewReservedPort>")),
            _ => (HttpStatusCode.InternalServerError, Fault(401)),
        };

        await WithGatewayAsync(gateway, async mapper =>
        {
            var result = await mapper.MapAsync(MappingProtocol.Tcp, 40201, TimeSpan.FromHours(1), CancellationToken.None);

            Assert.Equal(50123, result.Lease?.External.Port);
            Assert.Equal(40201, result.Lease!.InternalPort);

            // A renewal asks for the port the gateway reserved.
            _ = await mapper.MapAsync(MappingProtocol.Tcp, 40201, TimeSpan.FromHours(1), CancellationToken.None);
            Assert.Contains("<NewExternalPort>50123</NewExternalPort>", gateway.Calls.Last(c => c.Action == "AddPortMapping").Body, StringComparison.Ordinal);
        });
    }

    [Fact]
    public async Task MapAsync_HostileOrRefusingGateway_GivesTypedFailures()
    {
        var gateway = new ScriptedGateway();
        var external = "10.0.0.1";
        var add = (HttpStatusCode.InternalServerError, Fault(606));
        gateway.Answer = (action, _) => action == "GetExternalIPAddress" ? External(gateway.ServiceType, external) : add;

        await WithGatewayAsync(gateway, async mapper =>
        {
            var notPublic = await mapper.MapAsync(MappingProtocol.Tcp, 40202, TimeSpan.FromHours(1), CancellationToken.None);
            Assert.Equal(MappingFailure.NotPublic, notPublic.Failure);
            Assert.Contains("10.0.0.1", notPublic.Sentence, StringComparison.Ordinal);

            external = "198.18.0.7";
            var refused = await mapper.MapAsync(MappingProtocol.Tcp, 40202, TimeSpan.FromHours(1), CancellationToken.None);
            Assert.Equal(MappingFailure.Refused, refused.Failure);
            Assert.Contains("606", refused.Sentence, StringComparison.Ordinal);

            add = (HttpStatusCode.OK, "<not-soap/>");
            Assert.Equal(MappingFailure.Malformed, (await mapper.MapAsync(MappingProtocol.Tcp, 40202, TimeSpan.FromHours(1), CancellationToken.None)).Failure);

            add = (HttpStatusCode.OK, new string('x', UpnpSoap.MaxBytes + 1));
            Assert.Equal(MappingFailure.Malformed, (await mapper.MapAsync(MappingProtocol.Tcp, 40202, TimeSpan.FromHours(1), CancellationToken.None)).Failure);

            external = "not an address";
            Assert.Equal(MappingFailure.Malformed, (await mapper.MapAsync(MappingProtocol.Tcp, 40202, TimeSpan.FromHours(1), CancellationToken.None)).Failure);
        });
    }
}
