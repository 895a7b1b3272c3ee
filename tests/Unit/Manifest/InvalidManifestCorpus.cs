using System.Text.RegularExpressions;
using Gopherpack.Tests.Support;

namespace Gopherpack.Tests.Manifest;

/// <summary>
/// Manifests/invalid/*.yml: each starts with <c># expect: LINE:COL message fragment</c>, one such line per problem
/// the manifest has (every one must be reported).
/// </summary>
public static partial class InvalidManifestCorpus
{
    [GeneratedRegex(@"^# expect: (\d+):(\d+) (.+)$")] private static partial Regex Expectation();

    public static string Folder => Path.Combine(AppContext.BaseDirectory, "Manifests", "invalid");

    public static IReadOnlyList<string> FileNames() =>
        Directory.GetFiles(Folder, "*.yml").Select(f => Path.GetFileName(f)).Order().ToList();

    public static TheoryData<string> Files() => new(FileNames());

    public static IReadOnlyList<(int Line, int Column, string Message)> Expected(string file)
    {
        var expected = File.ReadLines(Path.Combine(Folder, file))
            .Select(line => Expectation().Match(line))
            .TakeWhile(match => match.Success)
            .Select(match => (int.Parse(match.Groups[1].Value), int.Parse(match.Groups[2].Value), match.Groups[3].Value))
            .ToList();
        Assert.True(expected.Count > 0, $"{file} has no '# expect: LINE:COL message' first line");
        return expected;
    }
}
