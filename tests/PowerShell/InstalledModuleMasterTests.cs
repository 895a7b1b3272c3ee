using System.Text.RegularExpressions;
using Gopherpack.PowerShell.Tests.Support;

namespace Gopherpack.PowerShell.Tests;

/// <summary>
/// A module installed from a package: its gopherpack has no execute bit (a nupkg keeps none). Start-Pack runs
/// a private copy in $XDG_CACHE_HOME/gopherpack/VERSION, checked against the module's file before each start.
/// </summary>
public sealed partial class InstalledModuleMasterTests(ModuleFolder module) : ModuleTest(module)
{
    [GeneratedRegex(@"ModuleVersion\s*=\s*'([^']+)'")] private static partial Regex ModuleVersion();

    [Fact]
    public void A_master_without_its_execute_bit_runs_from_a_checked_private_copy()
    {
        var installed = Directory.CreateDirectory(Path.Combine(Lab.Path, "installed", "Gopherpack")).FullName;
        foreach (var file in Directory.EnumerateFiles(Module.Path, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(installed, Path.GetRelativePath(Module.Path, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
        var shipped = Path.Combine(installed, "gopherpack");
        File.SetUnixFileMode(shipped, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        var version = ModuleVersion().Match(File.ReadAllText(Path.Combine(installed, "Gopherpack.psd1"))).Groups[1].Value;
        var cache = Path.Combine(Lab.Path, "cache");
        var copy = Path.Combine(cache, "gopherpack", version, "gopherpack");

        var saved = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        Environment.SetEnvironmentVariable("XDG_CACHE_HOME", cache);
        try
        {
            using var ps = new PowerShellSession(Path.Combine(installed, "Gopherpack.psd1"), Lab.Path);
            var manifest = Lab.Manifest("installed", workers: 1);

            StartAndStop(ps, manifest, copy);
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.GetDirectoryName(copy)!));
            Assert.Equal((UnixFileMode)0b111_101_101, File.GetUnixFileMode(copy));

            // A copy that differs from the module's file (same size, other bytes) is replaced before the next start.
            var bytes = File.ReadAllBytes(copy);
            bytes[^1] ^= 0xff;
            File.WriteAllBytes(copy, bytes);
            StartAndStop(ps, manifest, copy);
            Assert.Equal(File.ReadAllBytes(shipped), File.ReadAllBytes(copy));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead, File.GetUnixFileMode(shipped));
        }
        finally
        {
            Environment.SetEnvironmentVariable("XDG_CACHE_HOME", saved);
        }
    }

    private void StartAndStop(PowerShellSession ps, string manifest, string copy)
    {
        var pack = Assert.Single(ps.Run($"Start-Pack -Manifest {PackLab.Quote(manifest)} {Lab.Rt}").AssertNoErrors().Output);
        var masterPid = pack.Properties["MasterPid"].Value;
        try
        {
            Assert.Equal(copy, new FileInfo($"/proc/{masterPid}/exe").LinkTarget);
        }
        finally
        {
            ps.Run($"Stop-Pack -Name installed {Lab.Rt} -Confirm:$false").AssertNoErrors();
        }
    }
}
