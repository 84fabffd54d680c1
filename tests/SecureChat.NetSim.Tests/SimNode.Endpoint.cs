namespace SecureChat.NetSim.Tests;

/// <summary>A contact added at an address the person typed.</summary>
internal sealed partial class SimNode
{
    /// <summary><c>contacts add ID --name NAME --endpoint HOST:PORT</c>: the node dials the contact there from its start.</summary>
    public Task AddWithEndpointAsync(SimNode contact, string endpoint) =>
        RunVerbAsync(HomePath, "contacts", "add", contact.Id, "--name", contact.Name, "--endpoint", endpoint);
}
