using System.Runtime.InteropServices;
using Gopherpack.Control;

namespace Gopherpack.Cli;

/// <summary>
/// <c>gopherpack top</c>: redraws <see cref="TopView"/> every second on the terminal's alternate screen until
/// q (or Ctrl+C); prints one frame when stdout is not a terminal.
/// </summary>
public static class TopLoop
{
    private static readonly TimeSpan Refresh = TimeSpan.FromSeconds(1);

    public static async Task<int> RunAsync(PackClient client, string? pack)
    {
        if (Console.IsOutputRedirected || Console.IsInputRedirected)
        {
            Console.Write(TopView.Frame(await Read(client, pack), DateTimeOffset.UtcNow, live: false));
            return ExitCodes.Ok;
        }
        using var quit = new CancellationTokenSource();
        using var onInt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Quit);
        using var onTerm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Quit);
        void Quit(PosixSignalContext context) { context.Cancel = true; quit.Cancel(); }
        var keys = Task.Run(() =>
        {
            while (!quit.IsCancellationRequested)
            {
                if (Console.ReadKey(intercept: true).KeyChar is 'q' or 'Q') quit.Cancel();
            }
        });
        Console.Write("\u001b[?1049h\u001b[?25l");
        try
        {
            while (!quit.IsCancellationRequested)
            {
                var frame = TopView.Frame(await Read(client, pack), DateTimeOffset.UtcNow, live: true);
                Console.Write("\u001b[H\u001b[2J" + frame.Replace("\n", "\u001b[K\n"));
                try { await Task.Delay(Refresh, quit.Token); } catch (OperationCanceledException) { }
            }
        }
        finally
        {
            Console.Write("\u001b[?25h\u001b[?1049l");
        }
        return ExitCodes.Ok;
    }

    private static async Task<IReadOnlyList<PackStatus>> Read(PackClient client, string? pack) =>
        pack is null ? await client.AllStatusAsync() : [await client.StatusAsync(pack)];
}
