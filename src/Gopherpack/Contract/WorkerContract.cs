// One definition of the worker contract, compiled into the master (Gopherpack.Core) and the worker library.
#if GOPHERPACK_WORKER
namespace Gopherpack.Worker.Contract;
#else
namespace Gopherpack;
#endif

/// <summary>Names of the worker contract (DESIGN.md, "Worker contract").</summary>
#if GOPHERPACK_WORKER
internal
#else
public
#endif
static class WorkerContract
{
    public const string ListenFds = "LISTEN_FDS";
    public const string ListenFdNames = "LISTEN_FDNAMES";
    public const string ListenPid = "LISTEN_PID";
    public const string NotifySocket = "NOTIFY_SOCKET";
    public const string WatchdogUsec = "WATCHDOG_USEC";
    public const string Pack = "GOPHERPACK_PACK";
    public const string Slot = "GOPHERPACK_SLOT";
    public const string Cpu = "GOPHERPACK_CPU";
    public const string Generation = "GOPHERPACK_GENERATION";
    public const string MasterPid = "GOPHERPACK_MASTER_PID";
    public const string LifelineFd = "GOPHERPACK_LIFELINE_FD";
    public const string Listeners = "GOPHERPACK_LISTENERS";
    public const int FirstListenFd = 3;

    /// <summary>Variables the master sets per worker; never taken from the master's environment or the manifest.</summary>
    public static bool IsReserved(string name) =>
        name.StartsWith("LISTEN_", StringComparison.Ordinal) || name.StartsWith("GOPHERPACK_", StringComparison.Ordinal)
        || name is NotifySocket or WatchdogUsec or "WATCHDOG_PID";
}
