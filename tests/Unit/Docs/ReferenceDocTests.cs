using System.Reflection;
using System.Text.RegularExpressions;
using Gopherpack.Control;
using Gopherpack.Manifest;
using Gopherpack.Master;
using Gopherpack.Tests.Support;
using YamlDotNet.RepresentationModel;

namespace Gopherpack.Tests.Docs;

/// <summary>
/// docs/REFERENCE.md against the code, where a table can drift: the CLI's commands, options and exit codes, the control
/// error table, the control requests, and the manifest keys the loader accepts.
/// </summary>
public sealed partial class ReferenceDocTests
{
    private static readonly string Reference = File.ReadAllText(Path.Combine(RepoPaths.Root, "docs", "REFERENCE.md"));

    [GeneratedRegex(@"^  (\S+)\b.*$", RegexOptions.Multiline)] private static partial Regex HelpEntry();
    [GeneratedRegex(@"^\| `gopherpack (\S+)[^`]*` \|", RegexOptions.Multiline)] private static partial Regex CommandRow();
    [GeneratedRegex(@"^(\d+)\b")] private static partial Regex LeadingCode();

    /// <summary>
    /// What each command can exit with beyond 0 and 2 (bad usage, every command), by what the code does: the control
    /// errors its request can draw (ControlDispatcher), mapped through <see cref="ControlErrorTable"/>, plus 7 for a pack
    /// that is not running and 1 for the client's own failures (<c>GopherpackCommand.Control</c>) for every command that
    /// talks to a master; <c>run</c> exits with <see cref="MasterRunner"/>'s codes, <c>start</c> with 1 for a failed start.
    /// </summary>
    private static readonly Dictionary<string, int[]> CodesBeyondUsage = new()
    {
        ["run"] = [MasterRunner.ExitFailed, MasterRunner.ExitUpgradeFailed],
        ["start"] = [ControlErrorTable.ExitFailed],
        ["stop"] = Client(),
        ["reload"] = Client(ControlErrors.ReloadFailed, ControlErrors.Busy, ControlErrors.ManifestInvalid, ControlErrors.BadRequest),
        ["scale"] = Client(ControlErrors.ScaleFailed, ControlErrors.Busy, ControlErrors.BadRequest),
        ["upgrade"] = Client(ControlErrors.UpgradeFailed, ControlErrors.Busy, ControlErrors.ManifestInvalid, ControlErrors.BadRequest),
        ["ps"] = Client(),
        ["validate"] = [],
        ["metrics"] = Client(),
        ["top"] = Client(),
    };

    private static int[] Client(params string[] errors) =>
        [ControlErrorTable.ExitNotRunning, ControlErrorTable.ExitFailed, .. errors.Select(e => ControlErrorTable.For(e).ExitCode)];

    [Fact]
    public async Task Every_command_and_option_of_the_cli_has_its_row_in_the_command_table()
    {
        var commands = HelpSection((await Help()).Stdout, "Commands:");
        Assert.Equal(commands.Order(), CommandRows().Keys.Order());
        Assert.Equal(commands.Order(), CodesBeyondUsage.Keys.Order());
        var helps = await Task.WhenAll(commands.Select(c => Help(c)));
        foreach (var (command, help) in commands.Zip(helps))
        {
            var usage = CommandRows()[command].Split('|')[1];
            foreach (var option in HelpSection(help.Stdout, "Options:").Where(o => o.StartsWith("--") && o is not "--runtime-dir"))
                Assert.True(usage.Contains(option), $"docs/REFERENCE.md: the row of '{command}' does not name its option {option}: {usage}");
        }
    }

    [Fact]
    public void Each_commands_exit_column_lists_exactly_the_codes_it_can_exit_with()
    {
        foreach (var (command, row) in CommandRows())
        {
            var listed = row.Split('|')[3].Split(';').Select(c => LeadingCode().Match(c.Trim())).Where(m => m.Success).Select(m => int.Parse(m.Value)).ToHashSet();
            var expected = CodesBeyondUsage[command].Append(ControlErrorTable.ExitOk).ToHashSet();
            // Bad usage (2) is said once for every command; a row names 2 where the command has a reason of its own.
            listed.Remove(ControlErrorTable.ExitUsage);
            expected.Remove(ControlErrorTable.ExitUsage);
            Assert.True(expected.SetEquals(listed), $"docs/REFERENCE.md: '{command}' lists exit codes {string.Join(", ", listed.Order())}, the code exits with {string.Join(", ", expected.Order())} (and 2)");
        }
        Assert.Contains("Bad usage exits 2 (every command).", Reference);
    }

    [Fact]
    public void The_exit_code_table_holds_every_exit_code_the_cli_defines()
    {
        // The CLI's own ExitCodes (read from its built assembly: the tests do not reference it) and the master's.
        var cliExitCodes = Assembly.LoadFrom(RepoPaths.CliDll).GetType("Gopherpack.Cli.ExitCodes", throwOnError: true)!;
        var defined = IntConstants(cliExitCodes).Concat(IntConstants(typeof(MasterRunner)).Where(f => f.Name.StartsWith("Exit")))
            .Select(f => (int)f.GetRawConstantValue()!).ToHashSet();
        Assert.Contains(ControlErrorTable.ExitNotRunning, defined);
        var documented = Table(Section("Exit codes and ErrorIds"), "exit").Select(r => int.Parse(r[0])).ToList();
        Assert.Equal(documented.Distinct().Count(), documented.Count);
        Assert.Equal(defined.Order(), documented.Order());
    }

    [Fact]
    public void The_error_table_maps_each_control_error_as_the_code_does()
    {
        var rows = Table(Section("Exit codes and ErrorIds"), "error code");
        var documented = rows.Where(r => r[0].StartsWith('`')).ToDictionary(r => r[0].Split('`')[1], r => (Exit: int.Parse(r[1]), ErrorId: r[2].Trim('`')));
        var code = ControlErrorTable.All.ToDictionary(o => o.Code, o => (Exit: o.ExitCode, o.ErrorId));
        Assert.Equal(code.Keys.Order(), documented.Keys.Order());
        foreach (var (error, outcome) in code) Assert.Equal((error, outcome), (error, documented[error]));
        var other = ControlErrorTable.For("something-new");
        Assert.Contains(rows, r => r[0] == "anything else" && int.Parse(r[1]) == other.ExitCode && r[2].Trim('`') == other.ErrorId);
        Assert.Contains($"A pack that is not running: {ControlErrorTable.ExitNotRunning}, `{Model.PackErrors.PackNotRunning}`.", Reference);
    }

    [Fact]
    public void The_control_socket_section_names_every_command_and_every_error_code_the_master_sends()
    {
        var section = Section("The control socket");
        foreach (var command in Constants(typeof(ControlCommands)))
            Assert.True(section.Contains($"\"command\":\"{command}\""), $"docs/REFERENCE.md: no request example for the control command '{command}'");
        // timeout and malformed-reply are the client's own, not the master's.
        foreach (var error in Constants(typeof(ControlErrors)).Except([ControlErrors.Timeout, ControlErrors.MalformedReply]))
            Assert.True(section.Contains($"`{error}`"), $"docs/REFERENCE.md: the control socket section does not list the error code '{error}'");
    }

    /// <summary>
    /// For each mapping of the reference's manifest (the top level, a listener, tls, ready, restart.backoff...), a key the
    /// loader does not know makes it list the keys it accepts there; they must be the keys the reference shows.
    /// </summary>
    [Fact]
    public void The_manifest_section_shows_every_key_the_loader_accepts()
    {
        var yaml = Regex.Match(Section("The manifest"), "```yaml\n(.*?)```", RegexOptions.Singleline).Groups[1].Value;
        var checkedMappings = 0;
        foreach (var path in MappingPaths(Parse(yaml).RootNode, []))
        {
            var document = Parse(yaml);
            var mapping = Walk(document.RootNode, path);
            var shown = mapping.Children.Keys.Select(k => ((YamlScalarNode)k).Value!).ToList();
            mapping.Children.Add(new YamlScalarNode("zqxjzqxj"), new YamlScalarNode("1"));
            var errors = Assert.Throws<ManifestException>(() => ManifestLoader.Parse(Serialize(document), "reference.yml")).Errors;
            var unknown = errors.Select(e => e.Message).Where(m => m.StartsWith("unknown key")).ToList();
            var known = Regex.Match(Assert.Single(unknown), @"^unknown key 'zqxjzqxj' in .*\(known keys: (.*)\)$");
            Assert.True(known.Success, $"at {string.Join('.', path)}: {unknown[0]}");
            Assert.Equal(known.Groups[1].Value.Split(", ").Order(), shown.Order());
            Assert.DoesNotContain(errors, e => e.Message.Contains("must be a mapping"));
            checkedMappings++;
        }
        Assert.True(checkedMappings >= 12, $"only {checkedMappings} mappings found in the reference's manifest");
    }

    private static IEnumerable<object[]> MappingPaths(YamlNode node, object[] path)
    {
        switch (node)
        {
            case YamlMappingNode mapping:
                // env's keys are the user's own, not the loader's.
                if (path.LastOrDefault() is "env") yield break;
                yield return path;
                foreach (var (key, value) in mapping.Children)
                    foreach (var inner in MappingPaths(value, [.. path, ((YamlScalarNode)key).Value!])) yield return inner;
                break;
            case YamlSequenceNode sequence:
                for (var i = 0; i < sequence.Children.Count; i++)
                    foreach (var inner in MappingPaths(sequence.Children[i], [.. path, i])) yield return inner;
                break;
        }
    }

    private static YamlMappingNode Walk(YamlNode node, object[] path) =>
        (YamlMappingNode)path.Aggregate(node, (n, step) => step is int i ? ((YamlSequenceNode)n).Children[i] : ((YamlMappingNode)n).Children[new YamlScalarNode((string)step)]);

    private static YamlDocument Parse(string yaml)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        return stream.Documents[0];
    }

    private static string Serialize(YamlDocument document)
    {
        using var writer = new StringWriter();
        new YamlStream(document).Save(writer, assignAnchors: false);
        return writer.ToString();
    }

    private static IEnumerable<FieldInfo> IntConstants(Type type) =>
        type.GetFields(BindingFlags.Public | BindingFlags.Static).Where(f => f.IsLiteral && f.FieldType == typeof(int));

    private static IEnumerable<string> Constants(Type type) =>
        type.GetFields(BindingFlags.Public | BindingFlags.Static).Where(f => f.IsLiteral && f.FieldType == typeof(string)).Select(f => (string)f.GetRawConstantValue()!);

    private static Task<Cli.Result> Help(string? command = null) => command is null ? Cli.RunAsync("--help") : Cli.RunAsync(command, "--help");

    /// <summary>The first word of each entry of a --help section ("Commands:", "Options:"), aliases split off.</summary>
    [Fact]
    public void The_busy_refusal_quoted_is_the_one_the_supervisor_words()
    {
        var started = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
        var manifest = new PackManifest { Name = "doc", ManifestPath = "/app.yml", Command = "/bin/true", WorkingDirectory = "/" };
        var reload = new ReloadOperation(4, manifest, ReloadStrategy.Surge, [], started, _ => { });
        Assert.Contains($"`{reload.Refusal(started + TimeSpan.FromSeconds(2.5))}`", Reference);
    }

    private static List<string> HelpSection(string help, string title)
    {
        var start = help.IndexOf("\n" + title + "\n", StringComparison.Ordinal);
        Assert.True(start >= 0, $"no '{title}' in:\n{help}");
        var body = help[(start + title.Length + 2)..];
        var end = body.IndexOf("\n\n", StringComparison.Ordinal);
        if (end >= 0) body = body[..end];
        return HelpEntry().Matches(body).Select(m => m.Value.Trim().Split("  ")[0].Split(", ").Last().Split(' ')[0]).ToList();
    }

    private static Dictionary<string, string> CommandRows() =>
        CommandRow().Matches(Section("The `gopherpack` command")).ToDictionary(m => m.Groups[1].Value, m => Reference.Split('\n').Single(l => l.StartsWith(m.Value)).Replace("\\|", "/"));

    private static string Section(string title)
    {
        var start = Reference.IndexOf("\n## " + title + "\n", StringComparison.Ordinal);
        Assert.True(start >= 0, $"docs/REFERENCE.md has no section '## {title}'");
        var end = Reference.IndexOf("\n## ", start + 1, StringComparison.Ordinal);
        return end < 0 ? Reference[start..] : Reference[start..end];
    }

    /// <summary>The body rows of the markdown table whose header starts with <paramref name="firstColumn"/>, cells trimmed.</summary>
    private static List<string[]> Table(string section, string firstColumn)
    {
        var lines = section.Split('\n').SkipWhile(l => !l.StartsWith($"| {firstColumn} |")).Skip(2).TakeWhile(l => l.StartsWith('|'));
        var rows = lines.Select(l => l.Trim('|').Split('|').Select(c => c.Trim()).ToArray()).ToList();
        Assert.NotEmpty(rows);
        return rows;
    }
}
