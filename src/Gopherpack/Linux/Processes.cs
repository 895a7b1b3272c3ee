using System.Runtime.InteropServices;

namespace Gopherpack.Linux;

/// <summary>Signals and reaping for the master's own children. Never waitpid(-1): the .NET runtime owns other children.</summary>
internal static class Processes
{
    /// <summary>Signals the child's whole process group, so helpers it started go too.</summary>
    /// <returns>Null when the signal was sent or the process is gone; else why it could not be sent (EPERM: a process of another user).</returns>
    public static string? SignalGroup(int pid, int signal)
    {
        if (Libc.kill(-pid, signal) == 0) return null;
        var errno = Marshal.GetLastPInvokeError();
        // No such group: the child does not lead one (yet); signal it alone.
        return errno == Libc.ESRCH ? Signal(pid, signal) : Failure(errno);
    }

    /// <returns>Null when the signal was sent or the process is gone; else why it could not be sent (EPERM: a process of another user).</returns>
    public static string? Signal(int pid, int signal) =>
        Libc.kill(pid, signal) == 0 ? null : Failure(Marshal.GetLastPInvokeError());

    /// <summary>ESRCH is no failure: the process has already gone, which is what a signal to end it wants.</summary>
    private static string? Failure(int errno) => errno == Libc.ESRCH ? null : Libc.Error(errno);

    /// <summary>The process group of <paramref name="pid"/>; -1 if there is no such process.</summary>
    public static int GroupOf(int pid) => Libc.getpgid(pid);

    /// <summary>Reaps <paramref name="pid"/> if it has exited; null while it runs.</summary>
    public static ExitStatus? TryReap(int pid)
    {
        while (true)
        {
            var result = Libc.waitpid(pid, out var status, Libc.WNOHANG);
            if (result == pid) return ExitStatus.FromWaitStatus(status);
            if (result == 0) return null;
            var errno = Marshal.GetLastPInvokeError();
            if (errno == Libc.EINTR) continue;
            // ECHILD: not our child any more (already reaped, e.g. by the .NET runtime when the master is PID 1);
            // report it gone so no slot waits forever.
            return ExitStatus.Unknown;
        }
    }

    /// <summary>
    /// Like <see cref="TryReap"/> for a worker that leads its own process group: once it has exited, and
    /// before it is reaped (the zombie keeps its pid, hence the group id, from being reused), whatever it
    /// left behind in its group is killed, so no helper of a dead worker keeps its listening sockets.
    /// </summary>
    public static unsafe ExitStatus? TryReapGroup(int pid)
    {
        var info = stackalloc byte[SigInfoSize];
        new Span<byte>(info, SigInfoSize).Clear();
        int result;
        do result = Libc.waitid(Libc.P_PID, pid, info, Libc.WEXITED | Libc.WNOHANG | Libc.WNOWAIT);
        while (result != 0 && Marshal.GetLastPInvokeError() == Libc.EINTR);
        // Its result is not needed: the zombie leader keeps the group alive, so only a helper out of reach (EPERM: it changed
        // its uid) survives, and the stray-socket check at stop reports one that still holds a listener.
        if (result == 0 && *(int*)(info + SigInfoPidOffset) == pid) Libc.kill(-pid, Manifest.SignalNames.SIGKILL);
        return TryReap(pid);
    }

    private const int SigInfoSize = 128, SigInfoPidOffset = 16;

    /// <summary>
    /// Reaps a child whenever it exits, from a background thread, so a long-lived parent (a pwsh
    /// session that ran Start-Pack) never keeps it as a zombie. If the parent exits first, init adopts it.
    /// </summary>
    public static void ReapWhenExited(int pid)
    {
        var thread = new Thread(() =>
        {
            while (Libc.waitpid(pid, out _, 0) < 0 && Marshal.GetLastPInvokeError() == Libc.EINTR) { }
        })
        { IsBackground = true, Name = $"gopherpack-reap-{pid}" };
        thread.Start();
    }

    public static bool IsAlive(int pid) => Libc.kill(pid, 0) == 0 || Marshal.GetLastPInvokeError() != Libc.ESRCH;
}
