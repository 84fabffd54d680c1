using System.IO.Pipelines;

namespace SecureChat.Net;

/// <summary>
/// One end of a pair of connected in-memory pipes: a channel transport with no socket, so that two
/// parties (or a party and a hand-driven hostile peer) can talk in one test, and so that anything
/// that carries a byte stream, such as a relay circuit, is just another transport.
/// </summary>
public sealed class MemoryTransport : ChannelTransport
{
    /// <summary>
    /// How far a writer may run ahead of its reader before its flush waits. Above the largest frame
    /// (2 + 65535 bytes), so a frame always fits whole even when written in pieces; small enough
    /// that a peer that stops reading holds up its sender after a few frames, as TCP would.
    /// </summary>
    private const long PauseWriterThreshold = 128 * 1024;

    private readonly Pipe _incoming;
    private readonly Pipe _outgoing;
    private int _disposed;

    private MemoryTransport(Pipe incoming, Pipe outgoing)
    {
        _incoming = incoming;
        _outgoing = outgoing;
    }

    public override PipeReader Input => _incoming.Reader;

    public override PipeWriter Output => _outgoing.Writer;

    /// <summary>Two transports, each reading what the other writes.</summary>
    public static (MemoryTransport First, MemoryTransport Second) CreatePair()
    {
        var options = new PipeOptions(pauseWriterThreshold: PauseWriterThreshold, resumeWriterThreshold: PauseWriterThreshold / 2, useSynchronizationContext: false);
        var forward = new Pipe(options);
        var backward = new Pipe(options);
        return (new MemoryTransport(backward, forward), new MemoryTransport(forward, backward));
    }

    public override void Abort()
    {
        if (Volatile.Read(ref _disposed) != 0)
        {
            return;
        }

        _outgoing.Writer.Complete();
        _incoming.Reader.CancelPendingRead();
    }

    /// <summary>
    /// Ends both directions: the peer reads the end of the stream, and its writes now report that no
    /// one reads them. A read or flush still waiting here is woken first (as cancelled).
    /// </summary>
    public override ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _incoming.Reader.CancelPendingRead();
            _outgoing.Writer.CancelPendingFlush();
            _incoming.Reader.Complete();
            _outgoing.Writer.Complete();
        }

        return ValueTask.CompletedTask;
    }
}
