using System.IO.Pipelines;
using System.Net;

namespace SecureChat.Net;

/// <summary>
/// A reliable, ordered byte stream to one peer, which a <see cref="SecureConnection"/> runs the
/// channel protocol over: a TCP connection (<see cref="TcpTransport"/>), an in-memory pipe
/// (<see cref="MemoryTransport"/>), and next a relay circuit. The channel needs nothing else from
/// it: framing, authentication, timeouts and size limits are the connection's, whatever carries
/// the bytes.
/// </summary>
/// <remarks>
/// A transport is an <see cref="IDuplexPipe"/> rather than a <see cref="Stream"/> for three
/// reasons. The channel reads through a <see cref="PipeReader"/> anyway: frames are parsed where
/// they lie, and an idle connection holds no buffer. Completing a <see cref="PipeWriter"/> says
/// "nothing more from this side", which is the half-close the close handshake (protocol 5.5)
/// needs and for which a stream has no word. And a pipe's writer waits once its reader falls
/// behind by its pause threshold, as a socket waits on a full send buffer, so a peer that stops
/// reading holds up its sender instead of growing its memory, on every transport alike.
/// <para>
/// The contract: <see cref="Input"/> gives the peer's bytes in order and ends (a completed read)
/// when the peer completed its output or went away. Completing <see cref="Output"/> ends this
/// side's bytes after everything flushed; a flush whose result is completed means no one reads
/// them any more. <see cref="Abort"/> cuts both directions at once. <see cref="DisposeAsync"/>
/// may come while a read or a flush is waiting (a peer that stopped reading holds a flush
/// indefinitely), and must end them: they return cancelled or fail. A second call does nothing.
/// </para>
/// </remarks>
public abstract class ChannelTransport : IDuplexPipe, IAsyncDisposable
{
    /// <summary>The bytes the peer sent, in order.</summary>
    public abstract PipeReader Input { get; }

    /// <summary>Where bytes for the peer are written; completing it is the half-close.</summary>
    public abstract PipeWriter Output { get; }

    /// <summary>The peer's network address where the transport knows one (TCP); null where there is none (a pipe, a relay circuit).</summary>
    public virtual EndPoint? RemoteEndPoint => null;

    /// <summary>This side's address of the connection where the transport knows one (TCP); null where there is none.</summary>
    public virtual EndPoint? LocalEndPoint => null;

    /// <summary>
    /// Cuts the stream both ways at once, after a write was interrupted part-way and nothing
    /// more can follow it: the peer reads the end of the stream, and a read pending here ends
    /// (completed or cancelled). Never throws; no write may be in progress.
    /// </summary>
    public abstract void Abort();

    /// <summary>Releases the stream, ending a read or flush still waiting on it; the peer sees it end.</summary>
    public abstract ValueTask DisposeAsync();
}
