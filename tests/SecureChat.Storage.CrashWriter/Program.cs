using System.Globalization;
using System.Text;
using SecureChat.Crypto;
using SecureChat.Protocol.Identity;
using SecureChat.Storage;
using SecureChat.Storage.CrashWriter;

// Usage: CrashWriter DIR DATAKEYHEX SELFID CONTACTID COUNT
// Opens the store in DIR, adds the contact if it is missing, then stores COUNT messages one by one
// and prints "saved ID" after each Messages.Add has returned (the row is committed). No sleeps: the
// test kills this process with SIGKILL at a random point and checks what survived.
if (args.Length != 5
    || !AccountId.TryParse(args[2], out var self)
    || !AccountId.TryParse(args[3], out var contactAccount)
    || !int.TryParse(args[4], NumberStyles.None, CultureInfo.InvariantCulture, out var count))
{
    await Console.Error.WriteLineAsync("usage: CrashWriter DIR DATAKEYHEX SELFID CONTACTID COUNT");
    return 2;
}

await using var output = new StreamWriter(Console.OpenStandardOutput(), new UTF8Encoding(encoderShouldEmitUTF8Identifier: false)) { AutoFlush = false };

// Each line is one write(2) of well under PIPE_BUF bytes, so the reader never sees half a line.
void Report(string line)
{
    output.Write(line + "\n");
    output.Flush();
}

var keyBytes = Convert.FromHexString(args[1]);
using var dataKey = new SecretBytes(keyBytes);
System.Security.Cryptography.CryptographicOperations.ZeroMemory(keyBytes);

Report(CrashWriterOutput.Opening);
using var store = LocalStore.Open(args[0], dataKey, self, TimeProvider.System);
var contact = store.Contacts.Find(contactAccount) ?? store.Contacts.Add(contactAccount, "crash peer", null, DateTimeOffset.UtcNow);
Report(CrashWriterOutput.Ready);

for (var index = 0; index < count; index++)
{
    var id = MessageLog.NewId();
    var outgoing = index % 2 == 0;
    var now = DateTimeOffset.UtcNow;
    if (!store.Messages.Add(contact, id, outgoing, CrashWriterOutput.Text(id, index), now, outgoing ? null : now, outgoing ? MessageState.Sent : MessageState.Received))
    {
        await Console.Error.WriteLineAsync($"message {id} was already stored");
        return 1;
    }

    Report(CrashWriterOutput.SavedPrefix + id);
}

return 0;
