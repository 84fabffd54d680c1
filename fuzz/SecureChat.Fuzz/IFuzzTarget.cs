namespace SecureChat.Fuzz;

/// <summary>
/// One decoder of outside bytes under fuzzing. <see cref="Run"/> feeds it any input and treats
/// its documented rejections (a result value, or the layer's one exception type) as normal; any
/// other exception escapes and is a crash. <see cref="Seeds"/> are valid inputs made with the
/// project's own encoders, the corpus AFL++ starts from.
/// </summary>
public interface IFuzzTarget
{
    string Name { get; }

    /// <summary>
    /// Runs one input. True when it went all the way through (a frame read, a handshake completed,
    /// a message decrypted, an item stored…), false when it was rejected: both are normal outcomes.
    /// </summary>
    bool Run(byte[] input);

    IEnumerable<(string Name, byte[] Bytes)> Seeds();
}
