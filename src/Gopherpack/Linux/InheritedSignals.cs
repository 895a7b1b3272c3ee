using Gopherpack.Manifest;

namespace Gopherpack.Linux;

/// <summary>
/// What a parent leaves in the master's signal state and the master must undo. `nohup gopherpack run app.yml &`
/// starts it with SIGHUP ignored (nohup) and SIGINT and SIGQUIT ignored (a shell's background job), and a parent
/// may leave signals blocked too; both survive exec. The .NET runtime respects an ignored signal: it installs no
/// handler for it, so a PosixSignalRegistration never hears it. As nginx does, the master takes back every signal
/// it documents: an ignored one is set to its default disposition before the runtime looks at it, and all are
/// unblocked in the calling thread. Workers need nothing of this: they are spawned with every signal at its
/// default and an empty mask.
/// </summary>
public static unsafe class InheritedSignals
{
    /// <summary>Every signal the master documents, and SIGCHLD (ignored, children would be reaped by the kernel and their exits lost).</summary>
    public static readonly IReadOnlyList<int> Master =
    [
        SignalNames.SIGHUP, SignalNames.SIGINT, SignalNames.SIGQUIT, SignalNames.SIGTERM, SignalNames.SIGUSR2,
        SignalNames.SIGTTIN, SignalNames.SIGTTOU, SignalNames.SIGCHLD,
    ];

    /// <summary>
    /// Sets each of <see cref="Master"/> that is ignored to its default, and unblocks them all in this thread. For
    /// SIGINT, SIGQUIT and SIGCHLD it must run before the runtime's own signal handling starts (the first use of
    /// Console, Process or PosixSignalRegistration): the runtime installs their handlers then, once, and keeps an
    /// ignored one ignored for good. The other signals are installed when first registered.
    /// </summary>
    /// <returns>The signals that were ignored or blocked, for the log.</returns>
    public static IReadOnlyList<string> Reset()
    {
        var changed = new List<string>();
        var query = stackalloc byte[Libc.SigActionSize];
        var defaults = stackalloc byte[Libc.SigActionSize];
        new Span<byte>(defaults, Libc.SigActionSize).Clear();
        foreach (var signal in Master)
        {
            if (Libc.sigaction(signal, null, query) != 0 || *(nint*)query != Libc.SIG_IGN) continue;
            if (Libc.sigaction(signal, defaults, null) == 0) changed.Add($"{Name(signal)} was ignored");
        }
        var mask = stackalloc byte[Libc.SigSetSize];
        var blocked = stackalloc byte[Libc.SigSetSize];
        Libc.sigemptyset(mask);
        foreach (var signal in Master) Libc.sigaddset(mask, signal);
        if (Libc.pthread_sigmask(Libc.SIG_UNBLOCK, mask, blocked) == 0)
            changed.AddRange(Master.Where(s => Libc.sigismember(blocked, s) == 1).Select(s => $"{Name(s)} was blocked"));
        lock (Undone) Undone.AddRange(changed);
        return changed;
    }

    /// <summary>Everything <see cref="Reset"/> has undone in this process so far.</summary>
    public static IReadOnlyList<string> UndoneSoFar() { lock (Undone) return Undone.ToList(); }

    private static readonly List<string> Undone = [];

    /// <summary>The signals of <see cref="Master"/> that this process does not catch (ignored or at their default), or that this thread blocks.</summary>
    public static IReadOnlyList<string> NotHandled()
    {
        var problems = new List<string>();
        var query = stackalloc byte[Libc.SigActionSize];
        var blocked = stackalloc byte[Libc.SigSetSize];
        var haveMask = Libc.pthread_sigmask(Libc.SIG_UNBLOCK, null, blocked) == 0;
        foreach (var signal in Master)
        {
            if (Libc.sigaction(signal, null, query) == 0 && *(nint*)query is var handler && (handler == Libc.SIG_IGN || handler == Libc.SIG_DFL))
                problems.Add($"{Name(signal)} is {(handler == Libc.SIG_IGN ? "ignored" : "not caught")}");
            if (haveMask && Libc.sigismember(blocked, signal) == 1) problems.Add($"{Name(signal)} is blocked");
        }
        return problems;
    }

    private static string Name(int signal) => signal switch
    {
        SignalNames.SIGCHLD => "SIGCHLD",
        SignalNames.SIGTTIN => "SIGTTIN",
        SignalNames.SIGTTOU => "SIGTTOU",
        _ => SignalNames.Name(signal),
    };
}
