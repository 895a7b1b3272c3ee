using System.Diagnostics;
using System.Text.RegularExpressions;
using Gopherpack.Tests.Support;

namespace Gopherpack.Tests.Service;

/// <summary>
/// Every unit under docs/ passes <c>systemd-analyze verify</c> of this machine's systemd without a single
/// message (verify exits 0 even when it ignores a line, so its output is what counts). It runs against a
/// scratch root holding the system's own units, the docs' units in /etc/systemd/system and a stand-in
/// /usr/local/bin/gopherpack, so the ExecStart= paths resolve. Nothing is started: systemd is not booted.
/// A unit labelled "systemd 253 and later" is verified clean on 253+; on older systemd its only messages
/// must be the two 253 features it documents.
/// </summary>
public sealed partial class SystemdUnitVerifyTests
{
    private static readonly string Docs = Path.Combine(RepoPaths.Root, "docs");
    private const string Needs253 = "systemd 253 and later ONLY";

    private static List<string> UnitFiles() =>
        Directory.EnumerateFiles(Docs, "*", SearchOption.AllDirectories).Where(f => UnitSuffix().IsMatch(f)).Order().Select(f => Path.GetRelativePath(Docs, f)).ToList();

    public static TheoryData<string> Units() => new(UnitFiles());

    [Fact]
    public void The_docs_hold_the_249_default_the_253_variant_the_template_and_the_socket()
    {
        var units = UnitFiles().Select(f => Path.GetFileName(f)).ToList();
        Assert.Subset(new HashSet<string> { "hello.service", "hello-notify-reload.service", "hello.socket", "gopherpack@.service" }, units.ToHashSet());
        Assert.DoesNotContain(Needs253, File.ReadAllText(Path.Combine(Docs, "systemd", "hello.service")));
        Assert.Contains(Needs253, File.ReadAllText(Path.Combine(Docs, "systemd", "hello-notify-reload.service")));
    }

    [Theory]
    [MemberData(nameof(Units))]
    public void The_unit_verifies_without_a_message(string unit)
    {
        var source = Path.Combine(Docs, unit);
        using var root = new TempDir();
        var system = Path.Combine(root.Path, "etc", "systemd", "system");
        Directory.CreateDirectory(system);
        var lib = Directory.CreateDirectory(Path.Combine(root.Path, "usr", "lib", "systemd")).FullName;
        Assert.Equal(0, Run("cp", "-a", "/usr/lib/systemd/system", lib).Code);
        var bin = Directory.CreateDirectory(Path.Combine(root.Path, "usr", "local", "bin")).FullName;
        File.WriteAllText(Path.Combine(bin, "gopherpack"), "#!/bin/sh\n");
        File.SetUnixFileMode(Path.Combine(bin, "gopherpack"), (UnixFileMode)0b111_101_101);
        var name = Path.GetFileName(unit);
        File.Copy(source, Path.Combine(system, name));
        // The units a unit needs (hello.service requires hello.socket) sit beside it in docs.
        foreach (var sibling in Directory.EnumerateFiles(Path.GetDirectoryName(source)!).Where(f => UnitSuffix().IsMatch(f) && Path.GetFileName(f) != name))
            File.Copy(sibling, Path.Combine(system, Path.GetFileName(sibling)), overwrite: true);

        // A template is verified as an instance of it.
        var verified = name.EndsWith("@.service", StringComparison.Ordinal) ? name.Replace("@.service", "@example.service") : name;
        var (code, output) = Run("systemd-analyze", "verify", "--root=" + root.Path, Path.Combine(system, verified));
        Assert.True(code == 0, $"systemd-analyze verify {unit} exited {code}:\n{output}");

        var messages = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        if (File.ReadAllText(source).Contains(Needs253) && SystemdVersion() < 253)
        {
            Assert.All(messages, m => Assert.Matches("Failed to parse service type, ignoring: notify-reload|Unknown key 'ReloadSignal'", m));
            Assert.Equal(2, messages.Length);
        }
        else
        {
            Assert.True(messages.Length == 0, $"systemd {SystemdVersion()}: systemd-analyze verify {unit} says:\n{output}");
        }
    }

    private static int SystemdVersion()
    {
        var (_, output) = Run("systemd-analyze", "--version");
        return int.Parse(Regex.Match(output, @"systemd (\d+)").Groups[1].Value);
    }

    private static (int Code, string Output) Run(string file, params string[] args)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args) info.ArgumentList.Add(arg);
        Process process;
        try
        {
            process = Process.Start(info)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException($"{file} is needed (Debian's systemd package; .ci/run installs it): {e.Message}", e);
        }
        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(60_000))
            {
                process.Kill();
                throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish within 60 s");
            }
            return (process.ExitCode, stdout.Result + stderr.Result);
        }
    }

    [GeneratedRegex(@"\.(service|socket|target|timer|path|mount)$")]
    private static partial Regex UnitSuffix();
}
