using System.Text.RegularExpressions;
using Gopherpack.Tests.Support;

namespace Gopherpack.Tests.Manifest;

/// <summary>Manifests/invalid/*.yml: each starts with <c># expect: LINE:COL message fragment</c>.</summary>
public static partial class InvalidManifestCorpus
{
    [GeneratedRegex(@"^# expect: (\d+):(\d+) (.+)$")] private static partial Regex Expectation();

    public static string Folder => Path.Combine(AppContext.BaseDirectory, "Manifests", "invalid");

    public static IReadOnlyList<string> FileNames() =>
        Directory.GetFiles(Folder, "*.yml").Select(f => Path.GetFileName(f)).Order().ToList();

    public static TheoryData<string> Files() => new(FileNames());

    public static (int Line, int Column, string Message) Expected(string file)
    {
        var match = Expectation().Match(File.ReadLines(Path.Combine(Folder, file)).First());
        Assert.True(match.Success, $"{file} has no '# expect: LINE:COL message' first line");
        return (int.Parse(match.Groups[1].Value), int.Parse(match.Groups[2].Value), match.Groups[3].Value);
    }
}
