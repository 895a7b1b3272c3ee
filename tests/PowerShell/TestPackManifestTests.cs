using Gopherpack.PowerShell.Tests.Support;

namespace Gopherpack.PowerShell.Tests;

public sealed class TestPackManifestTests(ModuleFolder module) : ModuleTest(module)
{
    [Fact]
    public void A_valid_manifest_is_true_and_an_invalid_one_false_with_a_file_line_col_warning_per_problem()
    {
        var valid = Lab.Manifest("fine");
        var result = PS.Run($"Test-PackManifest {PackLab.Quote(valid)} -Verbose").AssertNoErrors();
        Assert.Equal([true], result.Objects<bool>());
        Assert.Empty(result.Warnings);
        Assert.Contains(result.Verbose, v => v == $"{valid}: ok (pack 'fine', 1 listener(s), workers 2)");

        // The exact warning the Pester suite (tests/Pester) matches.
        var invalid = Lab.File("invalid.yml", "name: pester\ncomand: dotnet\n");
        result = PS.Run($"Test-PackManifest {PackLab.Quote(invalid)}").AssertNoErrors();
        Assert.Equal([false], result.Objects<bool>());
        Assert.Contains($"{invalid}:2:1: unknown key 'comand' in the manifest; did you mean 'command'?", result.Warnings);
        Assert.All(result.Warnings, w => Assert.StartsWith(invalid + ":", w));
    }

    [Fact]
    public void Like_gopherpack_validate_it_checks_the_cpus_against_the_allowed_ones_and_takes_RuntimeDir()
    {
        // CPU 4095 is in no machine's affinity mask here: the manifest parses but cannot be placed.
        var unplaceable = Lab.Manifest("nocpu", workers: 1, cpus: "[4095]");
        var result = PS.Run($"Test-PackManifest {PackLab.Quote(unplaceable)} {Lab.Rt}").AssertNoErrors();
        Assert.Equal([false], result.Objects<bool>());
        var warning = Assert.Single(result.Warnings);
        Assert.StartsWith($"{unplaceable}: cpus: CPU 4095 is not in the master's allowed CPUs", warning);

        var valid = Lab.Manifest("fine");
        result = PS.Run($"Test-PackManifest {PackLab.Quote(valid)} {Lab.Rt} -Verbose").AssertNoErrors();
        Assert.Equal([true], result.Objects<bool>());
        Assert.Contains(result.Verbose, v => v == $"no pack 'fine' is running in {Lab.RuntimeDir}");
    }

    [Fact]
    public void Paths_come_from_the_pipeline_by_value_and_as_FullName_and_relative_paths_from_the_sessions_location()
    {
        var valid = Lab.Manifest("fine");
        var invalid = Lab.File("invalid.yml", "name: x\n");
        var result = PS.Run($"{PackLab.Quote(valid)}, [pscustomobject]@{{ FullName = {PackLab.Quote(invalid)} }} | Test-PackManifest -WarningAction SilentlyContinue").AssertNoErrors();
        Assert.Equal([true, false], result.Objects<bool>());
        // The session's location is the lab folder, not this process's working directory.
        Assert.Equal([true], PS.Run("Test-PackManifest ./fine.yml").AssertNoErrors().Objects<bool>());
    }
}
