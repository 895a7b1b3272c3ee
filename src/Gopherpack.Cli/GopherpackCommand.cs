using System.CommandLine;
using System.Runtime.InteropServices;
using Gopherpack.Control;
using Gopherpack.Logging;
using Gopherpack.Manifest;
using Gopherpack.Master;
using Gopherpack.Runtime;

namespace Gopherpack.Cli;

/// <summary>The <c>gopherpack</c> command line: parses, dispatches, maps outcomes to exit codes.</summary>
public static class GopherpackCommand
{
    private static readonly Option<string?> RuntimeDir = new("--runtime-dir")
    {
        Description = "Folder for pid files and sockets (default: $GOPHERPACK_RUNTIME_DIR, $XDG_RUNTIME_DIR/gopherpack, /run/gopherpack for root, /tmp/gopherpack-UID)",
        Recursive = true,
    };

    public static async Task<int> RunAsync(string[] args)
    {
        var root = new RootCommand("Gopherpack: runs a network server as a master and a pack of pinned workers on shared sockets.");
        root.Options.Add(RuntimeDir);
        root.Subcommands.Add(RunCommand());
        root.Subcommands.Add(StartCommand());
        root.Subcommands.Add(StopCommand());
        root.Subcommands.Add(ReloadCommand());
        root.Subcommands.Add(ScaleCommand());
        root.Subcommands.Add(UpgradeCommand());
        root.Subcommands.Add(PsCommand());
        root.Subcommands.Add(TopCommand());
        root.Subcommands.Add(MetricsCommand());
        root.Subcommands.Add(ValidateCommand());

        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            foreach (var error in parsed.Errors) Console.Error.WriteLine($"gopherpack: {error.Message}");
            Console.Error.WriteLine("Run 'gopherpack --help' for usage.");
            return ExitCodes.Usage;
        }
        // A master started in the background (nohup, a script's '&') takes back the signals it was left ignoring or
        // blocking; SIGINT and SIGQUIT only count if that happens before anything starts the runtime's signal handling.
        if (parsed.CommandResult.Command.Name == "run") Linux.InheritedSignals.Reset();
        // The master handles SIGINT/SIGTERM itself; System.CommandLine must not.
        return await parsed.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });
    }

    private static RuntimeDirectory Runtime(ParseResult parse) => RuntimeDirectory.Resolve(parse.GetValue(RuntimeDir));
    private static Argument<string> PackName()
    {
        var name = new Argument<string>("NAME") { Description = "The pack's name (from its manifest)" };
        name.Validators.Add(MustBePackName);
        return name;
    }

    private static void MustBePackName(System.CommandLine.Parsing.ArgumentResult result)
    {
        foreach (var token in result.Tokens)
            if (!ManifestLoader.IsValidPackName(token.Value))
                result.AddError($"'{token.Value}' is not a pack name ({ManifestLoader.PackNameRule})");
    }

    /// <summary>A whole number of seconds from 1 to 86400, checked on the token (reading a value that did not parse throws).</summary>
    private static Option<int?> SecondsOption(string name, string description)
    {
        var option = new Option<int?>(name) { Description = description };
        option.Validators.Add(result =>
        {
            if (result.Tokens.Count == 0) return;
            if (result.Tokens.Count != 1 || !int.TryParse(result.Tokens[0].Value, out var n) || n is < 1 or > 86400)
                result.AddError($"{name} must be a whole number of seconds from 1 to 86400, not '{string.Join(' ', result.Tokens.Select(t => t.Value))}'");
        });
        return option;
    }

    private static Command RunCommand()
    {
        var manifest = new Argument<string>("MANIFEST") { Description = "The pack's YAML manifest" };
        var command = new Command("run", "Run the master in the foreground until it is stopped (SIGTERM, SIGINT, SIGQUIT)") { manifest };
        command.SetAction(async parse =>
        {
            if (LoadManifest(parse.GetValue(manifest)!) is not { } loaded) return ExitCodes.Usage;
            return await MasterRunner.RunAsync(loaded, Runtime(parse), MasterLogs.Standard(loaded),
                new MasterOptions { SelfCommand = MasterHostCommand(), AdoptOrphans = true });
        });
        return command;
    }

    private static Command StartCommand()
    {
        var manifest = new Argument<string>("MANIFEST") { Description = "The pack's YAML manifest" };
        var timeout = SecondsOption("--timeout", "Seconds to wait for every worker to be ready (then the pack is stopped); default 120");
        var command = new Command("start", "Start the master detached; returns when every worker is ready (log: RUNTIME-DIR/NAME.log)") { manifest, timeout };
        command.SetAction(async parse =>
        {
            var progress = new Progress(Console.Error);
            // Ctrl+C or SIGTERM while waiting stops the half-started pack, as a timeout does, instead of leaving it behind.
            using var interrupted = new CancellationTokenSource();
            using var onInt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Interrupt);
            using var onTerm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Interrupt);
            void Interrupt(PosixSignalContext context) { context.Cancel = true; interrupted.Cancel(); }
            try
            {
                var status = await new PackStarter(Runtime(parse)).StartAsync(parse.GetValue(manifest)!,
                    (m, runtimeDir) => [.. MasterHostCommand(), "run", m.ManifestPath, "--runtime-dir", runtimeDir],
                    TimeSpan.FromSeconds(parse.GetValue(timeout) ?? 120), (ready, total) => progress.Show($"waiting for workers: {ready}/{total} ready"),
                    interrupted.Token);
                progress.Done();
                var ready = status.Workers.Count(w => w.State == nameof(WorkerState.Ready));
                var listening = status.Listeners.Count == 0 ? "no listeners" : string.Join(", ", status.Listeners.Select(l => $"{l.Name} {l.Address}"));
                Console.WriteLine($"pack '{status.Name}' started: master pid {status.MasterPid}, {ready} worker(s) ready, {listening}");
                foreach (var failed in status.Workers.Where(w => w.State == nameof(WorkerState.Failed)))
                    Console.Error.WriteLine($"gopherpack: warning: slot {failed.Slot} failed: {failed.FailureReason} (fix the manifest and run 'gopherpack reload {status.Name}')");
                return ExitCodes.Ok;
            }
            catch (ManifestException e)
            {
                progress.Done();
                foreach (var error in e.Errors) Console.Error.WriteLine(error);
                return ExitCodes.Usage;
            }
            catch (PackStartException e)
            {
                progress.Done();
                Console.Error.WriteLine($"gopherpack: start failed: {e.Message}");
                return ExitCodes.Failed;
            }
            catch (OperationCanceledException) when (interrupted.IsCancellationRequested)
            {
                progress.Done();
                Console.Error.WriteLine("gopherpack: start interrupted; the half-started pack was asked to stop");
                return ExitCodes.Failed;
            }
        });
        return command;
    }

    /// <summary>
    /// How to run this same program's <c>run</c> verb: the native executable or apphost itself, or dotnet with
    /// gopherpack.dll (Assembly.Location is empty in a native build, so the dll is found next to the program).
    /// </summary>
    private static IReadOnlyList<string> MasterHostCommand()
    {
        var process = Environment.ProcessPath!;
        return Path.GetFileNameWithoutExtension(process) == "dotnet"
            ? [process, Path.Combine(AppContext.BaseDirectory, typeof(GopherpackCommand).Assembly.GetName().Name + ".dll")]
            : [process];
    }

    private static Command StopCommand()
    {
        var name = PackName();
        var force = new Option<bool>("--force") { Description = "Kill the workers at once instead of letting them drain (also ends a stop already draining)" };
        var command = new Command("stop", "Stop a pack gracefully and wait until it is gone; a second stop waits for the same drain") { name, force };
        command.SetAction(parse => Control(parse, async client =>
        {
            var notes = await client.StopAsync(parse.GetValue(name)!, force: parse.GetValue(force));
            foreach (var note in notes) Console.Error.WriteLine($"gopherpack: warning: {note}");
            Console.WriteLine($"pack '{parse.GetValue(name)}' stopped");
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command ReloadCommand()
    {
        var name = PackName();
        var manifest = new Option<string?>("--manifest") { Description = "Reload from this manifest (default: the pack's own, re-read)" };
        var strategy = new Option<string?>("--strategy") { Description = "surge (a whole new generation next to the old) or rolling (slot by slot)" };
        strategy.AcceptOnlyFromAmong("surge", "rolling");
        var command = new Command("reload", "Replace every worker with a new generation without dropping connections; waits for the outcome") { name, manifest, strategy };
        command.SetAction(parse => Control(parse, async client =>
        {
            var progress = new Progress(Console.Error);
            using var ticker = progress.Ticker("reloading");
            var report = await client.ReloadAsync(parse.GetValue(name)!, parse.GetValue(manifest), parse.GetValue(strategy));
            progress.Done();
            Console.WriteLine($"pack '{parse.GetValue(name)}' reloaded: generation {report.Generation} serves ({report.Strategy}, {report.DurationMs:0} ms)");
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command UpgradeCommand()
    {
        var name = PackName();
        var executable = new Option<string?>("--executable") { Description = "The new master: a gopherpack executable or gopherpack.dll (default: the running master's own program)" };
        executable.Validators.Add(result =>
        {
            if (result.Tokens.Count != 1) return;
            var path = Path.GetFullPath(result.Tokens[0].Value);
            if (Directory.Exists(path)) result.AddError($"--executable '{path}' is a directory, not a program");
            else if (!File.Exists(path)) result.AddError($"--executable '{path}' does not exist");
        });
        var timeout = SecondsOption("--timeout", "Seconds the new master has to get every worker ready (default: the larger of 120 and ready.timeout + 60)");
        var command = new Command("upgrade", "Replace the master itself without refusing a connection: a new master inherits the sockets, starts its workers, takes over; waits for the outcome") { name, executable, timeout };
        command.SetAction(parse => Control(parse, async client =>
        {
            var progress = new Progress(Console.Error);
            using var ticker = progress.Ticker("upgrading");
            var seconds = parse.GetValue(timeout);
            var report = await client.UpgradeAsync(parse.GetValue(name)!, parse.GetValue(executable), seconds is { } s ? TimeSpan.FromSeconds(s) : null);
            progress.Done();
            Console.WriteLine($"pack '{parse.GetValue(name)}' upgraded: master pid {report.NewMasterPid} serves generation {report.Generation} ({report.DurationMs:0} ms); master pid {report.OldMasterPid} drains and exits");
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command ScaleCommand()
    {
        var name = PackName();
        var workers = new Argument<int>("N") { Description = $"The new number of workers (1-{PackManifest.MaxWorkers})" };
        workers.Validators.Add(result =>
        {
            // Reading the value of a token that is not a number throws; check the token itself.
            if (result.Tokens.Count != 1 || !int.TryParse(result.Tokens[0].Value, out var n) || n is < 1 or > PackManifest.MaxWorkers)
                result.AddError($"N must be a whole number from 1 to {PackManifest.MaxWorkers}, not '{string.Join(' ', result.Tokens.Select(t => t.Value))}'");
        });
        var command = new Command("scale", "Change the number of workers") { name, workers };
        command.SetAction(parse => Control(parse, async client =>
        {
            var count = await client.ScaleAsync(parse.GetValue(name)!, parse.GetValue(workers));
            Console.WriteLine($"pack '{parse.GetValue(name)}' runs {count} worker(s)");
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command PsCommand()
    {
        var name = new Argument<string?>("NAME") { Description = "Only this pack", Arity = ArgumentArity.ZeroOrOne };
        name.Validators.Add(MustBePackName);
        var json = new Option<bool>("--json") { Description = "JSON for scripts" };
        var command = new Command("ps", "List packs and their workers") { name, json };
        command.SetAction(parse => Control(parse, async client =>
        {
            if (parse.GetValue(name) is { } one)
            {
                Console.Write(parse.GetValue(json) ? PsView.Json([await client.StatusAsync(one)]) : PsView.Table([await client.StatusAsync(one)]));
                return ExitCodes.Ok;
            }
            var (packs, problems) = await client.StatusOfEveryPackAsync();
            Console.Write(parse.GetValue(json) ? PsView.Json(packs) : PsView.Table(packs));
            foreach (var problem in problems) Console.Error.WriteLine($"gopherpack: {problem.Message}");
            return problems.Count == 0 ? ExitCodes.Ok : ExitCodes.Failed;
        }));
        return command;
    }

    private static Command MetricsCommand()
    {
        var name = PackName();
        var command = new Command("metrics", "Print the pack's metrics in the Prometheus text format (for node_exporter's textfile collector and scripts)") { name };
        command.SetAction(parse => Control(parse, async client =>
        {
            Console.Write(await client.MetricsAsync(parse.GetValue(name)!));
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command TopCommand()
    {
        var name = new Argument<string?>("NAME") { Description = "Only this pack", Arity = ArgumentArity.ZeroOrOne };
        name.Validators.Add(MustBePackName);
        var command = new Command("top", "A live view of packs and workers, refreshed every second (q quits); one snapshot when stdout is not a terminal") { name };
        command.SetAction(parse => Control(parse, client => TopLoop.RunAsync(client, parse.GetValue(name))));
        return command;
    }

    private static Command ValidateCommand()
    {
        var manifest = new Argument<string>("MANIFEST") { Description = "The manifest to check" };
        var command = new Command("validate", "Check a manifest; prints file:line:col: message for each problem") { manifest };
        command.SetAction(parse =>
        {
            if (LoadManifest(parse.GetValue(manifest)!, plainFileOnly: false) is not { } loaded) return ExitCodes.Usage;
            try
            {
                WorkerPlan.SlotCpusHere(loaded);
            }
            catch (WorkerPlanException e)
            {
                Console.Error.WriteLine($"{loaded.ManifestPath}: {e.Message}");
                return ExitCodes.Usage;
            }
            Console.WriteLine($"{loaded.ManifestPath}: ok (pack '{loaded.Name}', {loaded.Listeners.Count} listener(s), workers {loaded.Workers?.ToString() ?? "auto"})");
            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>Runs a control-socket action and maps its failures to the documented exit codes.</summary>
    private static async Task<int> Control(ParseResult parse, Func<PackClient, Task<int>> action)
    {
        try
        {
            return await action(new PackClient(Runtime(parse)));
        }
        catch (PackNotRunningException e)
        {
            Console.Error.WriteLine($"gopherpack: {e.Message}");
            return ExitCodes.NotRunning;
        }
        catch (PackControlException e)
        {
            Console.Error.WriteLine($"gopherpack: {e.Message}");
            foreach (var detail in e.Details) Console.Error.WriteLine("    " + detail);
            return ControlErrorTable.For(e.Code).ExitCode;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Net.Sockets.SocketException)
        {
            Console.Error.WriteLine($"gopherpack: {e.Message}");
            return ExitCodes.Failed;
        }
    }

    private static PackManifest? LoadManifest(string path, bool plainFileOnly = true)
    {
        try
        {
            return ManifestLoader.Load(path, plainFileOnly);
        }
        catch (ManifestException e)
        {
            foreach (var error in e.Errors) Console.Error.WriteLine(error);
            return null;
        }
    }
}
