using System.Text.Json;
using System.Text.Json.Serialization;

namespace SecureChat.Storage;

// The JSON the store writes, with its serializers generated at build time: reflection-based
// serializers cost a node about 100 ms of its start (the identity file, then every contact).

/// <summary>The identity file (identity.json): indented, camelCase.</summary>
[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(IdentityFile.Record))]
internal sealed partial class StoredJson : JsonSerializerContext;

/// <summary>A contact record, sealed in the contacts table (web defaults: camelCase).</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(Contact))]
internal sealed partial class ContactJson : JsonSerializerContext;
