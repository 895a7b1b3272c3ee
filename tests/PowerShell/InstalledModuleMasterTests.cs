using System.Runtime.InteropServices;
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

    private const UnixFileMode NoExecuteBit = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
    private const uint Nobody = 65534;
    private const UnixFileMode Shared = (UnixFileMode)0b1_111_111_111;

    /// <summary>
    /// $XDG_CACHE_HOME is a folder every account can write (1777), and another account has made its gopherpack
    /// folder (775), or a link there: the location is refused without changing the other account's folder or
    /// creating anything through the link, and the master runs from the next location, ~/.cache.
    /// </summary>
    [Fact]
    public void A_cache_folder_of_another_account_or_a_planted_link_is_refused_and_left_alone()
    {
        var shared = Path.Combine(Lab.Path, "shared");
        Directory.CreateDirectory(shared);
        File.SetUnixFileMode(shared, Shared);
        var planted = Path.Combine(shared, "gopherpack");
        Directory.CreateDirectory(planted);
        File.SetUnixFileMode(planted, (UnixFileMode)0b111_111_101);
        Assert.Equal(0, lchown(planted, Nobody, Nobody));
        var home = Path.Combine(Lab.Path, "home");
        Directory.CreateDirectory(home, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var homeCopy = Path.Combine(home, ".cache", "gopherpack", Version, "gopherpack");

        WithoutExecuteBit(new() { ["XDG_CACHE_HOME"] = shared, ["HOME"] = home }, () =>
        {
            var manifest = Lab.Manifest("installed", workers: 1);
            StartAndStop(manifest, homeCopy);
            Assert.Equal((UnixFileMode)0b111_111_101, File.GetUnixFileMode(planted));
            Assert.Empty(Directory.EnumerateFileSystemEntries(planted));

            // A link planted in its place: nothing is made through it.
            Directory.Delete(planted);
            var target = Path.Combine(Lab.Path, "link-target");
            Directory.CreateDirectory(target);
            File.CreateSymbolicLink(planted, target);
            StartAndStop(manifest, homeCopy);
            Assert.Empty(Directory.EnumerateFileSystemEntries(target));
        });
    }

    /// <summary>When no location passes the check, Start-Pack fails with PackStartFailed naming each folder and why.</summary>
    [Fact]
    public void No_safe_cache_folder_is_PackStartFailed_naming_each_location()
    {
        var shared = Path.Combine(Lab.Path, "shared");
        Directory.CreateDirectory(shared);
        File.SetUnixFileMode(shared, Shared);
        foreach (var own in new[] { "gopherpack", $"gopherpack-cache-{geteuid()}" })
        {
            Directory.CreateDirectory(Path.Combine(shared, own));
            Assert.Equal(0, lchown(Path.Combine(shared, own), Nobody, Nobody));
        }
        WithoutExecuteBit(new() { ["XDG_CACHE_HOME"] = shared, ["HOME"] = null, ["TMPDIR"] = shared }, () =>
        {
            var error = PS.Run($"Start-Pack -Manifest {PackLab.Quote(Lab.Manifest("installed", workers: 1))} {Lab.Rt}").SingleError();
            Assert.StartsWith("PackStartFailed", error.FullyQualifiedErrorId);
            Assert.Contains($"{Path.Combine(shared, "gopherpack")} is owned by uid {Nobody}", error.Exception.Message);
            Assert.Contains($"{Path.Combine(shared, $"gopherpack-cache-{geteuid()}")} is owned by uid {Nobody}", error.Exception.Message);
            Assert.Null(Lab.MasterPid("installed"));
        });
    }

    /// <summary>An I/O failure while the copy is made (here its place is taken by a folder) is PackStartFailed, not a raw .NET exception.</summary>
    [Fact]
    public void An_io_failure_while_copying_the_master_is_PackStartFailed()
    {
        var cache = Path.Combine(Lab.Path, "cache");
        var blocked = Path.Combine(cache, "gopherpack", Version, "gopherpack");
        Directory.CreateDirectory(Path.Combine(blocked, "inside"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        WithoutExecuteBit(new() { ["XDG_CACHE_HOME"] = cache }, () =>
        {
            var error = PS.Run($"Start-Pack -Manifest {PackLab.Quote(Lab.Manifest("installed", workers: 1))} {Lab.Rt}").SingleError();
            Assert.StartsWith("PackStartFailed", error.FullyQualifiedErrorId);
            Assert.Contains("cannot run the module's master", error.Exception.Message);
            Assert.Null(Lab.MasterPid("installed"));
        });
    }

    /// <summary>
    /// Invoke-PackUpgrade without -Executable runs the importing module's master (here its private copy in a new
    /// cache, standing for a newer module version), not the running master's program; -Executable naming the
    /// module folder's master, which has no execute bit, runs that private copy too.
    /// </summary>
    [Fact]
    public void Invoke_PackUpgrade_runs_the_modules_own_master_even_without_its_execute_bit()
    {
        var first = Path.Combine(Lab.Path, "cache1");
        var second = Path.Combine(Lab.Path, "cache2");
        var secondCopy = Path.Combine(second, "gopherpack", Version, "gopherpack");
        WithoutExecuteBit(new() { ["XDG_CACHE_HOME"] = first }, () =>
        {
            var manifest = Lab.Manifest("installed", workers: 1);
            PS.Run($"Start-Pack -Manifest {PackLab.Quote(manifest)} {Lab.Rt}").AssertNoErrors();
            try
            {
                Environment.SetEnvironmentVariable("XDG_CACHE_HOME", second);
                var upgrade = Assert.Single(PS.Run($"Invoke-PackUpgrade -Name installed {Lab.Rt}").AssertNoErrors().Output);
                Assert.Equal(secondCopy, new FileInfo($"/proc/{upgrade.Properties["NewMasterPid"].Value}/exe").LinkTarget);

                var named = PS.Run($"Invoke-PackUpgrade -Name installed -Executable \"$((Get-Module Gopherpack).ModuleBase)/gopherpack\" {Lab.Rt}").AssertNoErrors();
                Assert.Equal(secondCopy, new FileInfo($"/proc/{Assert.Single(named.Output).Properties["NewMasterPid"].Value}/exe").LinkTarget);
            }
            finally
            {
                PS.Run($"Stop-Pack -Name installed {Lab.Rt} -Confirm:$false").AssertNoErrors();
            }
        });
    }

    private string Version => ModuleVersion().Match(File.ReadAllText(Module.Psd1)).Groups[1].Value;

    /// <summary>Runs <paramref name="body"/> with the module's master at mode 0644 and the given environment, restoring both.</summary>
    private void WithoutExecuteBit(Dictionary<string, string?> environment, Action body)
    {
        var shipped = Module.Master;
        var mode = File.GetUnixFileMode(shipped);
        var saved = environment.Keys.ToDictionary(k => k, Environment.GetEnvironmentVariable);
        foreach (var (name, value) in environment) Environment.SetEnvironmentVariable(name, value);
        File.SetUnixFileMode(shipped, NoExecuteBit);
        try
        {
            body();
        }
        finally
        {
            File.SetUnixFileMode(shipped, mode);
            foreach (var (name, value) in saved) Environment.SetEnvironmentVariable(name, value);
        }
    }

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int lchown(string path, uint owner, uint group);

    [LibraryImport("libc")]
    private static partial uint geteuid();

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
