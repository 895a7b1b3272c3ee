using System.Diagnostics;
using System.Text.RegularExpressions;
using Gopherpack.Linux;
using Gopherpack.Tests.Support;

namespace Gopherpack.Tests.EndToEnd;

/// <summary>
/// Each worker runs in a session of its own, with no controlling terminal: a worker of a master run on a terminal
/// (<c>gopherpack run</c> in an interactive shell, as root) cannot open it to push input into root's shell (TIOCSTI)
/// or read what root types, and cannot join a sibling worker's process group. As root (as CI runs) the workers run
/// as <c>nobody</c>, as in the attack.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed partial class WorkerSessionTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Runs the command after it on a new pseudo-terminal, as its session leader with the terminal as its controlling
    /// one (as a shell runs a foreground command), copies the terminal's output to stdout and passes SIGTERM on.
    /// </summary>
    private const string OnATerminal = """
        import os, pty, signal, sys
        pid, fd = pty.fork()
        if pid == 0:
            os.execvp(sys.argv[1], sys.argv[1:])
        signal.signal(signal.SIGTERM, lambda *_: os.kill(pid, signal.SIGTERM))
        while True:
            try:
                data = os.read(fd, 65536)
            except OSError:
                break
            if not data:
                break
            os.write(1, data)
        sys.exit(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) & 0xFF)
        """;

    /// <summary>
    /// The worker: tries to open the controlling terminal, prints its session and group; in slot 1 it then reads a
    /// pid from the FIFO named by its argument and tries to join that process's group.
    /// </summary>
    private const string Probe = """
        import errno, os, sys, time
        def attempt(action):
            try:
                action()
                return "ok"
            except OSError as e:
                return errno.errorcode.get(e.errno, str(e.errno))
        slot = os.environ.get("GOPHERPACK_SLOT")
        tty = attempt(lambda: os.close(os.open("/dev/tty", os.O_RDWR)))
        print(f"probe slot={slot} pid={os.getpid()} sid={os.getsid(0)} pgid={os.getpgid(0)} tty={tty}", flush=True)
        print("probe escape \x1b]0;owned\x07\x1b[6n\x05 end", flush=True)
        if slot == "1" and len(sys.argv) > 1:
            with open(sys.argv[1]) as fifo:
                target = int(fifo.read().strip())
            joined = attempt(lambda: os.setpgid(0, target))
            print(f"probe setpgid slot={slot} target={target} result={joined} pgid={os.getpgid(0)}", flush=True)
        time.sleep(300)
        """;

    [GeneratedRegex(@"probe slot=(\d+) pid=(\d+) sid=(\d+) pgid=(\d+) tty=(\w+)")] private static partial Regex ProbeLine();
    [GeneratedRegex(@"probe setpgid slot=1 target=(\d+) result=(\w+) pgid=(\d+)")] private static partial Regex SetpgidLine();

    [Fact]
    public async Task A_worker_of_a_master_on_a_terminal_has_no_controlling_terminal_and_a_session_of_its_own()
    {
        using var dir = OpenTempDir();
        var launcher = dir.File("on-a-terminal.py", OnATerminal);
        await using var pack = await PackProcess.StartAsync(Manifest("onatty", workers: 1, dir), dir: dir, launcher: ["python3", launcher]);
        var probe = ProbeLine().Match(await pack.WaitForLine(l => ProbeLine().IsMatch(l), Wait, "the worker's probe line"));
        var pid = int.Parse(probe.Groups[2].Value);
        Assert.Equal(pack.SlotPids[0], pid);

        // The master itself has the terminal (else the test proves nothing).
        var master = pack.AllMasterPids.Single();
        var (masterSid, masterTty) = SessionAndTty(master);
        Assert.Equal(master, masterSid);
        Assert.StartsWith("pts/", masterTty);

        Assert.True(probe.Groups[5].Value == "ENXIO", $"the worker opened /dev/tty ({probe.Value}): it shares the master's terminal");
        Assert.Equal(pid, int.Parse(probe.Groups[3].Value));
        Assert.Equal(pid, int.Parse(probe.Groups[4].Value));
        Assert.Equal((pid, "?"), SessionAndTty(pid));
        if (UnixAccounts.EffectiveUid == 0) Assert.Equal(Nobody.Uid.ToString(), Native.StatusField(pid, "Uid").Split('\t')[1]);

        // Nor can its output drive the terminal: escape sequences (set the title, ask for the cursor position, which the
        // terminal answers into its input, ENQ) reach it as visible text.
        if (UnixAccounts.EffectiveUid == 0)
        {
            var escape = await pack.WaitForLine(l => l.Contains("probe escape"), Wait, "the worker's escape sequences");
            Assert.Contains("probe escape ^[]0;owned^G^[[6n^E end", escape);
            Assert.DoesNotContain('\u001b', escape);
        }
    }

    [Fact]
    public async Task A_worker_cannot_join_another_workers_process_group()
    {
        using var dir = OpenTempDir();
        var fifo = Path.Combine(dir.Path, "target");
        Assert.Equal(0, Native.mkfifo(fifo, Convert.ToUInt32("666", 8)));
        File.SetUnixFileMode(fifo, (UnixFileMode)Convert.ToInt32("666", 8));
        await using var pack = await PackProcess.StartAsync(Manifest("siblings", workers: 2, dir, fifo), dir: dir);
        await pack.WaitForLine(l => ProbeLine().Match(l) is { Success: true } m && m.Groups[1].Value == "0", Wait, "slot 0's probe line");
        var target = pack.SlotPids[0];
        // Opening a FIFO to write blocks until slot 1 opens it to read.
        await Task.Run(() => File.WriteAllText(fifo, $"{target}\n")).WaitAsync(Wait);
        var line = SetpgidLine().Match(await pack.WaitForLine(l => SetpgidLine().IsMatch(l), Wait, "slot 1's setpgid into slot 0's group"));

        var sibling = pack.SlotPids[1];
        Assert.Equal(target, int.Parse(line.Groups[1].Value));
        Assert.True(line.Groups[2].Value == "EPERM", $"a worker joined its sibling's process group: {line.Value}");
        Assert.Equal(sibling, int.Parse(line.Groups[3].Value));
        Assert.Equal(sibling, Processes.GroupOf(sibling));
        Assert.Equal(target, Processes.GroupOf(target));
    }

    private static readonly UnixAccount Nobody = UnixAccounts.User("nobody") ?? throw new InvalidOperationException("no account 'nobody' on this machine");

    /// <summary>The probe's pack: as root, its workers run as nobody (the probe is in a folder nobody can read).</summary>
    private static string Manifest(string name, int workers, TempDir dir, string? fifo = null)
    {
        var probe = dir.File("probe.py", Probe);
        File.SetUnixFileMode(probe, (UnixFileMode)Convert.ToInt32("644", 8));
        var user = UnixAccounts.EffectiveUid == 0 ? "user: nobody" : "";
        var args = fifo is null ? $"[\"{probe}\"]" : $"[\"{probe}\", \"{fifo}\"]";
        return $"""
            name: {name}
            command: /usr/bin/python3
            args: {args}
            workingDirectory: /
            workers: {workers}
            {user}
            ready: {"{"} mode: delay, delay: 100ms {"}"}
            """;
    }

    /// <summary>ps's session id and terminal ("?" for none) of a process.</summary>
    private static (int Session, string Tty) SessionAndTty(int pid)
    {
        var start = new ProcessStartInfo("ps") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { "-o", "sid=,tty=", "-p", pid.ToString() }) start.ArgumentList.Add(arg);
        using var ps = Process.Start(start)!;
        var output = ps.StandardOutput.ReadToEnd();
        Assert.True(ps.WaitForExit(Wait), "ps did not exit");
        var fields = output.Split([' ', '\n'], StringSplitOptions.RemoveEmptyEntries);
        Assert.True(fields.Length == 2, $"ps -o sid=,tty= -p {pid} printed '{output}'");
        return (int.Parse(fields[0]), fields[1]);
    }

    /// <summary>A temp folder (created 0700) that every account may enter and read.</summary>
    private static TempDir OpenTempDir()
    {
        var dir = new TempDir();
        File.SetUnixFileMode(dir.Path, (UnixFileMode)Convert.ToInt32("755", 8));
        return dir;
    }
}
