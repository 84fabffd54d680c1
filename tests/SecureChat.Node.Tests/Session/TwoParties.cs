namespace SecureChat.Node.Tests.Session;

/// <summary>Alice and Bob, the two nodes most in-memory session tests run between, made fresh for each test and disposed after it.</summary>
public abstract class TwoParties : IDisposable
{
    private protected Party Alice { get; } = new("alice");

    private protected Party Bob { get; } = new("bob");

    public void Dispose()
    {
        Dispose(disposing: true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
        if (disposing)
        {
            Alice.Dispose();
            Bob.Dispose();
        }
    }
}
