using System.Diagnostics;
using Xunit.Sdk;

namespace SecureChat.Tests.Node;

/// <summary>
/// A small file system of the test's own: a tmpfs of a few MiB mounted on a fresh directory, which
/// the test can fill to the last byte with a filler file and empty again. Mounting needs root
/// (CAP_SYS_ADMIN), as CI runs; without it the test fails and says so. Disposing unmounts it.
/// </summary>
internal sealed class SmallDisk : IDisposable
{
    private const int ChunkSize = 64 * 1024;

    private readonly DirectoryInfo _mountPoint;
    private readonly long _size;

    private SmallDisk(DirectoryInfo mountPoint, long size)
    {
        _mountPoint = mountPoint;
        _size = size;
    }

    /// <summary>Where the filler goes: beside the home, on the same file system.</summary>
    private string FillerPath => Path.Combine(_mountPoint.FullName, "filler");

    /// <summary>Mounts a tmpfs of <paramref name="mebibytes"/> MiB on a new directory under the temp directory.</summary>
    public static SmallDisk Mount(int mebibytes)
    {
        var mountPoint = Directory.CreateTempSubdirectory("securechat-disk-");
        var (code, output) = Run("mount", "-t", "tmpfs", "-o", $"size={mebibytes}m,mode=0700", "tmpfs", mountPoint.FullName);
        if (code != 0)
        {
            mountPoint.Delete();
            throw new XunitException($"Could not mount a {mebibytes} MiB tmpfs on {mountPoint.FullName} (mount exited {code}: {output.Trim()}). The disk-full tests need root (CAP_SYS_ADMIN) to mount it; run them as root, as CI does.");
        }

        return new SmallDisk(mountPoint, mebibytes * 1024L * 1024L);
    }

    /// <summary>A node home on this file system (its directory is created by the program).</summary>
    public TemporaryHome NewHome() => new(_mountPoint.CreateSubdirectory("e2e"));

    /// <summary>
    /// Writes the filler until the file system has no room left (ENOSPC): in 64 KiB chunks, then in
    /// single bytes to the last page. Returns the bytes written. Bounded by the file system's size.
    /// </summary>
    public long Fill()
    {
        using var filler = new FileStream(FillerPath, FileMode.Append, FileAccess.Write, FileShare.None, bufferSize: 0);
        var chunk = new byte[ChunkSize];
        Array.Fill(chunk, (byte)0x5a);
        long written = 0;
        foreach (var size in new[] { ChunkSize, 4096, 1 })
        {
            for (var i = 0L; i <= _size / size && written <= _size; i++)
            {
                try
                {
                    filler.Write(chunk, 0, size);
                    written += size;
                }
                catch (IOException)
                {
                    // ENOSPC: try a smaller piece, and stop at the smallest.
                    break;
                }
            }
        }

        return written;
    }

    /// <summary>Deletes the filler: the file system has room again.</summary>
    public void Free() => File.Delete(FillerPath);

    public void Dispose()
    {
        // Lazily: a process of the test still holding a file there must not keep the mount.
        Run("umount", "-l", _mountPoint.FullName);
        try
        {
            _mountPoint.Delete(recursive: true);
        }
        catch (IOException)
        {
            // Left for the system's temp cleanup; the mount itself is gone.
        }
    }

    private static (int Code, string Output) Run(string program, params string[] args)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        try
        {
            using var process = Process.Start(start) ?? throw new XunitException($"{program} did not start.");
            var output = process.StandardError.ReadToEndAsync();
            var stdout = process.StandardOutput.ReadToEnd();
            if (!process.WaitForExit(TimeSpan.FromSeconds(20)))
            {
                process.Kill();
                return (-1, $"{program} did not finish within 20 s");
            }

            return (process.ExitCode, stdout + output.Result);
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            return (-1, $"{program} could not be run: {ex.Message}");
        }
    }
}
