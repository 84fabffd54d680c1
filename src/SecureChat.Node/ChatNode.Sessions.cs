using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using SecureChat.Storage;

namespace SecureChat.Node;

/// <summary>The ratchet sessions kept per contact: loaded, saved and forgotten for the peer session.</summary>
public sealed partial class ChatNode
{
    internal SessionRecord? LoadSession(Contact contact)
    {
        var bytes = Store.Sessions.Load(contact);
        if (bytes is null)
        {
            return null;
        }

        try
        {
            var record = SessionRecord.TryDecode(bytes, RatchetOptions);
            if (record is null)
            {
                _logger.LogWarning("The saved ratchet session with {Account} could not be read; a new one will start", contact.Account);
            }

            return record;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(bytes);
        }
    }

    internal void SaveSession(Contact contact, SessionRecord session)
    {
        var bytes = session.Encode();
        try
        {
            Store.Sessions.Save(contact, bytes);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(bytes);
        }
    }

    internal void ForgetSession(Contact contact) => Store.Sessions.Delete(contact);
}
