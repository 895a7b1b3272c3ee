using System.Management.Automation;
using Gopherpack.Control;
using Gopherpack.Manifest;

namespace Gopherpack.PowerShell.Cmdlets;

/// <summary>
/// Start-Pack: starts the pack's master detached (the module folder's native gopherpack, so any PowerShell host
/// works and no dotnet is needed) and returns a Pack once every worker is ready; with -Wait runs the master in
/// this process until it is stopped.
/// </summary>
[Cmdlet(VerbsLifecycle.Start, "Pack")]
[OutputType(typeof(Model.Pack))]
[CmdletHelp("Starts a pack and returns it once every worker is ready.",
    "Starts the pack's master detached, in its own session: the gopherpack executable shipped in the module folder (or, when the installed package left it without its execute bit, a private copy in $XDG_CACHE_HOME/gopherpack/VERSION, else ~/.cache/gopherpack/VERSION, else $TMPDIR/gopherpack-cache-UID/VERSION, skipping a location whose folders another account owns or could change), running 'gopherpack run MANIFEST --runtime-dir DIR', so it works from any PowerShell host and needs no dotnet on PATH. The master logs to RUNTIME-DIR/NAME.log. Start-Pack writes progress while workers come up and returns a Pack object once every worker has reported ready. If the pack is not ready within -TimeoutSec it is stopped again and the cmdlet fails with PackStartFailed, with the log's last lines; so does a pack that is already running. An invalid manifest fails with ManifestInvalid. Ctrl+C stops the half-started pack. With -Wait the master runs in the current process until it is stopped (Stop-Pack from any process, SIGTERM, SIGINT, SIGQUIT, or Ctrl+C), for systemd units and containers; it logs to stderr, and a master that fails is a PackFailed error. In a background job (Start-Job) or a remote session, whose output cannot carry the master's, -Wait starts the master detached (logging to RUNTIME-DIR/NAME.log) and waits while the pack runs; Stop-Job stops the pack gracefully.")]
[HelpExample("Start-Pack -Manifest ./app.yml", "Starts the pack and returns it once every worker is ready.")]
[HelpExample("$pack = Start-Pack ./app.yml -TimeoutSec 30 -RuntimeDir /srv/run", "Gives the workers 30 seconds, with the pid file and control socket in /srv/run.")]
[HelpExample("pwsh -NoProfile -Command 'Import-Module Gopherpack; Start-Pack -Manifest /srv/api/app.yml -Wait'", "Runs the master in the foreground, as a systemd unit's ExecStart would.")]
[HelpExample("$job = Start-Job { Start-Pack -Manifest /srv/api/app.yml -Wait }; Stop-Job $job", "Runs the pack for as long as the job runs; Stop-Job stops it gracefully.")]
public sealed class StartPackCommand : PackCmdlet
{
    /// <summary>The master executable shipped in the module folder (dotnet publish src/Gopherpack.PowerShell puts it there).</summary>
    public const string MasterExecutable = ModuleMaster.FileName;

    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true, HelpMessage = "The pack's YAML manifest.")]
    [Alias("Path", "FullName")]
    public string Manifest { get; set; } = "";

    [Parameter(HelpMessage = "Seconds to wait for every worker to be ready; then the pack is stopped again. Default 120. Not used with -Wait.")]
    [ValidateRange(1, 86400)]
    [Alias("TimeoutSeconds")]
    public int TimeoutSec { get; set; } = 120;

    [Parameter(HelpMessage = "Run the master in this process until it is stopped (for systemd units and containers).")]
    public SwitchParameter Wait { get; set; }

    protected override void ProcessRecord()
    {
        var path = FullPath(Manifest);
        try
        {
            if (Wait && InServerHost) RunDetachedUntilStopped(path);
            else if (Wait) RunInProcess(path);
            else WriteObject(StartDetached(path));
        }
        catch (Exception e) when (e is ManifestException or PackStartException)
        {
            ThrowTerminatingError(ErrorFor(e, path));
        }
    }

    private Model.Pack StartDetached(string path)
    {
        var master = ModuleMaster.Resolve(ModuleMaster.OwnFolder, WriteVerbose);
        var runtime = Runtime;
        WriteVerbose($"starting the master {master} for {path}, runtime dir {runtime.Path}");
        var status = Run(cancel => new PackStarter(runtime).StartAsync(path, (manifest, runtimeDir) => [master, "run", manifest.ManifestPath, "--runtime-dir", runtimeDir],
            TimeSpan.FromSeconds(TimeoutSec), (ready, total) => Later(() => WriteProgress(Progress(ready, total))), cancel));
        WriteProgress(new ProgressRecord(ProgressId, ProgressActivity, "ready") { RecordType = ProgressRecordType.Completed });
        WriteVerbose($"pack '{status.Name}' is running: master pid {status.MasterPid}, {status.Workers.Count} worker(s) ready; log {System.IO.Path.Combine(runtime.Path, status.Name + ".log")}");
        return Model.Pack.From(status, runtime.Path);
    }

    private const int ProgressId = 1;
    private const string ProgressActivity = "Start-Pack";

    private static ProgressRecord Progress(int ready, int total) =>
        new(ProgressId, ProgressActivity, $"{ready}/{total} workers ready") { PercentComplete = total == 0 ? 0 : ready * 100 / total };

    /// <summary>
    /// The process of a background job (Start-Job) or of a remote session: it talks to its client over its stdin
    /// and stdout, and the client turns anything on its stderr into a failure of the job, which then ends. A
    /// master cannot run in there: it logs to stderr and passes its workers' output to stdout.
    /// </summary>
    private bool InServerHost => Host.Name == "ServerRemoteHost";

    private static readonly TimeSpan WhileRunningPoll = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// Start-Pack -Wait in a job: the master runs detached, as without -Wait (logging to RUNTIME-DIR/NAME.log), and
    /// the cmdlet waits while the pack runs (across upgrades). Stopping the pipeline (Stop-Job, Ctrl+C) asks the
    /// pack to stop gracefully and waits until it has; the stop goes on in the master even if the job's process
    /// is ended meanwhile.
    /// </summary>
    private void RunDetachedUntilStopped(string path)
    {
        var pack = StartDetached(path);
        var runtime = Runtime;
        WriteVerbose($"this host ({Host.Name}) cannot carry the master's output: pack '{pack.Name}' runs detached (master pid {pack.MasterPid}, log {System.IO.Path.Combine(runtime.Path, pack.Name + ".log")}) until it is stopped");
        try
        {
            Run(async cancel =>
            {
                while (runtime.RunningMaster(pack.Name) is not null) await Task.Delay(WhileRunningPoll, cancel);
                return true;
            });
        }
        catch (PipelineStoppedException)
        {
            try
            {
                Task.Run(() => new PackClient(runtime).StopAsync(pack.Name, CancellationToken.None)).GetAwaiter().GetResult();
            }
            catch (PackNotRunningException) { /* it stopped on its own: nothing left to stop */ }
            throw;
        }
        WriteVerbose($"pack '{pack.Name}' is no longer running");
    }

    private void RunInProcess(string path)
    {
        var manifest = ManifestLoader.Load(path);
        var runtime = Runtime;
        WriteVerbose($"running the master of pack '{manifest.Name}' in this process (pid {Environment.ProcessId}), runtime dir {runtime.Path}; it logs to stderr");
        var log = new InProcessMasterLog(manifest);
        var code = Run(cancel => InProcessMaster.RunAsync(manifest, runtime, log, cancel));
        if (Stopping) throw new PipelineStoppedException();
        WriteVerbose($"the master of pack '{manifest.Name}' exited with code {code}");
        if (code != 0)
            ThrowTerminatingError(new ErrorRecord(new InvalidOperationException($"the master of pack '{manifest.Name}' exited with code {code}{log.LastError}"),
                Model.PackErrors.PackFailed, ErrorCategory.InvalidResult, manifest.Name));
    }
}
