using System.Net.Sockets;

namespace SecureChat.Net;

/// <summary>Why a network operation failed below the secure channel.</summary>
public enum NetworkError
{
    InvalidAddress,
    HostNotFound,
    ConnectionRefused,
    ConnectTimeout,
    Unreachable,
    AddressInUse,
    AddressNotAvailable,
    PermissionDenied,
    Other,
}

/// <summary>A socket-level failure, with a sentence a person can act on.</summary>
public sealed class NetworkException : Exception
{
    public NetworkException(NetworkError error, string message)
        : base(message)
    {
        Error = error;
    }

    public NetworkException(NetworkError error, string message, Exception innerException)
        : base(message, innerException)
    {
        Error = error;
    }

    public NetworkException()
        : this(NetworkError.Other, "The network operation failed.")
    {
    }

    public NetworkException(string message)
        : this(NetworkError.Other, message)
    {
    }

    public NetworkException(string message, Exception innerException)
        : this(NetworkError.Other, message, innerException)
    {
    }

    public NetworkError Error { get; }

    /// <summary>
    /// A failed bind or join, with the socket's reason as a <see cref="NetworkError"/> and the
    /// caller's sentence (which names the option that chooses another port or address).
    /// </summary>
    internal static NetworkException FromBind(SocketException ex, string sentence) =>
        new(ex.SocketErrorCode switch
        {
            SocketError.AddressAlreadyInUse => NetworkError.AddressInUse,
            SocketError.AddressNotAvailable => NetworkError.AddressNotAvailable,
            SocketError.AccessDenied => NetworkError.PermissionDenied,
            _ => NetworkError.Other,
        }, sentence, ex);
}
