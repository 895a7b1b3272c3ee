using System.Text.RegularExpressions;
using Gopherpack.Tests.Support;

namespace Gopherpack.Tests.Docs;

/// <summary>Every relative link of the README and the docs leads to a file or folder of the repository, and an anchor to a heading of its page.</summary>
public sealed partial class DocLinksTests
{
    [GeneratedRegex(@"!?\[[^\]]*\]\(([^)\s]+)\)")] private static partial Regex Link();
    [GeneratedRegex(@"^```.*?^```", RegexOptions.Multiline | RegexOptions.Singleline)] private static partial Regex CodeBlock();
    [GeneratedRegex(@"^#{1,6} (.+)$", RegexOptions.Multiline)] private static partial Regex Heading();
    [GeneratedRegex(@"[^\p{L}\p{N} _-]")] private static partial Regex NotInAnchor();

    public static TheoryData<string> Pages()
    {
        var pages = new TheoryData<string>();
        foreach (var page in new[] { "README.md", Path.Combine("bench", "README.md"), Path.Combine("src", "Gopherpack.Worker", "README.md") }
            .Concat(Directory.GetFiles(Path.Combine(RepoPaths.Root, "docs"), "*.md").Select(f => Path.GetRelativePath(RepoPaths.Root, f))).Order())
            pages.Add(page);
        return pages;
    }

    [Fact]
    public void The_readme_links_to_every_page_under_docs()
    {
        var readme = File.ReadAllText(Path.Combine(RepoPaths.Root, "README.md"));
        foreach (var page in Directory.GetFiles(Path.Combine(RepoPaths.Root, "docs"), "*.md").Select(f => "docs/" + Path.GetFileName(f)))
            Assert.True(readme.Contains($"]({page})"), $"README.md's map of the docs does not link {page}");
        Assert.Contains("](bench/README.md)", readme);
    }

    [Theory]
    [MemberData(nameof(Pages))]
    public void Every_relative_link_resolves(string page)
    {
        var path = Path.Combine(RepoPaths.Root, page);
        var text = CodeBlock().Replace(File.ReadAllText(path), "");
        var broken = new List<string>();
        var links = 0;
        foreach (var target in Link().Matches(text).Select(m => m.Groups[1].Value))
        {
            if (target.Contains("://") || target.StartsWith("mailto:")) continue;
            links++;
            var hash = target.IndexOf('#');
            var file = hash < 0 ? target : target[..hash];
            var resolved = file.Length == 0 ? path : Path.GetFullPath(Path.Combine(Path.GetDirectoryName(path)!, file));
            if (!resolved.StartsWith(RepoPaths.Root + Path.DirectorySeparatorChar) || !(File.Exists(resolved) || Directory.Exists(resolved)))
                broken.Add($"{target}: no such file");
            else if (hash >= 0 && !Anchors(resolved).Contains(target[(hash + 1)..]))
                broken.Add($"{target}: no heading with that anchor in {Path.GetRelativePath(RepoPaths.Root, resolved)}");
        }
        Assert.True(broken.Count == 0, $"{page}: broken links:\n" + string.Join("\n", broken));
        if (page == "README.md") Assert.True(links >= 10, $"only {links} relative links found in README.md");
    }

    /// <summary>GitHub's anchors for a page's headings: lower case, punctuation dropped, spaces to hyphens.</summary>
    private static HashSet<string> Anchors(string page)
    {
        if (!page.EndsWith(".md")) return [];
        var text = CodeBlock().Replace(File.ReadAllText(page), "");
        return Heading().Matches(text).Select(m => NotInAnchor().Replace(m.Groups[1].Value.Trim().ToLowerInvariant(), "").Replace(' ', '-')).ToHashSet();
    }
}
