using SecureChat.Storage;

namespace SecureChat.Node.Tests.Session;

/// <summary>
/// Strangers at the session level (docs/protocol.md 7.5, 7.6, 6.10): a request holds a stranger's
/// first few texts and refuses the rest with "request pending" until its person accepts; a hello
/// with one of the person's one-time invite tokens makes the stranger a contact on that very
/// connection. Carol is the stranger, Alice the person she knocks at. The contact book, the
/// accept and the token's validity are the node's and store's (ConnectionTests keeps
/// ConnectAsync_StrangerDialsIn_HeldAsARequestUntilAcceptedThenMessagesFlowBothWays,
/// AddContact_OneTimeLinkHolderDials_IsAContactAtOnceAndASecondHolderIsARequest and
/// AddContact_ForgedToken_StrangerIsARequest as their integration tests); Request_MoreTextsThanItHolds
/// moved here.
/// </summary>
public sealed class PeerSessionRequestTests : IDisposable
{
    private static readonly byte[] Token = [.. Enumerable.Range(1, 16).Select(i => (byte)i)];

    private readonly Party _alice = new("alice") { PeerStanding = ContactStanding.Request, RequestLimit = new QuotaLimit(5, 8 * 1024) };
    private readonly Party _carol = new("carol");

    public void Dispose()
    {
        _alice.Dispose();
        _carol.Dispose();
    }

    /// <summary>
    /// The request holds Carol's first five texts; the rest are refused with "request pending", and
    /// Carol is told so and holds them. Once Alice accepts, the next connection carries the rest,
    /// each once and in order, without waiting out the refusal.
    /// </summary>
    [Fact]
    public void Request_MoreTextsThanItHolds_RestWaitWithTheStrangerAndArriveOnceAfterAccept()
    {
        var sent = Enumerable.Range(0, 8).Select(i => _carol.Send($"knock {i}")).ToList();

        SessionPair.RunOnce(_carol, _alice);

        Assert.Equal(sent.Take(5).Select(m => m.Id), _alice.Store.Received.Select(m => m.MessageId));
        var refused = Assert.Single(_carol.Events.OfType<DeliveryRefused>()).Refusal;
        Assert.Equal("request", refused.Reason);
        Assert.Contains("once its person accepts you", refused.Message, StringComparison.Ordinal);
        Assert.Equal(_carol.Now + _alice.Options.RequestRetry, refused.Until);
        Assert.All(sent.Skip(5), m => Assert.NotEqual(MessageState.Delivered, m.State));

        _alice.PeerStanding = ContactStanding.Contact;
        SessionPair.RunOnce(_carol, _alice);

        Assert.Equal(sent.Select(m => m.Id), _alice.Store.Received.Select(m => m.MessageId));
        Assert.All(sent, m => Assert.Equal(MessageState.Delivered, m.State));
    }

    /// <summary>
    /// Carol comes back before Alice has answered: the new connection ends the wait (her request
    /// may have been accepted meanwhile), and her next held text is refused again, nothing more stored.
    /// </summary>
    [Fact]
    public void Request_StrangerReturnsBeforeAnAnswer_RefusedAgainAndNothingMoreStored()
    {
        var sent = Enumerable.Range(0, 7).Select(i => _carol.Send($"knock {i}")).ToList();
        SessionPair.RunOnce(_carol, _alice);

        SessionPair.RunOnce(_alice, _carol);

        Assert.Equal(5, _alice.Store.Received.Count);
        Assert.Equal(["request", "request"], _carol.Events.OfType<DeliveryRefused>().Select(e => e.Refusal.Reason));
        Assert.All(sent.Skip(5), m => Assert.NotEqual(MessageState.Delivered, m.State));
    }

    /// <summary>Alice's own texts to a stranger are not held: the hold is on what the stranger sends.</summary>
    [Fact]
    public void Request_PersonAnswersTheStranger_HerTextsGoAtOnce()
    {
        var answer = _alice.Send("who is this?");

        SessionPair.RunOnce(_carol, _alice);

        Assert.Equal([answer.Id], _carol.Store.Received.Select(m => m.MessageId));
        Assert.Equal(MessageState.Delivered, answer.State);
    }

    /// <summary>
    /// Carol's hello carries one of Alice's invite tokens: she is a contact on this very connection
    /// (the session says so to its node), every text she sends is stored, and the token is spent.
    /// Carol no longer presents it once the hellos were exchanged.
    /// </summary>
    [Fact]
    public void Invite_HelloCarriesAValidToken_PromotedOnThisConnectionAndTheTokenSpent()
    {
        _alice.Store.InviteTokens.Add(Token);
        _carol.InviteToken = Token;
        var sent = Enumerable.Range(0, 8).Select(i => _carol.Send($"from the link {i}")).ToList();

        using var pair = SessionPair.Run(_carol, _alice);

        var promoted = Assert.Single(pair.AnswererOutputs, o => o.Promoted is not null).Promoted!;
        Assert.Equal(ContactStanding.Contact, promoted.Standing);
        Assert.Equal(ContactStanding.Contact, pair.Answerer.Contact.Standing);
        Assert.Equal(sent.Select(m => m.Id), _alice.Store.Received.Select(m => m.MessageId));
        Assert.Empty(_carol.Events.OfType<DeliveryRefused>());
        Assert.Empty(_alice.Store.InviteTokens);
        Assert.Equal(1, _carol.Store.InvitesDelivered);
    }

    /// <summary>
    /// The connection ends before the hellos were exchanged: Carol keeps her token for the next
    /// hello (it is spent only once a hello exchange completed, 6.1), and the next connection
    /// redeems it.
    /// </summary>
    [Fact]
    public void Invite_ConnectionLostBeforeTheHellosWereExchanged_TokenKeptAndRedeemedOnTheNext()
    {
        _alice.Store.InviteTokens.Add(Token);
        _carol.InviteToken = Token;
        using (var lost = new SessionPair(_carol, _alice).Start())
        {
            lost.Settle(frameBudget: 0);
        }

        Assert.Equal(0, _carol.Store.InvitesDelivered);
        Assert.Equal([Token], _alice.Store.InviteTokens);

        using var pair = SessionPair.Run(_carol, _alice);

        Assert.Single(pair.AnswererOutputs, o => o.Promoted is not null);
        Assert.Equal(1, _carol.Store.InvitesDelivered);
        Assert.Empty(_alice.Store.InviteTokens);
    }

    /// <summary>A second stranger presenting the spent token is an ordinary request: held after its first five texts.</summary>
    [Fact]
    public void Invite_SecondHolderOfASpentToken_IsARequest()
    {
        using var dave = new Party("dave") { InviteToken = Token };
        _alice.Store.InviteTokens.Add(Token);
        _carol.InviteToken = Token;
        SessionPair.RunOnce(_carol, _alice);

        var sent = Enumerable.Range(0, 7).Select(i => dave.Send($"dave {i}")).ToList();
        using var pair = SessionPair.Run(dave, _alice);

        Assert.DoesNotContain(pair.AnswererOutputs, o => o.Promoted is not null);
        Assert.Equal(ContactStanding.Request, pair.Answerer.Contact.Standing);
        Assert.Equal("request", Assert.Single(dave.Events.OfType<DeliveryRefused>()).Refusal.Reason);
        Assert.Equal(sent.Take(5).Select(m => m.Id), _alice.Store.Received.Select(m => m.MessageId));
    }

    /// <summary>A token Alice never handed out, or one of another length, changes nothing (6.1): Carol stays a request.</summary>
    [Theory]
    [InlineData(16)]
    [InlineData(15)]
    [InlineData(64)]
    public void Invite_UnknownToken_StaysARequest(int length)
    {
        _alice.Store.InviteTokens.Add(Token);
        _carol.InviteToken = [.. Enumerable.Range(100, length).Select(i => (byte)i)];

        using var pair = SessionPair.Run(_carol, _alice);

        Assert.DoesNotContain(pair.AnswererOutputs, o => o.Promoted is not null);
        Assert.Equal(ContactStanding.Request, pair.Answerer.Contact.Standing);
        Assert.Equal([Token], _alice.Store.InviteTokens);
        Assert.Equal(1, _carol.Store.InvitesDelivered);
    }

    /// <summary>A token presented by someone who is already a contact is not spent: only a request redeems one.</summary>
    [Fact]
    public void Invite_PresentedByAContact_NotSpent()
    {
        _alice.PeerStanding = ContactStanding.Contact;
        _alice.Store.InviteTokens.Add(Token);
        _carol.InviteToken = Token;

        using var pair = SessionPair.Run(_carol, _alice);

        Assert.DoesNotContain(pair.AnswererOutputs, o => o.Promoted is not null);
        Assert.Equal([Token], _alice.Store.InviteTokens);
        Assert.True(pair.Answerer.IsOnline);
    }
}
