namespace SecureChat.Node;

/// <summary>Dials that leave from the listen port (see <see cref="ListenPortDialer"/>).</summary>
public sealed partial class ChatNode
{
    private ListenPortDialer? _linkDialer;

    /// <summary>The dialer contact links use: the configured one, dialing global IPv6 addresses from the listen port.</summary>
    internal ILinkDialer LinkDialer => _linkDialer ??= new ListenPortDialer(Options.Dialer, () => ListenEndPoint, _logger);
}
