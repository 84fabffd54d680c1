using Microsoft.Data.Sqlite;
using SecureChat.Crypto;
using SecureChat.Protocol.Identity;

namespace SecureChat.Storage.Tests;

/// <summary>
/// A data directory with its owner's account and data key, to open <see cref="LocalStore"/> in;
/// and, with the store closed, a second connection to <c>securechat.db</c> that reads and edits it
/// the way someone holding the disk would.
/// </summary>
internal sealed class StoreHome : IDisposable
{
    private readonly TemporaryDirectory _directory = new();
    private readonly Peer _self = Peer.Create();

    public string Path => _directory.Path;

    public string DatabasePath => _directory.File(LocalStore.FileName);

    public SecretBytes DataKey { get; } = SecretBytes.Random(SecretBox.KeySize);

    public AccountId Self => _self.Account;

    public string File(string name) => _directory.File(name);

    public LocalStore Open(SecretBytes? dataKey = null, TimeProvider? time = null) =>
        LocalStore.Open(Path, dataKey ?? DataKey, Self, time ?? TimeProvider.System);

    /// <summary>Runs SQL on the closed database; the connection does not enforce foreign keys, as an attacker's would not.</summary>
    public int Execute(string sql, params (string Name, object Value)[] parameters)
    {
        using var connection = Connect();
        using var command = Command(connection, sql, parameters);
        return command.ExecuteNonQuery();
    }

    public T Scalar<T>(string sql, params (string Name, object Value)[] parameters)
    {
        using var connection = Connect();
        using var command = Command(connection, sql, parameters);
        return (T)command.ExecuteScalar()!;
    }

    /// <summary>The rows of a one-column query, in order.</summary>
    public List<T> Column<T>(string sql, params (string Name, object Value)[] parameters)
    {
        using var connection = Connect();
        using var command = Command(connection, sql, parameters);
        using var reader = command.ExecuteReader();
        var values = new List<T>();
        while (reader.Read())
        {
            values.Add((T)reader[0]);
        }

        return values;
    }

    public void Dispose()
    {
        DataKey.Dispose();
        _self.Dispose();
        _directory.Dispose();
    }

    private SqliteConnection Connect()
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = DatabasePath,
            Mode = SqliteOpenMode.ReadWrite,
            Pooling = false,
        }.ToString());
        connection.Open();

        // An edit need not survive a power cut; skipping the syncs keeps the bit-flip loops quick.
        using var pragma = connection.CreateCommand();
        pragma.CommandText = "PRAGMA synchronous = OFF;";
        pragma.ExecuteNonQuery();
        return connection;
    }

    private static SqliteCommand Command(SqliteConnection connection, string sql, (string Name, object Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        return command;
    }
}
