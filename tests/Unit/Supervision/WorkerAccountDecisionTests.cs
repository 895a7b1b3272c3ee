using System.Collections;
using Gopherpack.Linux;
using Gopherpack.Manifest;
using Gopherpack.Master;

namespace Gopherpack.Tests.Supervision;

/// <summary>
/// Workers as the manifest's account: how they are launched (setpriv drops uid, gid, groups and capabilities;
/// the account's USER, LOGNAME, HOME), and what the supervisor does when the account cannot reach something.
/// </summary>
public sealed class WorkerAccountDecisionTests : SupervisorFixture
{
    private static readonly UnixAccount Nobody = UnixAccounts.User("nobody")!;

    private protected override PackManifest Manifest() => Standard("/bin/true") with { WorkingDirectory = "/srv/app" };

    private static IReadOnlyList<string> SetupFailed(string reason) => ["some output", WorkerLauncher.SetupFailedPrefix + reason];

    [Fact]
    public void A_worker_whose_account_cannot_reach_its_working_directory_fails_the_start_at_once_with_exit_1()
    {
        var supervisor = new Supervisor(Manifest(), [0, 1], Host);
        supervisor.Handle(new StartRequested());
        var failing = supervisor.Slots[0].Worker!;
        var other = supervisor.Slots[1].Worker!;

        supervisor.Handle(new WorkerExited(failing.Pid, ExitStatus.Exited(WorkerLauncher.SetupFailedCode),
            SetupFailed("user nobody (uid 65534, gid 65534) cannot enter or read the working directory /srv/app")));

        Assert.Equal(2, Host.Launches.Count);
        Assert.Empty(Host.TakeTimers<RestartDue>());
        Assert.Contains(Host.LogLines, l => l.Contains("start-failed") && l.Contains("could not start: user nobody (uid 65534, gid 65534) cannot enter or read the working directory /srv/app"));
        Assert.Contains((other.Pid, SIGTERM), Host.Signals);
        supervisor.Handle(new WorkerExited(other.Pid, ExitStatus.Exited(0)));
        Assert.Equal(1, Host.ExitCode);
    }

    [Fact]
    public void Exit_125_without_the_trampolines_line_is_an_ordinary_crash_and_restarts()
    {
        var supervisor = new Supervisor(Manifest(), [0], Host);
        supervisor.Handle(new StartRequested());
        supervisor.Handle(new WorkerExited(supervisor.Slots[0].Worker!.Pid, ExitStatus.Exited(125), ["the app's own exit 125"]));
        Assert.Single(Host.TakeTimers<RestartDue>());
        Assert.Null(Host.ExitCode);
    }

    [Fact]
    public void A_worker_of_another_account_is_spawned_through_setpriv_dropping_uid_gid_groups_and_capabilities()
    {
        Assert.True(UnixAccounts.EffectiveUid == 0, "this test runs as root, as CI runs it");
        var manifest = ManifestLoader.Parse("name: a\ncommand: sh\nuser: nobody\nenv: { LOGNAME: kept }\n", "/tmp/a.yml");
        using var listeners = ListenerSet.Bind([], 1);
        var launcher = new WorkerLauncher(manifest, listeners, 99, new Hashtable { ["USER"] = "root", ["HOME"] = "/root" });
        var request = launcher.Build(new WorkerLaunch(1, 0, null, 1), "/tmp/n", 1, 2, 0);

        var dash = request.Argv.ToList().IndexOf("--");
        Assert.Equal(["--reuid", $"{Nobody.Uid}", "--regid", $"{Nobody.Gid}", "--groups", string.Join(",", UnixAccounts.GroupList("nobody", Nobody.Gid)), "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs"],
            request.Argv.Skip(3).Take(dash - 3));
        Assert.Equal(["/bin/sh", "-c"], request.Argv.Skip(dash + 1).Take(2));
        Assert.Equal([manifest.WorkingDirectory, manifest.Command], request.Argv.Skip(dash + 4));
        var environment = request.Environment.Select(e => e.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);
        Assert.Equal("nobody", environment["USER"]);
        Assert.Equal("kept", environment["LOGNAME"]);
        Assert.Equal(Nobody.Home, environment["HOME"]);
        Assert.Equal(manifest.Account, launcher.DropsTo);
    }

    [Fact]
    public void The_masters_own_account_needs_no_setpriv_options()
    {
        var self = UnixAccounts.User(UnixAccounts.EffectiveUid)!;
        var manifest = ManifestLoader.Parse($"name: a\ncommand: sh\nuser: {self.Uid}\n", "/tmp/a.yml");
        Assert.Equal(self.Name, manifest.Account!.User);
        using var listeners = ListenerSet.Bind([], 1);
        var launcher = new WorkerLauncher(manifest, listeners, 99, new Hashtable());
        var request = launcher.Build(new WorkerLaunch(1, 0, null, 1), "/tmp/n", 1, 2, 0);
        Assert.DoesNotContain("--reuid", request.Argv);
        Assert.Null(launcher.DropsTo);
        Assert.Contains($"USER={self.Name}", request.Environment);
    }

    [Fact]
    public void Group_by_number_replaces_the_accounts_primary_group()
    {
        Assert.True(UnixAccounts.EffectiveUid == 0, "this test runs as root, as CI runs it");
        var manifest = ManifestLoader.Parse("name: a\ncommand: sh\nuser: nobody\ngroup: 0\n", "/tmp/a.yml");
        Assert.Equal(new WorkerAccount("nobody", Nobody.Uid, 0, "root", Nobody.Home, Nobody.Shell), manifest.Account);
    }
}
