using System.Globalization;
using System.Management.Automation;
using Gopherpack.PowerShell.Tests.Support;

namespace Gopherpack.PowerShell.Tests;

/// <summary>The table views of Gopherpack.Format.ps1xml, as Out-Default renders them to a host, against the objects' values.</summary>
public sealed class FormatViewTests(ModuleFolder module) : ModuleTest(module)
{
    [Fact]
    public void Packs_workers_reload_and_upgrade_results_render_as_their_table_views()
    {
        var manifest = Lab.Manifest("fmt", workers: 2, cpus: "auto");
        StartPack(manifest);
        PS.Host.TakeText();

        var reload = Render($"Invoke-PackReload fmt {Lab.Rt}", out var text).Single();
        var r = Table(text, ["Name", "Succeeded", "Generation", "Strategy", "Duration", "Error"]).Single();
        Assert.Equal(["fmt", "True", "2", "surge", reload.Get<TimeSpan>("Duration").TotalMilliseconds.ToString("N0", CultureInfo.InvariantCulture), "ms"], r.Tokens);

        var pack = Render($"Get-Pack fmt {Lab.Rt}", out text).Single();
        var row = Table(text, ["Name", "State", "MasterPid", "Gen", "Ready", "Listeners"]).Single();
        Assert.Equal(["fmt", "Running", pack.Get<string>("MasterPid"), "2", $"{pack.Get<int>("Ready")}/{pack.Get<int>("Workers")}", pack.Get<string>("Listeners")], row.Tokens);
        Assert.True(row.EndsUnder("MasterPid", pack.Get<string>("MasterPid")), $"MasterPid is not right-aligned:\n{text}");

        // Old workers may still be draining: the rows must match whatever the objects say.
        var workers = Render($"Get-PackWorker fmt {Lab.Rt}", out text);
        Assert.Contains("Pack: fmt", text);
        var rows = Table(text, ["Slot", "Pid", "User", "Cpu", "Gen", "State", "Uptime", "Restarts", "RssMB", "CpuTime", "LastExit"]);
        Assert.Equal(workers.Count, rows.Count);
        foreach (var (worker, line) in workers.Zip(rows))
        {
            var uptime = worker.Get<TimeSpan>("Uptime").ToString(@"d\.hh\:mm\:ss", CultureInfo.InvariantCulture);
            var cpuTime = worker.Get<TimeSpan>("CpuTime").TotalSeconds.ToString("N2", CultureInfo.InvariantCulture) + "s";
            Assert.Equal([worker.Get<string>("Slot"), worker.Get<string>("Pid"), Environment.UserName, worker.Get<string>("Cpu"), worker.Get<string>("Generation"), worker.Get<string>("State"), uptime, "0",
                worker.Get<double>("RssMB").ToString(CultureInfo.InvariantCulture), cpuTime], line.Tokens);
        }

        // Like a ReloadResult: Duration in milliseconds, not a raw TimeSpan such as 00:00:00.5186000.
        var upgrade = Render($"Invoke-PackUpgrade fmt {Lab.Rt}", out text).Single();
        var u = Table(text, ["Name", "Succeeded", "OldMasterPid", "NewMasterPid", "Generation", "Duration", "Error"]).Single();
        Assert.Equal(["fmt", "True", upgrade.Get<string>("OldMasterPid"), upgrade.Get<string>("NewMasterPid"), upgrade.Get<string>("Generation"),
            upgrade.Get<TimeSpan>("Duration").TotalMilliseconds.ToString("N0", CultureInfo.InvariantCulture), "ms"], u.Tokens);
    }

    /// <summary>Runs <paramref name="command"/> once: its objects piped to Out-Default (the host's text) and returned.</summary>
    private IReadOnlyList<PSObject> Render(string command, out string text)
    {
        var objects = PS.Run($"$objects = @({command}); $objects | Out-Default; $objects").AssertNoErrors().Output;
        text = PS.Host.TakeText();
        return objects;
    }

    private sealed record Row(string Line, string Header, IReadOnlyList<string> Tokens)
    {
        /// <summary>The value's last character is under the column header's last character (right alignment).</summary>
        public bool EndsUnder(string column, string value) =>
            Line.IndexOf(value, StringComparison.Ordinal) + value.Length == Header.IndexOf(column, StringComparison.Ordinal) + column.Length;
    }

    /// <summary>The rows under the header line with exactly these columns, checked against its dashed underline.</summary>
    private static IReadOnlyList<Row> Table(string text, string[] columns)
    {
        var lines = text.Split('\n').Select(l => l.TrimEnd()).ToList();
        var header = lines.FindIndex(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries).SequenceEqual(columns));
        Assert.True(header >= 0, $"no table with columns {string.Join(" ", columns)} in:\n{text}");
        Assert.Equal(columns.Select(c => new string('-', c.Length)), lines[header + 1].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        return lines.Skip(header + 2).TakeWhile(l => l.Length > 0)
            .Select(l => new Row(l, lines[header], l.Split(' ', StringSplitOptions.RemoveEmptyEntries))).ToList();
    }
}
