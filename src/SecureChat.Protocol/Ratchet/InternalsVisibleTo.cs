using System.Runtime.CompilerServices;

// The ratchet tests reproduce the test vector of docs/ratchet.md with a fixed Alice ratchet key
// (RatchetSession.InitializeAlice with aliceRatchetPrivateKey), which the public API never takes.
[assembly: InternalsVisibleTo("SecureChat.Protocol.Tests")]
