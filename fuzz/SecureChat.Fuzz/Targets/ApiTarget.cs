using System.Text;
using System.Text.Json;
using SecureChat.Api;
using SecureChat.Cli;
using SecureChat.Storage;

namespace SecureChat.Fuzz.Targets;

/// <summary>
/// The local API's request bodies (src/SecureChat/Api/LocalApi.cs): the input as the JSON body of
/// every endpoint that takes one, bound as ASP.NET binds it (<see cref="LocalApi.Json"/>, web
/// defaults), then checked as the endpoint checks it before it calls the node. The rejections the
/// API turns into a 400 are normal: a <see cref="JsonException"/> (a body that does not bind), a
/// <see cref="UsageException"/>, and the <see cref="ArgumentException"/> of the checks that document one.
/// </summary>
internal sealed class ApiTarget : IFuzzTarget
{
    public string Name => "api";

    public bool Run(byte[] input)
    {
        var accepted = false;
        if (Bind<LocalApi.AddContactRequest>(input) is { } add)
        {
            try
            {
                var contact = NewContact.Parse(add.Id, add.Name, add.Endpoint);
                FuzzInvariantException.Check(contact.Name is null || ContactBook.IsValidName(contact.Name), "An added contact with an invalid name.");
                accepted = true;
            }
            catch (UsageException)
            {
            }
        }

        if (Bind<LocalApi.RenameRequest>(input) is { } rename)
        {
            accepted |= ContactBook.IsValidName(rename.Name ?? string.Empty);
        }

        if (Bind<LocalApi.SendRequest>(input) is { } send)
        {
            try
            {
                Outbox.CheckText(send.Text, "text");
                accepted = true;
            }
            catch (ArgumentException ex) when (ex.GetType() == typeof(ArgumentException))
            {
            }
        }

        _ = Bind<LocalApi.TypingRequest>(input);
        accepted |= Bind<LocalApi.ListenRequest>(input) is { Port: >= 0 and <= 65535 };
        if (Bind<LocalApi.ConnectRequest>(input) is { } connect)
        {
            try
            {
                _ = TargetAddress.Parse(connect.Address ?? string.Empty);
                accepted = true;
            }
            catch (UsageException)
            {
            }
        }

        return accepted;
    }

    public IEnumerable<(string Name, byte[] Bytes)> Seeds()
    {
        var peer = FuzzKeys.Peer.Account.Text;
        yield return ("add-contact", Encoding.UTF8.GetBytes($$"""{"id":"{{peer}}","name":"Peer","endpoint":"192.0.2.1:7000"}"""));
        var link = new SecureChat.Net.InviteLink(FuzzKeys.Peer.Account, "Zoë", [new SecureChat.Net.PeerEndpoint("example.org", 7000), new SecureChat.Net.PeerEndpoint("2001:db8::1", 7001)]);
        yield return ("add-contact-link", Encoding.UTF8.GetBytes(JsonSerializer.Serialize(new { id = link.ToString(), name = (string?)null }, LocalApi.Json)));
        yield return ("rename", """{"name":"Best friend"}"""u8.ToArray());
        yield return ("send", """{"text":"Hello 🙂 \u00e9"}"""u8.ToArray());
        yield return ("typing-listen", """{"active":true,"host":"127.0.0.1","port":7000}"""u8.ToArray());
        yield return ("connect", Encoding.UTF8.GetBytes($$"""{"address":"{{peer}}@[::1]:7000"}"""));
    }

    private static T? Bind<T>(byte[] body)
        where T : class
    {
        try
        {
            return JsonSerializer.Deserialize<T>(body, LocalApi.Json);
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
