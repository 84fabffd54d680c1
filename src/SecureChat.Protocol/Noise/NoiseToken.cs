namespace SecureChat.Protocol.Noise;

/// <summary>The tokens of a Noise message pattern (Noise spec revision 34, sections 5.3, 7.1 and 9.2).</summary>
public enum NoiseToken
{
    /// <summary><c>e</c>: the sender's ephemeral public key, in clear.</summary>
    E,

    /// <summary><c>s</c>: the sender's static public key, encrypted once a key exists.</summary>
    S,

    /// <summary><c>ee</c>: DH(initiator ephemeral, responder ephemeral).</summary>
    EE,

    /// <summary><c>es</c>: DH(initiator ephemeral, responder static).</summary>
    ES,

    /// <summary><c>se</c>: DH(initiator static, responder ephemeral).</summary>
    SE,

    /// <summary><c>ss</c>: DH(initiator static, responder static).</summary>
    SS,

    /// <summary><c>psk</c>: MixKeyAndHash of the next pre-shared symmetric key.</summary>
    Psk,
}
