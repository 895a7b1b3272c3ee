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
    /// <summary>How long a status read may take before the frame says the master is not answering.</summary>
    private static readonly TimeSpan AnswerTimeout = TimeSpan.FromSeconds(3);

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
            Task<IReadOnlyList<PackStatus>>? pending = null;
            var frame = "";
            while (!quit.IsCancellationRequested)
            {
                // A master that stops answering (SIGSTOPped, overloaded) leaves its read pending: the last frame
                // stays, with a line that says so, instead of a silent freeze.
                pending ??= Read(client, pack);
                try { await Task.WhenAny(pending, Task.Delay(AnswerTimeout, quit.Token)); } catch (OperationCanceledException) { /* q pressed: the loop ends */ }
                if (pending.IsCompleted)
                {
                    frame = TopView.Frame(await pending, DateTimeOffset.UtcNow, live: true);
                    pending = null;
                }
                else if (!quit.IsCancellationRequested)
                {
                    frame = TopView.NotAnswering(frame, DateTimeOffset.UtcNow);
                }
                var (width, height) = TerminalSize();
                Console.Write("\u001b[H\u001b[2J" + TopView.Clip(frame, width, height).Replace("\n", "\u001b[K\n"));
                try { await Task.Delay(Refresh, quit.Token); } catch (OperationCanceledException) { /* q pressed: the loop ends */ }
            }
        }
        finally
        {
            Console.Write("\u001b[?25h\u001b[?1049l");
        }
        return ExitCodes.Ok;
    }

    private static (int Width, int Height) TerminalSize()
    {
        try { return (Console.WindowWidth, Console.WindowHeight); }
        catch (IOException) { return (0, 0); }
    }

    private static async Task<IReadOnlyList<PackStatus>> Read(PackClient client, string? pack) =>
        pack is null ? await client.AllStatusAsync() : [await client.StatusAsync(pack)];
}
