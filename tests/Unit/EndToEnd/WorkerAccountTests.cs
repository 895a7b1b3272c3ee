using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Gopherpack.Control;
using Gopherpack.Linux;
using Gopherpack.Runtime;
using Gopherpack.Tests.Support;

namespace Gopherpack.Tests.EndToEnd;

/// <summary>
/// <c>user:</c> in the manifest: a root master binds a privileged port and its workers run as <c>nobody</c>
/// (uid, gid, no capabilities, no_new_privs), on start, crash restart, reload, scale and upgrade alike.
/// These tests run as CI runs them: as root. Everything nobody runs is copied into a folder nobody can read,
/// since the checkout may sit under a folder only root can enter.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class WorkerAccountTests
{
    private static readonly UnixAccount Nobody = UnixAccounts.User("nobody") ?? throw new InvalidOperationException("no account 'nobody' on this machine");
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task A_pack_on_a_privileged_port_serves_with_every_worker_as_the_account_through_restart_reload_scale_and_upgrade()
    {
        RequireRoot();
        using var dir = OpenTempDir();
        var worker = CopyForEveryone(Path.GetDirectoryName(RepoPaths.TestWorkerDll)!, Path.Combine(dir.Path, "w"));
        var port = FreePrivilegedPort();
        var socketPath = Path.Combine(dir.Path, "local.sock");
        await using var pack = await PackProcess.StartAsync($"""
            name: asnobody
            command: dotnet
            args: ["{Path.Combine(worker, "TestWorker.dll")}", --watchdog]
            workers: 2
            user: nobody
            listeners:
              - {"{"} name: http, address: "tcp://127.0.0.1:{port}" {"}"}
              - {"{"} name: local, address: "unix://{socketPath}", fileMode: "0660" {"}"}
            watchdog: {"{"} timeout: 5s {"}"}
            restart: {"{"} backoff: {"{"} initial: 10ms {"}"} {"}"}
            """, dir: dir);
        var client = new PackClient(new RuntimeDirectory(pack.RuntimeDir));

        var facts = await RawHttp.FactsAsync(new IPEndPoint(IPAddress.Loopback, port), "/env");
        Assert.Equal("nobody", facts.GetProperty("env:USER").GetString());
        Assert.Equal("nobody", facts.GetProperty("env:LOGNAME").GetString());
        Assert.Equal(Nobody.Home, facts.GetProperty("env:HOME").GetString());
        Assert.Equal($"{Nobody.Uid}:{Nobody.Gid} 660", Run("stat", "-c", "%u:%g %a", socketPath).Trim());
        // A peer running as the account can connect to the unix listener (0660, the account's).
        var peer = await RunAsNobody(["curl", "-sS", "--max-time", "10", "--unix-socket", socketPath, "http://local/"]);
        Assert.True(peer.Code == 0 && peer.Stdout.Contains("\"pid\""), peer.ToString());
        var status = await AllReadyAsNobody(client, 2, 1, "the start", pack);

        var table = await Cli.RunAsync("ps", "asnobody", "--runtime-dir", pack.RuntimeDir);
        Assert.Equal(2, table.Stdout.Split('\n').Count(l => l.Contains(" nobody ")));
        var json = await Cli.RunAsync("ps", "asnobody", "--json", "--runtime-dir", pack.RuntimeDir);
        Assert.Equal(2, json.Stdout.Split('\n').Count(l => l.Contains("\"user\": \"nobody\"")));

        // A crash restart.
        var crashed = status.Workers.Single(w => w.Slot == 0).Pid!.Value;
        Native.kill(crashed, 9);
        status = await AllReadyAsNobody(client, 2, 1, "the restart of a killed worker", pack, s => s.Workers.All(w => w.Pid != crashed));

        var reload = await Cli.RunAsync("reload", "asnobody", "--runtime-dir", pack.RuntimeDir);
        Assert.True(reload.Code == 0, reload + "\nlog:\n" + pack.Log);
        status = await AllReadyAsNobody(client, 2, 2, "the reload", pack);

        var scale = await Cli.RunAsync("scale", "asnobody", "3", "--runtime-dir", pack.RuntimeDir);
        Assert.True(scale.Code == 0, scale + "\nlog:\n" + pack.Log);
        status = await AllReadyAsNobody(client, 3, 2, "the scale to 3", pack);

        var upgrade = await Cli.RunAsync("upgrade", "asnobody", "--runtime-dir", pack.RuntimeDir);
        Assert.True(upgrade.Code == 0, upgrade + "\nlog:\n" + pack.Log);
        var oldMaster = status.MasterPid;
        status = await AllReadyAsNobody(client, 3, 3, "the upgrade", pack, s => s.MasterPid != oldMaster);
        Assert.Equal(0, UidOf(status.MasterPid));
        Assert.Equal("nobody", (await RawHttp.FactsAsync(new IPEndPoint(IPAddress.Loopback, port), "/env")).GetProperty("env:USER").GetString());
        Assert.DoesNotContain(pack.Lines, l => l.Contains(" watchdog: "));
    }

    [Fact]
    public async Task Workers_as_another_account_still_get_the_death_signal_when_the_master_is_killed()
    {
        // sleep ignores the lifeline: only the death signal, set by setpriv after it changed the uid, ends it.
        RequireRoot();
        using var dir = OpenTempDir();
        await using var pack = await PackProcess.StartAsync("""
            name: deathsig
            command: sleep
            args: ["300"]
            workers: 2
            user: nobody
            ready: { mode: delay, delay: 100ms }
            """, dir: dir);
        var workers = pack.SlotPids.Values.ToList();
        Assert.All(workers, pid => Assert.Equal(Nobody.Uid.ToString(), Native.StatusField(pid, "Uid").Split('\t')[1]));
        pack.Signal(Native.SIGKILL);
        await pack.WaitForExit(TimeSpan.FromSeconds(5));
        await Eventually.True(() => workers.All(pid => !Native.IsAlive(pid)), TimeSpan.FromSeconds(2),
            $"workers {string.Join(",", workers.Where(Native.IsAlive))} running as nobody outlived the killed master");
    }

    [Fact]
    public async Task A_worker_that_cannot_read_its_working_directory_fails_the_start_at_once_naming_it()
    {
        RequireRoot();
        using var dir = OpenTempDir();
        var worker = CopyForEveryone(Path.GetDirectoryName(RepoPaths.TestWorkerDll)!, Path.Combine(dir.Path, "w"));
        var closed = Directory.CreateDirectory(Path.Combine(dir.Path, "closed"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute).FullName;
        await using var pack = await PackProcess.StartAsync($"""
            name: closedwd
            command: dotnet
            args: ["{Path.Combine(worker, "TestWorker.dll")}"]
            workingDirectory: closed
            workers: 1
            user: nobody
            restart: {"{"} backoff: {"{"} initial: 10ms {"}"} {"}"}
            """, waitReady: false, dir: dir);

        Assert.Equal(1, await pack.WaitForExit(Wait));
        Assert.Contains($"user nobody (uid {Nobody.Uid}, gid {Nobody.Gid}) cannot enter or read the working directory {closed}", pack.Log);
        Assert.Contains(pack.Lines, l => l.Contains(" start-failed: ") && l.Contains(closed));
        // Not restarted: one worker was started, and it is gone.
        var only = Assert.Single(pack.AllWorkerPids);
        Assert.False(Native.IsAlive(only));
    }

    [Fact]
    public async Task An_app_file_argument_the_account_cannot_read_fails_the_start_at_once_naming_it()
    {
        RequireRoot();
        using var dir = OpenTempDir();
        var app = Path.Combine(dir.Path, "app.sh");
        File.WriteAllText(app, "sleep 300\n");
        File.SetUnixFileMode(app, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        await using var pack = await PackProcess.StartAsync($"""
            name: closedapp
            command: sh
            args: [app.sh]
            workingDirectory: {dir.Path}
            workers: 1
            user: nobody
            ready: {"{"} mode: delay, delay: 100ms {"}"}
            restart: {"{"} backoff: {"{"} initial: 10ms {"}"} {"}"}
            """, waitReady: false, dir: dir);

        Assert.Equal(1, await pack.WaitForExit(Wait));
        Assert.Contains($"user nobody (uid {Nobody.Uid}, gid {Nobody.Gid}) cannot read the file app.sh (an argument of the command)", pack.Log);
        Assert.Single(pack.AllWorkerPids);
    }

    [Fact]
    public async Task A_runtime_dir_the_account_cannot_reach_fails_the_start_naming_the_notify_socket()
    {
        RequireRoot();
        using var open = OpenTempDir();
        var worker = CopyForEveryone(Path.GetDirectoryName(RepoPaths.TestWorkerDll)!, Path.Combine(open.Path, "w"));
        using var closed = new TempDir(); // 0700: the runtime dir inside it is out of nobody's reach
        await using var pack = await PackProcess.StartAsync($"""
            name: closedrt
            command: dotnet
            args: ["{Path.Combine(worker, "TestWorker.dll")}"]
            workingDirectory: {open.Path}
            workers: 1
            user: nobody
            """, waitReady: false, dir: closed);

        Assert.Equal(1, await pack.WaitForExit(Wait));
        Assert.Contains($"cannot reach the notify socket {pack.RuntimeDir}/closedrt.notify/", pack.Log);
        Assert.Single(pack.AllWorkerPids);
    }

    [Fact]
    public async Task A_reload_whose_tls_key_the_account_cannot_read_fails_naming_it_and_the_old_generation_serves()
    {
        RequireRoot();
        using var dir = OpenTempDir();
        var worker = CopyForEveryone(Path.GetDirectoryName(RepoPaths.TestWorkerDll)!, Path.Combine(dir.Path, "w"));
        var manifest = $"""
            name: tlskey
            command: dotnet
            args: ["{Path.Combine(worker, "TestWorker.dll")}"]
            workers: 1
            user: nobody
            listeners: [{"{"} name: http, address: "tcp://127.0.0.1:0" {"}"}]
            """;
        await using var pack = await PackProcess.StartAsync(manifest, dir: dir);
        var serving = pack.SlotPids[0];
        dir.File("cert.pem", "certificate");
        var key = dir.File("key.pem", "private key");
        File.SetUnixFileMode(key, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        File.WriteAllText(Path.Combine(dir.Path, "app.yml"), manifest.Replace("tcp://127.0.0.1:0\" ", "tcp://127.0.0.1:0\", tls: { certificate: cert.pem, key: key.pem } "));

        var reload = await Cli.RunAsync("reload", "tlskey", "--runtime-dir", pack.RuntimeDir);
        Assert.True(reload.Code == 3, reload + "\nlog:\n" + pack.Log);
        Assert.Contains($"cannot read the TLS key {key}", reload.Stderr);
        Assert.True(Native.IsAlive(serving));
        Assert.Equal(serving, await RawHttp.PidAsync(pack.TcpEndPoint("http")));
    }

    [Fact]
    public async Task An_account_that_does_not_exist_is_an_invalid_manifest()
    {
        using var dir = OpenTempDir();
        var manifest = dir.File("app.yml", "name: ghost\ncommand: dotnet\nuser: no-such-user-gp22\n");
        var validate = await Cli.RunAsync("validate", manifest);
        Assert.True(validate.Code == 2, validate.ToString());
        Assert.Contains($"{manifest}:3:7: 'user': no account named 'no-such-user-gp22'", validate.Stderr);
        var run = await Cli.RunAsync("run", manifest, "--runtime-dir", Path.Combine(dir.Path, "rt"));
        Assert.True(run.Code == 2, run.ToString());
        Assert.Contains("no account named 'no-such-user-gp22'", run.Stderr);
    }

    [Fact]
    public async Task A_master_that_is_not_root_refuses_to_run_workers_as_another_account()
    {
        RequireRoot();
        using var dir = OpenTempDir();
        var cli = CliForEveryone(dir.Path);
        var runtime = Directory.CreateDirectory(Path.Combine(dir.Path, "rt-nobody")).FullName;
        UnixAccounts.Chown(runtime, Nobody.Uid, Nobody.Gid);
        var other = dir.File("other.yml", "name: other\ncommand: dotnet\nuser: root\n");
        var own = dir.File("own.yml", "name: own\ncommand: dotnet\nuser: nobody\n");

        var refused = await RunAsNobody([.. cli, "run", other, "--runtime-dir", runtime]);
        Assert.True(refused.Code == 2, refused.ToString());
        Assert.Contains($"{other}:3:7: 'user: root' (uid 0) needs a master running as root; this one runs as uid {Nobody.Uid}", refused.Stderr);
        Assert.Empty(Directory.GetFileSystemEntries(runtime));
        // Its own account is no change of identity: allowed.
        var allowed = await RunAsNobody([.. cli, "validate", own]);
        Assert.True(allowed.Code == 0, allowed.ToString());
    }

    [Fact]
    public async Task A_symlink_the_account_puts_in_place_of_a_unix_socket_is_never_followed_by_reload_sighup_or_upgrade()
    {
        RequireRoot();
        using var dir = OpenTempDir();
        // The account may write the socket's folder: it can replace the socket file with a symlink to a root-owned file.
        // A start refuses such a folder (SocketFolderSwapTests); here it is given to the account once the pack runs.
        var folder = Directory.CreateDirectory(Path.Combine(dir.Path, "nsock")).FullName;
        var socketPath = Path.Combine(folder, "app.sock");
        var target = Path.Combine(dir.Path, "root-owned");
        File.WriteAllText(target, "secret");
        File.SetUnixFileMode(target, (UnixFileMode)0b110_100_000);
        await using var pack = await PackProcess.StartAsync($"""
            name: symsock
            command: sleep
            args: ["300"]
            workers: 1
            user: nobody
            ready: {"{"} mode: delay, delay: 100ms {"}"}
            listeners:
              - {"{"} name: local, address: "unix://{socketPath}", fileMode: "0660" {"}"}
            """, dir: dir);
        var client = new PackClient(new RuntimeDirectory(pack.RuntimeDir));
        UnixAccounts.Chown(folder, Nobody.Uid, Nobody.Gid);
        var planted = await RunAsNobody(["ln", "-sfn", target, socketPath]);
        Assert.True(planted.Code == 0, planted.ToString());

        var reload = await Cli.RunAsync("reload", "symsock", "--runtime-dir", pack.RuntimeDir);
        Assert.True(reload.Code == 0, reload + "\nlog:\n" + pack.Log);
        Assert.Equal("0:0 640", Run("stat", "-c", "%u:%g %a", target).Trim());
        pack.Signal(1); // SIGHUP
        await Eventually.Value(async () => (await client.StatusAsync("symsock")) is { Generation: 3 } s && s.Workers.All(w => w.IsReady && w.Generation == 3) ? s : null,
            Wait, $"generation 3 after SIGHUP; log:\n{pack.Log}");
        Assert.Equal("0:0 640", Run("stat", "-c", "%u:%g %a", target).Trim());
        var upgrade = await Cli.RunAsync("upgrade", "symsock", "--runtime-dir", pack.RuntimeDir);
        Assert.True(upgrade.Code == 0, upgrade + "\nlog:\n" + pack.Log);
        Assert.Equal("0:0 640", Run("stat", "-c", "%u:%g %a", target).Trim());
        Assert.Contains(pack.Lines, l => l.Contains("no longer the socket the master bound"));
    }

    [Fact]
    public async Task A_notify_message_another_process_of_the_account_forges_is_dropped_and_logged()
    {
        RequireRoot();
        using var dir = OpenTempDir();
        // sleep never sends READY=1: only a forged message could make it ready.
        await using var pack = await PackProcess.StartAsync("""
            name: forged
            command: sleep
            args: ["300"]
            workers: 1
            user: nobody
            ready: { mode: notify, timeout: 120s }
            """, waitReady: false, dir: dir);
        await pack.WaitForStatus(s => s.Workers.Any(w => w.Slot == 0 && w.Pid is not null), Wait, "the worker to start");
        var notifyRoot = Path.Combine(pack.RuntimeDir, "forged.notify");
        var folder = Path.Combine(notifyRoot, pack.MasterPid.ToString());
        Assert.Equal("711 711", $"{Run("stat", "-c", "%a", notifyRoot).Trim()} {Run("stat", "-c", "%a", folder).Trim()}");
        Assert.Equal("600", Run("stat", "-c", "%a", Path.Combine(pack.RuntimeDir, $"forged.files.{pack.MasterPid}")).Trim());
        var sockets = Directory.GetFiles(folder);
        Assert.NotEmpty(sockets);

        foreach (var socket in sockets)
        {
            var sent = await RunAsNobody(["perl", "-MSocket", "-e",
                "socket(my $s, AF_UNIX, SOCK_DGRAM, 0) or die $!; send($s, 'READY=1', 0, pack_sockaddr_un($ARGV[0])) or die $!", socket]);
            Assert.True(sent.Code == 0, sent.ToString());
        }
        await pack.WaitForLine(l => l.Contains(" notify: ") && l.Contains("dropped 1 notify message"), Wait, "the forged message to be dropped and logged");
        var status = await pack.StatusAsync();
        Assert.False(status.Workers.Single().IsReady, "a READY=1 forged by another process made the worker ready; log:\n" + pack.Log);
        Assert.Equal("Starting", status.State); // never ready: a pack does not go back to Starting
    }

    [Fact]
    public async Task Group_replaces_the_primary_group_in_the_supplementary_list_and_root_session_variables_are_not_passed_on()
    {
        RequireRoot();
        using var dir = OpenTempDir();
        var users = UnixAccounts.Group("users") ?? throw new InvalidOperationException("no group 'users' on this machine");
        var environment = new Dictionary<string, string>
        {
            ["SHELL"] = "/bin/bash", ["MAIL"] = "/var/mail/root", ["XDG_RUNTIME_DIR"] = "/run/user/0",
            ["SUDO_USER"] = "admin", ["SUDO_UID"] = "1000", ["KEEP_ME"] = "yes",
        };
        await using var pack = await PackProcess.StartAsync("""
            name: groups
            command: sleep
            args: ["300"]
            workers: 1
            user: nobody
            group: users
            env: { SUDO_COMMAND: from-the-manifest }
            ready: { mode: delay, delay: 100ms }
            """, environment: environment, dir: dir);
        var worker = pack.SlotPids[0];
        Assert.Equal($"{users}", Native.StatusField(worker, "Groups").Trim());
        var env = File.ReadAllText($"/proc/{worker}/environ").Split('\0', StringSplitOptions.RemoveEmptyEntries)
            .Select(e => e.Split('=', 2)).ToDictionary(e => e[0], e => e[1]);
        Assert.Equal(Nobody.Shell, env["SHELL"]);
        Assert.Equal("yes", env["KEEP_ME"]);
        Assert.Equal("from-the-manifest", env["SUDO_COMMAND"]);
        Assert.DoesNotContain("MAIL", env.Keys);
        Assert.DoesNotContain("XDG_RUNTIME_DIR", env.Keys);
        Assert.DoesNotContain("SUDO_USER", env.Keys);
        Assert.DoesNotContain("SUDO_UID", env.Keys);
    }

    [Fact]
    public async Task A_notify_message_from_a_helper_in_the_workers_process_group_is_taken()
    {
        RequireRoot();
        using var dir = OpenTempDir();
        // sh is the worker (its process group's leader); perl, its child, sends READY=1 for it and lives on (a helper that
        // exits at once may be gone before the master can read its process group: such a message is dropped, as systemd does).
        await using var pack = await PackProcess.StartAsync("""
            name: helper
            command: sh
            args: ["-c", "perl -MSocket -e 'socket(my $s, AF_UNIX, SOCK_DGRAM, 0) or die; send($s, q(READY=1), 0, pack_sockaddr_un($ARGV[0])) or die; sleep 300' \"$NOTIFY_SOCKET\" & exec sleep 300"]
            workers: 1
            user: nobody
            ready: { mode: notify, timeout: 60s }
            """, dir: dir);
        Assert.DoesNotContain(pack.Lines, l => l.Contains(" notify: "));
    }

    [Fact]
    public async Task A_reload_re_applies_the_socket_files_owner_and_mode_and_takes_them_back_when_user_is_removed()
    {
        RequireRoot();
        using var dir = OpenTempDir();
        var socketPath = Path.Combine(dir.Path, "re.sock");
        string Manifest(string user) => $"""
            name: reowned
            command: sleep
            args: ["300"]
            workers: 1
            {user}
            ready: {"{"} mode: delay, delay: 100ms {"}"}
            listeners:
              - {"{"} name: local, address: "unix://{socketPath}", fileMode: "0660" {"}"}
            """;
        await using var pack = await PackProcess.StartAsync(Manifest("user: nobody"), dir: dir);
        Assert.Equal($"{Nobody.Uid}:{Nobody.Gid} 660", Run("stat", "-c", "%u:%g %a", socketPath).Trim());
        // The account owns the file, so it may open it to everyone.
        var opened = await RunAsNobody(["chmod", "0666", socketPath]);
        Assert.True(opened.Code == 0, opened.ToString());
        var reload = await Cli.RunAsync("reload", "reowned", "--runtime-dir", pack.RuntimeDir);
        Assert.True(reload.Code == 0, reload + "\nlog:\n" + pack.Log);
        Assert.Equal($"{Nobody.Uid}:{Nobody.Gid} 660", Run("stat", "-c", "%u:%g %a", socketPath).Trim());

        File.WriteAllText(Path.Combine(dir.Path, "app.yml"), Manifest(""));
        reload = await Cli.RunAsync("reload", "reowned", "--runtime-dir", pack.RuntimeDir);
        Assert.True(reload.Code == 0, reload + "\nlog:\n" + pack.Log);
        Assert.Equal("0:0 660", Run("stat", "-c", "%u:%g %a", socketPath).Trim());
    }

    /// <summary>Every worker of the pack is ready, runs as nobody (real, effective, saved uid; gid), with no capabilities and no_new_privs.</summary>
    private static async Task<PackStatus> AllReadyAsNobody(PackClient client, int workers, int generation, string after, PackProcess pack, Func<PackStatus, bool>? also = null)
    {
        var status = await Eventually.Value(async () =>
        {
            var s = await client.StatusAsync("asnobody");
            return s.Generation == generation && s.Workers.Count == workers && s.Workers.All(w => w.IsReady && w.Generation == generation) && (also?.Invoke(s) ?? true) ? s : null;
        }, Wait, $"{workers} ready worker(s) of generation {generation} after {after}; log:\n{pack.Log}");
        foreach (var worker in status.Workers)
        {
            var pid = worker.Pid!.Value;
            Assert.Equal("nobody", worker.User);
            Assert.Equal(string.Join('\t', Enumerable.Repeat(Nobody.Uid, 4)), Native.StatusField(pid, "Uid"));
            Assert.Equal(string.Join('\t', Enumerable.Repeat(Nobody.Gid, 4)), Native.StatusField(pid, "Gid"));
            Assert.Equal("0000000000000000", Native.StatusField(pid, "CapEff"));
            Assert.Equal("0000000000000000", Native.StatusField(pid, "CapPrm"));
            Assert.Equal("0000000000000000", Native.StatusField(pid, "CapBnd"));
            Assert.Equal("1", Native.StatusField(pid, "NoNewPrivs"));
        }
        return status;
    }

    private static int UidOf(int pid) => int.Parse(Native.StatusField(pid, "Uid").Split('\t')[1]);

    private static void RequireRoot() =>
        Assert.True(UnixAccounts.EffectiveUid == 0, "these tests change the workers' account, so they run as root (as CI runs them)");

    /// <summary>A temp folder (created 0700) that every account may enter and read.</summary>
    private static TempDir OpenTempDir()
    {
        var dir = new TempDir();
        File.SetUnixFileMode(dir.Path, (UnixFileMode)0b111_101_101);
        return dir;
    }

    /// <summary>Copies a build output folder where nobody can read it (the checkout may be under /root).</summary>
    private static string CopyForEveryone(string from, string to)
    {
        Directory.CreateDirectory(to);
        File.SetUnixFileMode(to, (UnixFileMode)0b111_101_101);
        foreach (var file in Directory.GetFiles(from))
        {
            var copy = Path.Combine(to, Path.GetFileName(file));
            File.Copy(file, copy);
            File.SetUnixFileMode(copy, (UnixFileMode)0b111_101_101);
        }
        return to;
    }

    /// <summary>The gopherpack command (native, or dotnet with the dll) copied where nobody can run it.</summary>
    private static string[] CliForEveryone(string dir)
    {
        var target = Path.Combine(dir, "cli");
        if (RepoPaths.NativeCli is { } native)
        {
            CopyForEveryone(Path.GetDirectoryName(native)!, target);
            return [Path.Combine(target, Path.GetFileName(native))];
        }
        CopyForEveryone(Path.GetDirectoryName(RepoPaths.CliDll)!, target);
        return ["dotnet", Path.Combine(target, Path.GetFileName(RepoPaths.CliDll))];
    }

    private static async Task<Cli.Result> RunAsNobody(string[] command)
    {
        var start = new ProcessStartInfo("setpriv") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { "--reuid", Nobody.Uid.ToString(), "--regid", Nobody.Gid.ToString(), "--clear-groups", "--" }.Concat(command)) start.ArgumentList.Add(arg);
        start.Environment["HOME"] = Path.GetTempPath();
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        try { await process.WaitForExitAsync(cancel.Token); }
        catch (OperationCanceledException)
        {
            process.Kill();
            throw new TimeoutException($"{string.Join(' ', command)} as nobody did not finish in 120s");
        }
        return new Cli.Result(process.ExitCode, await stdout, await stderr);
    }

    /// <summary>A port below 1024 free on 127.0.0.1 a moment ago (only root, or CAP_NET_BIND_SERVICE, may bind it).</summary>
    private static int FreePrivilegedPort()
    {
        for (var port = 1023; port >= 600; port--)
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                socket.Bind(new IPEndPoint(IPAddress.Loopback, port));
                return port;
            }
            catch (SocketException) { }
        }
        throw new InvalidOperationException("no free port between 600 and 1023 on 127.0.0.1");
    }

    private static string Run(string command, params string[] args)
    {
        var start = new ProcessStartInfo(command) { RedirectStandardOutput = true };
        foreach (var arg in args) start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return output;
    }
}
