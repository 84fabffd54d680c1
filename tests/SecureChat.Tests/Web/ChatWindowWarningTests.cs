using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using SecureChat.Protocol.Identity;
using SecureChat.Storage;
using SecureChat.Testing;
using SecureChat.Tests.Node;
using Xunit.Abstractions;
using static Microsoft.Playwright.Assertions;

namespace SecureChat.Tests.Web;

/// <summary>
/// The chat window's rarer moments, in a real browser: a key change that must stop the person, a
/// QR code read by the camera or from a picture, and a long conversation opened at once.
/// </summary>
[Trait("Speed", "Slow")]
[Collection(BrowserCollection.Name)]
public sealed class ChatWindowWarningTests(BrowserFixture browser, ITestOutputHelper output)
{
    private static readonly string[] Login = ["/"];

    [Fact]
    public async Task KeyChange_AnotherNodeAtTheContactsAddress_BlocksThePageUntilAcknowledged()
    {
        await using var alice = await WebNode.StartAsync("Alice");
        await using var bob = await WebNode.StartAsync("Bob");
        using (await alice.Api.AddContactAsync(bob.Identity, bob.Node.ListenAddress))
        {
        }

        // Bob's key is pinned by a first real connection.
        await Eventually.UntilAsync(
            "Alice's node to meet Bob",
            ChatProcess.Timeout,
            async () =>
            {
                using var contact = await alice.Api.GetJsonAsync("api/contacts/Bob");
                return contact.RootElement.GetProperty("online").GetBoolean();
            },
            online => online,
            _ => "Bob is not online at Alice's node");
        await using var session = await browser.NewSessionAsync(output);
        var page = await ChatPage.OpenAsync(session, alice);
        await page.OpenConversationAsync("Bob");

        // Bob's node goes, and another identity takes its address.
        await bob.Node.TerminateAsync();
        using var malloryHome = new TemporaryHome();
        await SecureChatCli.InitAsync(malloryHome, "Mallory");
        await using var mallory = await RunningNode.StartAsync(malloryHome, "Mallory", bob.Node.ListenPort);

        // A message for Bob makes Alice's node dial at once; the page stops everything with the warning.
        // (Alice's node may meet Mallory by itself first, redialing Bob's address: the message goes
        // in through the API, as the page takes no typing while the warning is up.)
        var text = page.Page.Locator("#message-input");
        await text.FocusAsync();
        await alice.Api.SendAsync("Bob", "are you still there?");
        var dialog = page.Page.Locator("#key-warning-dialog");
        await Expect(dialog).ToBeVisibleAsync();

        // Keys typed as it pops up (say, the Enter of the next message) do not acknowledge it.
        await page.Page.Keyboard.PressAsync("Enter");
        await page.Page.Keyboard.PressAsync("Space");
        await Expect(dialog).ToBeVisibleAsync();
        await Expect(page.Page.Locator("#key-warning-title")).ToBeFocusedAsync();
        await Expect(page.Page.Locator("#key-warning-title")).ToHaveTextAsync("Warning: Bob presented a different key");
        await Expect(page.Page.Locator("#key-warning-text")).ToContainTextAsync(bob.Node.ListenAddress);
        await Artifacts.ScreenshotAsync(page.Page, "key-warning", output);

        // Escape does not dismiss it, and it is modal: the page behind it takes no input.
        await page.Page.Keyboard.PressAsync("Escape");
        await Expect(dialog).ToBeVisibleAsync();
        Assert.True(await page.Page.EvaluateAsync<bool>("() => document.querySelector('#key-warning-dialog').matches(':modal')"));
        await Expect(page.Tick("are you still there?")).ToHaveAttributeAsync("data-state", "queued");

        // A second tab opened now shows the same warning: the node keeps it until it is acknowledged.
        var second = await page.SecondTabAsync();
        await Expect(second.Page.Locator("#key-warning-dialog")).ToBeVisibleAsync();
        await second.Page.ClickAsync("#key-warning-ack");
        await Expect(second.Page.Locator("#key-warning-dialog")).ToBeHiddenAsync();
        await Eventually.UntilAsync(
            "the warning to be dismissed on the node",
            ChatProcess.Timeout,
            async () =>
            {
                using var contact = await alice.Api.GetJsonAsync("api/contacts/Bob");
                return contact.RootElement.GetProperty("keyWarning").ValueKind;
            },
            kind => kind == JsonValueKind.Null,
            kind => $"keyWarning is {kind}");

        // The message still waits for the real Bob, and Mallory never became a contact.
        await Expect(page.Tick("are you still there?")).ToHaveAttributeAsync("data-state", "queued");
        using var contacts = await alice.Api.GetJsonAsync("api/contacts");
        Assert.Equal([bob.Id], contacts.RootElement.EnumerateArray().Select(c => c.GetProperty("id").GetString()));
        session.AssertNoErrors(Login);
    }

    [Fact]
    public async Task QrCode_OfAnInviteLink_ReadByTheCameraOrFromAPicture_AddsTheContact()
    {
        await using var alice = await WebNode.StartAsync("Alice");
        await using var bob = await WebNode.StartAsync("Bob");
        using var invite = await bob.Api.GetJsonAsync("api/invite?withAddress=true");
        var link = invite.RootElement.GetProperty("link").GetString()!;
        Assert.StartsWith($"securechat:{bob.Id}?name=Bob&at=", link, StringComparison.Ordinal);

        using var files = new TemporaryHome();
        Directory.CreateDirectory(files.Path);
        var video = QrVideo.WriteY4m(link, Path.Combine(files.Path, "bob.y4m"));
        await using var session = await browser.NewSessionWithCameraAsync(output, video);
        var page = await ChatPage.OpenAsync(session, alice);

        await page.Page.ClickAsync("#add-contact-button");
        await page.Page.ClickAsync("#scan-qr-button");
        await Expect(page.Page.Locator("#add-id")).ToHaveValueAsync(link);
        await Expect(page.Page.Locator("#qr-scanner")).ToBeHiddenAsync();
        await page.Page.ClickAsync("#add-submit");
        await Expect(page.Page.Locator("#conversation-title")).ToHaveTextAsync("Bob");
        await Expect(page.Contact("Bob").Locator(".presence.online")).ToBeVisibleAsync();

        // A picture of a code works the same way.
        using var carolHome = new TemporaryHome();
        var carol = await SecureChatCli.InitAsync(carolHome, "Carol");
        var picture = QrVideo.WritePng($"securechat:{carol.Id}?name=Carol", Path.Combine(files.Path, "carol.png"));
        await page.Page.ClickAsync("#add-contact-button");
        await page.Page.SetInputFilesAsync("#qr-file", picture);
        await Expect(page.Page.Locator("#add-id")).ToHaveValueAsync($"securechat:{carol.Id}?name=Carol");
        await page.Page.ClickAsync("#add-submit");
        await Expect(page.Contact("Carol")).ToBeVisibleAsync();

        // A picture without a code says so in the dialog.
        await page.Page.ClickAsync("#add-contact-button");
        await page.Page.SetInputFilesAsync("#qr-file", Blank(files.Path));
        await Expect(page.Page.Locator("#add-error")).ToHaveTextAsync("No QR code was found in that picture.");
        await Artifacts.ScreenshotAsync(page.Page, "add-contact", output);
        session.AssertNoErrors([.. Login, "/api/qr/decode"]);
    }

    [Fact]
    public async Task LongConversation_TenThousandMessages_OpensWithTheNewestAndReportsItsLoadTime()
    {
        using var bobHome = new TemporaryHome();
        var bob = await SecureChatCli.InitAsync(bobHome, "Bob");
        await using var alice = await WebNode.StartAsync("Alice", (home, _) => Seed(home, bob, 10_000));
        await using var session = await browser.NewSessionAsync(output);
        var page = await ChatPage.OpenAsync(session, alice);
        await page.Page.EvaluateAsync("id => history.replaceState(null, '', '/#c=' + id)", bob.Id);

        var shown = new List<double>();
        var loaded = new List<double>();
        for (var run = 0; run < 7; run++)
        {
            await page.Page.ReloadAsync();
            await Expect(page.Message("message 10000 of the long conversation")).ToBeVisibleAsync();
            shown.Add(await page.Page.EvaluateAsync<double>("() => performance.getEntriesByName('conversation-shown')[0].startTime"));
            loaded.Add(await page.Page.EvaluateAsync<double>("() => performance.getEntriesByType('navigation')[0].loadEventEnd"));
        }

        await Expect(page.Messages).ToHaveCountAsync(50);
        shown.Sort();
        loaded.Sort();
        var report = string.Create(
            CultureInfo.InvariantCulture,
            $"Page load with 10,000 messages in the open conversation (7 reloads, Chromium headless, loopback): conversation shown at p50 {shown[3]:F0} ms (min {shown[0]:F0}, max {shown[^1]:F0}); load event at p50 {loaded[3]:F0} ms.");
        output.WriteLine(report);
        Directory.CreateDirectory(Path.Combine(Artifacts.Screenshots, ".."));
        await File.WriteAllTextAsync(Path.Combine(Artifacts.Screenshots, "..", "web-load.txt"), report + Environment.NewLine);
        await Artifacts.ScreenshotAsync(page.Page, "long-conversation", output);
        session.AssertNoErrors(Login);
    }

    /// <summary>Fills a home's store with a conversation of <paramref name="count"/> messages with <paramref name="contact"/>, before its node starts.</summary>
    private static void Seed(TemporaryHome home, CreatedIdentity contact, int count)
    {
        var clock = Stopwatch.StartNew();
        var (identity, dataKey) = IdentityFile.Unlock(home.Path, []);
        using (dataKey)
        using (var store = LocalStore.Open(home.Path, dataKey, identity.Account, TimeProvider.System))
        {
            Assert.True(AccountId.TryParse(contact.Id, out var account));
            var bob = store.Contacts.Add(account, contact.Name, null, DateTimeOffset.UtcNow);
            var start = DateTimeOffset.UtcNow.AddDays(-30);
            store.Messages.AddRange(bob, Enumerable.Range(1, count).Select(i =>
            {
                var outgoing = i % 2 == 0;
                var at = start.AddMinutes(i * 4);
                return new StoredMessage(
                    MessageLog.NewId(), bob.Name, bob.Account, outgoing, at, outgoing ? null : at.AddSeconds(1),
                    outgoing ? MessageState.Read : MessageState.Seen, $"message {i} of the long conversation", i);
            }));
        }
    }

    /// <summary>A white 64 x 64 PNG: a picture with no code in it.</summary>
    private static string Blank(string folder)
    {
        const int Side = 64;
        var raw = new byte[Side * (Side + 1)];
        for (var row = 0; row < Side; row++)
        {
            Array.Fill(raw, (byte)255, (row * (Side + 1)) + 1, Side);
        }

        using var compressed = new MemoryStream();
        using (var zlib = new System.IO.Compression.ZLibStream(compressed, System.IO.Compression.CompressionLevel.Optimal))
        {
            zlib.Write(raw);
        }

        using var png = new MemoryStream();
        png.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        Chunk(png, "IHDR", [0, 0, 0, Side, 0, 0, 0, Side, 8, 0, 0, 0, 0]);
        Chunk(png, "IDAT", compressed.ToArray());
        Chunk(png, "IEND", []);
        var path = Path.Combine(folder, "white.png");
        File.WriteAllBytes(path, png.ToArray());
        return path;

        static void Chunk(Stream to, string type, byte[] data)
        {
            var typed = new byte[4 + data.Length];
            System.Text.Encoding.ASCII.GetBytes(type, typed);
            data.CopyTo(typed, 4);
            Span<byte> number = stackalloc byte[4];
            System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(number, data.Length);
            to.Write(number);
            to.Write(typed);
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(number, Crc32(typed));
            to.Write(number);
        }

        // PNG's CRC-32 (ISO 3309), bit by bit: a few bytes, once.
        static uint Crc32(byte[] bytes)
        {
            var crc = 0xFFFFFFFFu;
            foreach (var b in bytes)
            {
                crc ^= b;
                for (var bit = 0; bit < 8; bit++)
                {
                    crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
                }
            }

            return ~crc;
        }
    }
}
