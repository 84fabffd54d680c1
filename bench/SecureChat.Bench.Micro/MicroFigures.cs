using System.Globalization;

namespace SecureChat.Bench.Micro;

/// <summary>Turns the measurements into the suite's figures, and a table for people.</summary>
internal static class MicroFigures
{
    private const double NanosecondsPerSecond = 1e9;

    public static IReadOnlyList<Figure> From(IReadOnlyDictionary<string, Measurement> measured, bool quick)
    {
        var note = quick ? MicroRun.QuickJob : null;
        double PerSecond(string name) => Math.Round(NanosecondsPerSecond / Get(measured, name).MeanNanoseconds);

        // MB is 10^6 bytes.
        double MegabytesPerSecond(string name, int bytes) => Math.Round(bytes / Get(measured, name).MeanNanoseconds * NanosecondsPerSecond / 1e6, 1);

        var x25519 = PerSecond("HandshakeBenchmarks.X25519Agreement");
        var bcl = MegabytesPerSecond("AeadBenchmarks.SealBcl", AeadBenchmarks.BufferSize);
        return
        [
            new Figure(
                "handshakes_per_s",
                PerSecond("HandshakeBenchmarks.IkHandshake"),
                "handshakes/s",
                "Noise IK channel handshake, both sides with certificate checks, one core",
                Target: "≥ 2000",
                BaselineKey: "x25519_per_s",
                Baseline: x25519,
                BaselineUnit: "ops/s",
                BaselineWhat: "X25519 agreements on one core",
                Note: note),
            new Figure("aead_bcl_mb_per_s", bcl, "MB/s", "ChaCha20-Poly1305 seal of 64 KiB, BCL, one core", Note: note),
            new Figure(
                "aead_libsodium_mb_per_s",
                MegabytesPerSecond("AeadBenchmarks.SealLibsodium", AeadBenchmarks.BufferSize),
                "MB/s",
                "ChaCha20-Poly1305 seal of 64 KiB, libsodium (NSec), one core",
                Note: note),
            new Figure(
                "channel_seal_mb_per_s",
                MegabytesPerSecond("AeadBenchmarks.SealChannel", AeadBenchmarks.ChannelMessageSize),
                "MB/s",
                "Channel transport encryption of 65,518-byte messages (one full frame each), one core",
                BaselineKey: "aead_bcl_mb_per_s",
                Baseline: bcl,
                BaselineUnit: "MB/s",
                BaselineWhat: "BCL ChaCha20-Poly1305 seal of 64 KiB",
                Note: note),
            new Figure(
                "ratchet_steps_per_s",
                PerSecond("RatchetBenchmarks.SameDirection"),
                "msg/s",
                "Double Ratchet encrypt + decrypt of 200 B, one direction (symmetric step)",
                Note: note),
            new Figure(
                "ratchet_dh_steps_per_s",
                PerSecond("RatchetBenchmarks.Alternating"),
                "msg/s",
                "Double Ratchet encrypt + decrypt of 200 B, alternating (DH step per message)",
                Note: note),
            new Figure(
                "codec_roundtrips_per_s",
                PerSecond("CodecBenchmarks.EnvelopeRoundTrip"),
                "msg/s",
                "Envelope with 200 B text: build, encode, parse and check (NodeWire)",
                Note: note),
        ];
    }

    /// <summary>A short table of the figures and the mean time behind each.</summary>
    public static void WriteTable(TextWriter output, IReadOnlyList<Figure> figures, IReadOnlyDictionary<string, Measurement> measured)
    {
        output.WriteLine();
        output.WriteLine("Micro-benchmarks (one core):");
        foreach (var figure in figures)
        {
            var line = string.Create(CultureInfo.InvariantCulture, $"  {figure.Key,-26} {figure.Value,14:N1} {figure.Unit,-13}");
            if (figure.BaselineKey is not null)
            {
                line += string.Create(CultureInfo.InvariantCulture, $" baseline {figure.BaselineKey} {figure.Baseline:N1} (x{figure.Value / figure.Baseline:F3})");
            }

            if (figure.Target is not null)
            {
                line += $" target {figure.Target}: {(figure.Met() == true ? "met" : "not met")}";
            }

            output.WriteLine(line);
        }

        output.WriteLine("Mean time per operation:");
        foreach (var (name, measurement) in measured.OrderBy(m => m.Key, StringComparer.Ordinal))
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {name,-38} {measurement.MeanNanoseconds / 1000,12:N2} µs ± {measurement.StandardErrorNanoseconds / 1000:N2} µs (standard error)"));
        }
    }

    private static Measurement Get(IReadOnlyDictionary<string, Measurement> measured, string name) =>
        measured.TryGetValue(name, out var measurement) ? measurement : throw new InvalidOperationException($"No measurement of {name}.");
}
