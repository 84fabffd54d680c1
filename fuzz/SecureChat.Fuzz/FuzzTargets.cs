using SecureChat.Fuzz.Targets;

namespace SecureChat.Fuzz;

/// <summary>Every fuzz target, by the name fuzz/run and the corpus folders use.</summary>
public static class FuzzTargets
{
    /// <summary>Inputs beyond this are cut: every decoder under test refuses far smaller ones, and AFL++ keeps inputs small.</summary>
    public const int MaxInputSize = 64 * 1024;

    public static IReadOnlyList<IFuzzTarget> All { get; } =
    [
        new FrameTarget(),
        new HandshakeTarget(),
        new HandshakePayloadTarget(),
        new EnvelopeTarget(),
        new RatchetTarget(),
        new RatchetStateTarget(),
        new BencodeTarget(),
        new KrpcTarget(),
        new Bep44Target(),
        new ApiTarget(),
        new ExportTarget(),
        new DiscoveryTarget(),
        new NatPmpTarget(),
        new PcpTarget(),
        new UpnpTarget(),
    ];

    public static IFuzzTarget? Find(string name) => All.FirstOrDefault(t => t.Name == name);

    /// <summary>Writes each target's seeds to <c>root/&lt;target&gt;/&lt;seed&gt;</c>, replacing what was there.</summary>
    public static void WriteSeeds(string root)
    {
        foreach (var target in All)
        {
            var directory = Path.Combine(root, target.Name);
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }

            Directory.CreateDirectory(directory);
            foreach (var (name, bytes) in target.Seeds())
            {
                if (!target.Run(bytes))
                {
                    throw new InvalidOperationException($"The seed {target.Name}/{name} is rejected by its own target.");
                }

                File.WriteAllBytes(Path.Combine(directory, name), bytes);
            }
        }
    }
}
