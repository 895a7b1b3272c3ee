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

    /// <summary>
    /// The engine keeps the module assembly it loaded first (this collection's module folder), so the test takes
    /// that folder's execute bit away for its duration instead of installing a second copy.
    /// </summary>
    [Fact]
    public void A_master_without_its_execute_bit_runs_from_a_checked_private_copy()
    {
        var shipped = Module.Master;
        var mode = File.GetUnixFileMode(shipped);
        var version = ModuleVersion().Match(File.ReadAllText(Module.Psd1)).Groups[1].Value;
        var cache = Path.Combine(Lab.Path, "cache");
        var copy = Path.Combine(cache, "gopherpack", version, "gopherpack");
        const UnixFileMode NoExecute = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;

        var saved = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        Environment.SetEnvironmentVariable("XDG_CACHE_HOME", cache);
        File.SetUnixFileMode(shipped, NoExecute);
        try
        {
            var manifest = Lab.Manifest("installed", workers: 1);
            StartAndStop(manifest, copy);
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.GetDirectoryName(copy)!));
            Assert.Equal((UnixFileMode)0b111_101_101, File.GetUnixFileMode(copy));

            // A copy that differs from the module's file (same size, other bytes) is replaced before the next start.
            var bytes = File.ReadAllBytes(copy);
            bytes[^1] ^= 0xff;
            File.WriteAllBytes(copy, bytes);
            StartAndStop(manifest, copy);
            Assert.Equal(File.ReadAllBytes(shipped), File.ReadAllBytes(copy));
            Assert.Equal(NoExecute, File.GetUnixFileMode(shipped));
        }
        finally
        {
            File.SetUnixFileMode(shipped, mode);
            Environment.SetEnvironmentVariable("XDG_CACHE_HOME", saved);
        }
    }

    private void StartAndStop(string manifest, string copy)
    {
        var pack = Assert.Single(PS.Run($"Start-Pack -Manifest {PackLab.Quote(manifest)} {Lab.Rt}").AssertNoErrors().Output);
        var masterPid = pack.Properties["MasterPid"].Value;
        try
        {
            Assert.Equal(copy, new FileInfo($"/proc/{masterPid}/exe").LinkTarget);
        }
        finally
        {
            PS.Run($"Stop-Pack -Name installed {Lab.Rt} -Confirm:$false").AssertNoErrors();
        }
    }
}
