using System.ComponentModel;
using System.Diagnostics;
using SecureChat.Storage;

namespace SecureChat.Web;

/// <summary>
/// <c>run --open</c>: opens the web UI in the person's default browser. The link carries a token,
/// and a program's arguments are visible to every user of the machine, so the browser is given a
/// file instead, <c>open.html</c> (0600, beside <c>api.json</c>, removed at stop), that sends it on
/// to the link. The link is one of its own (<see cref="LoginLinks"/>): the browser trades its token
/// at once, so the address its history keeps, and the file, hold a dead token; unused, it dies
/// after <see cref="LoginLinks.Lifetime"/>. (A way with no token in any address, a form posted from
/// the file, would come from a file: page, whose opaque origin the node must refuse like any other
/// site's; and the cookie it set would not reach the page that follows.)
/// </summary>
internal static class Browser
{
    public const string FileName = "open.html";

    /// <summary>Writes <c>open.html</c>, which sends a browser on to <paramref name="link"/>; returns its path.</summary>
    public static string WriteRedirect(string directory, string link)
    {
        var path = Path.Combine(directory, FileName);
        var escaped = System.Net.WebUtility.HtmlEncode(link);
        DataDirectory.WriteAtomically(path, System.Text.Encoding.UTF8.GetBytes(
            $"<!doctype html><meta charset=utf-8><meta http-equiv=refresh content=\"0;url={escaped}\"><title>SecureChat</title><p>Opening <a href=\"{escaped}\">SecureChat</a>…"));
        return path;
    }

    /// <summary>Asks the system's opener to show <paramref name="path"/> (from <see cref="WriteRedirect"/>) in the default browser.</summary>
    public static void Open(string path, TextWriter output)
    {
        var opener = OperatingSystem.IsMacOS() ? "open" : "xdg-open";
        try
        {
            var start = new ProcessStartInfo(opener) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
            start.ArgumentList.Add(new Uri(path).AbsoluteUri);
            var process = Process.Start(start);
            if (process is not null)
            {
                // What the opener and the browser say is theirs, not the node's output; it is read and dropped.
                _ = Task.WhenAll(process.StandardOutput.BaseStream.CopyToAsync(Stream.Null), process.StandardError.BaseStream.CopyToAsync(Stream.Null))
                    .ContinueWith(_ => process.Dispose(), TaskScheduler.Default);
            }
        }
        catch (Win32Exception ex)
        {
            output.WriteLine($"Could not open a browser ({opener}: {ex.Message}): open the link above yourself.");
        }
    }

    public static void Forget(string directory)
    {
        try
        {
            File.Delete(Path.Combine(directory, FileName));
        }
        catch (IOException)
        {
            // Left behind: its token is spent or expired, and dead anyway once the node has stopped.
        }
    }
}
