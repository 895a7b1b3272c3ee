using System.CommandLine;
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
        root.Subcommands.Add(ValidateCommand());

        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            foreach (var error in parsed.Errors) Console.Error.WriteLine($"gopherpack: {error.Message}");
            Console.Error.WriteLine("Run 'gopherpack --help' for usage.");
            return ExitCodes.Usage;
        }
        // The master handles SIGINT/SIGTERM itself; System.CommandLine must not.
        return await parsed.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });
    }

    private static Command RunCommand()
    {
        var manifest = new Argument<string>("MANIFEST") { Description = "The pack's YAML manifest" };
        var command = new Command("run", "Run the master in the foreground until it is stopped (SIGTERM, SIGINT, SIGQUIT)") { manifest };
        command.SetAction(async parse =>
        {
            if (LoadManifest(parse.GetValue(manifest)!) is not { } loaded) return ExitCodes.Usage;
            var runtime = RuntimeDirectory.Resolve(parse.GetValue(RuntimeDir));
            return await MasterRunner.RunAsync(loaded, runtime, new TextMasterLog(Console.Error, loaded.Name));
        });
        return command;
    }

    private static Command ValidateCommand()
    {
        var manifest = new Argument<string>("MANIFEST") { Description = "The manifest to check" };
        var command = new Command("validate", "Check a manifest; prints file:line:col: message for each problem") { manifest };
        command.SetAction(parse =>
        {
            if (LoadManifest(parse.GetValue(manifest)!) is not { } loaded) return ExitCodes.Usage;
            Console.WriteLine($"{loaded.ManifestPath}: ok (pack '{loaded.Name}', {loaded.Listeners.Count} listener(s), workers {loaded.Workers?.ToString() ?? "auto"})");
            return ExitCodes.Ok;
        });
        return command;
    }

    private static PackManifest? LoadManifest(string path)
    {
        try
        {
            return ManifestLoader.Load(path);
        }
        catch (ManifestException e)
        {
            foreach (var error in e.Errors) Console.Error.WriteLine(error);
            return null;
        }
    }
}
