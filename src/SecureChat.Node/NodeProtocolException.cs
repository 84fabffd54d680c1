using SecureChat.Protocol.Channel;

namespace SecureChat.Node;

/// <summary>A peer broke the node protocol; the connection closes with <see cref="Reason"/> and the sentence.</summary>
public sealed class NodeProtocolException : Exception
{
    public NodeProtocolException(CloseReason reason, string message)
        : base(message) => Reason = reason;

    public NodeProtocolException()
    {
    }

    public NodeProtocolException(string message)
        : base(message)
    {
    }

    public NodeProtocolException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public CloseReason Reason { get; } = CloseReason.ProtocolViolation;
}
