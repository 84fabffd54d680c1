using System.Net;
using CsCheck;

namespace SecureChat.Net.Tests;

/// <summary>
/// <c>HOST:PORT</c> as a codec: any endpoint of an IPv4 address, an IPv6 address (scoped or not)
/// or a DNS name reads back from its text; any text gives an endpoint or a sentence, never an
/// exception, and only ports 1 to 65535.
/// </summary>
public sealed class PeerEndpointPropertyTests
{
    private static readonly Gen<string> Hosts = Gen.OneOf(
        Gen.Byte.Array[4].Select(bytes => new IPAddress(bytes).ToString()),
        Gen.Byte.Array[16].Select(bytes => new IPAddress(bytes).ToString()),
        Gen.Select(Gen.Byte.Array[14], Gen.Long[1, 255]).Select((bytes, scope) => new IPAddress([0xfe, 0x80, .. bytes], scope).ToString()),
        Gen.Select(Gen.Char['a', 'z'], Gen.Char["abcdefghijklmnopqrstuvwxyz0123456789"].Array[0, 12])
            .Select((first, rest) => first + new string(rest))
            .Array[1, 4]
            .Select(labels => string.Join('.', labels)));

    [Fact]
    public void TryParse_TextOfAnyEndpoint_RoundTrips()
    {
        Gen.Select(Hosts, Gen.Int[1, 65535]).Sample((host, port) =>
        {
            var endpoint = new PeerEndpoint(host, port);

            Assert.True(PeerEndpoint.TryParse(endpoint.ToString(), out var parsed, out var error), error);
            Assert.Equal(endpoint, parsed);
        }, iter: 2000);
    }

    [Fact]
    public void TryParse_ArbitraryText_GivesAnEndpointOrASentence()
    {
        var nearAddresses = Gen.Char["[]:.%0123456789abcdefxz- "].Array[0, 30].Select(chars => new string(chars));
        Gen.OneOf(Gen.String, nearAddresses, Gen.Select(Hosts, Gen.String).Select((host, rest) => host + ":" + rest)).Sample(text =>
        {
            var ok = PeerEndpoint.TryParse(text, out var endpoint, out var error);

            Assert.Equal(ok, endpoint is not null);
            Assert.Equal(ok, error is null);
            if (endpoint is not null)
            {
                Assert.InRange(endpoint.Port, 1, 65535);
                Assert.True(PeerEndpoint.TryParse(endpoint.ToString(), out var again, out _));
                Assert.Equal(endpoint, again);
            }
            else
            {
                Assert.False(string.IsNullOrWhiteSpace(error));
            }
        }, iter: 5000);
    }
}
