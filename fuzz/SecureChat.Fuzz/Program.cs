using SecureChat.Fuzz;

// dotnet SecureChat.Fuzz.dll TARGET          run TARGET under afl-fuzz (input on stdin; once, outside it)
// dotnet SecureChat.Fuzz.dll seed ROOT       write every target's seeds to ROOT/<target>/
// dotnet SecureChat.Fuzz.dll replay TARGET FILE...   run TARGET on files, say which one throws
// dotnet SecureChat.Fuzz.dll list            the targets' names
switch (args)
{
    case ["list"]:
        foreach (var target in FuzzTargets.All)
        {
            Console.WriteLine(target.Name);
        }

        return 0;
    case ["seed", var root]:
        FuzzTargets.WriteSeeds(root);
        return 0;
    case ["replay", var name, .. var files] when FuzzTargets.Find(name) is { } target:
        foreach (var file in files)
        {
            var input = File.ReadAllBytes(file);
            Console.Write($"{file}: {input.Length} bytes: ");
            Console.WriteLine(target.Run(input) ? "accepted" : "rejected");
        }

        return 0;
    case [var name] when FuzzTargets.Find(name) is { } target:
        // Nothing of SecureChat may run before this: its instrumented code writes to AFL++'s
        // coverage map, which exists only once the fork server has started.
        SharpFuzz.Fuzzer.Run(stream =>
        {
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            var input = buffer.Length > FuzzTargets.MaxInputSize ? buffer.GetBuffer()[..FuzzTargets.MaxInputSize] : buffer.ToArray();
            target.Run(input);
        });
        return 0;
    default:
        Console.Error.WriteLine($"usage: SecureChat.Fuzz (list | seed ROOT | replay TARGET FILE... | TARGET); targets: {string.Join(", ", FuzzTargets.All.Select(t => t.Name))}");
        return 2;
}
