using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using System.Text;

namespace Gopherpack.Linux;

/// <summary>What a worker process is started with.</summary>
/// <param name="InheritedFds">Master fds placed at 3, 4, ... in the child, in this order.</param>
/// <param name="Cpu">The CPU to pin the child to from its first instruction; null leaves it unpinned.</param>
internal sealed record SpawnRequest(
    string Executable,
    IReadOnlyList<string> Argv,
    IReadOnlyList<string> Environment,
    string WorkingDirectory,
    int StdoutFd,
    int StderrFd,
    IReadOnlyList<int> InheritedFds,
    int? Cpu,
    bool NewSession = false,
    int? StdinFd = null);

/// <summary>
/// Starts processes with posix_spawn from one long-lived thread. The thread pins itself to the
/// worker's CPU just before spawning (the child inherits the mask) and restores its mask after.
/// It must outlive every child: PR_SET_PDEATHSIG fires when the parent thread exits. Dispose ends the thread
/// (once every child is gone), so a process that hosts many masters in turn keeps no thread per master.
/// </summary>
internal sealed unsafe class PosixSpawner : IDisposable
{
    private readonly BlockingCollection<(SpawnRequest Request, TaskCompletionSource<int> Result)> _queue = new();
    private IReadOnlyList<int> _homeCpus = [];

    public PosixSpawner()
    {
        var ready = new ManualResetEventSlim();
        var thread = new Thread(() => Run(ready)) { IsBackground = true, Name = "gopherpack-spawner" };
        thread.Start();
        ready.Wait();
    }

    /// <returns>The child's pid.</returns>
    /// <exception cref="SpawnException">posix_spawn failed (e.g. the executable could not be run).</exception>
    public int Spawn(SpawnRequest request)
    {
        var result = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        _queue.Add((request, result));
        return result.Task.GetAwaiter().GetResult();
    }

    /// <summary>
    /// Spawns from the calling thread, with no spawner thread behind it: for a process that must not die with
    /// its parent thread (a detached master in its own session), so nothing needs to outlive the call.
    /// </summary>
    /// <exception cref="SpawnException">posix_spawn failed.</exception>
    public static int SpawnDetached(SpawnRequest request)
    {
        if (request.Cpu is not null || !request.NewSession) throw new ArgumentException("a detached spawn is unpinned and in its own session", nameof(request));
        return SpawnNow(request);
    }

    public void Dispose() => _queue.CompleteAdding();

    private void Run(ManualResetEventSlim ready)
    {
        _homeCpus = CpuAffinity.OfCurrentThread();
        ready.Set();
        foreach (var (request, result) in _queue.GetConsumingEnumerable())
        {
            try { result.SetResult(SpawnPinned(request)); }
            catch (Exception e) { result.SetException(e); }
        }
    }

    private int SpawnPinned(SpawnRequest request)
    {
        if (request.Cpu is not { } cpu) return SpawnNow(request);
        CpuAffinity.SetCurrentThread([cpu]);
        try { return SpawnNow(request); }
        finally { CpuAffinity.SetCurrentThread(_homeCpus); }
    }

    private static int SpawnNow(SpawnRequest request)
    {
        using var strings = new NativeStrings();
        var actions = NativeMemory.AllocZeroed(Libc.SpawnFileActionsSize);
        var attr = NativeMemory.AllocZeroed(Libc.SpawnAttrSize);
        var sigmask = stackalloc byte[Libc.SigSetSize];
        var sigdefault = stackalloc byte[Libc.SigSetSize];
        try
        {
            Check(Libc.posix_spawn_file_actions_init(actions), "file_actions_init");
            Check(Libc.posix_spawnattr_init(attr), "spawnattr_init");
            try
            {
                AddFileActions(actions, request, strings);
                Libc.sigemptyset(sigmask);
                // Not sigfillset: it leaves out glibc's internal signals 32 and 33, and posix_spawn then sets
                // those to SIG_IGN in the child, which execve keeps. Every bit set means every signal SIG_DFL.
                new Span<byte>(sigdefault, Libc.SigSetSize).Fill(0xFF);
                var group = request.NewSession ? Libc.POSIX_SPAWN_SETSID : Libc.POSIX_SPAWN_SETPGROUP;
                Check(Libc.posix_spawnattr_setflags(attr, (short)(group | Libc.POSIX_SPAWN_SETSIGDEF | Libc.POSIX_SPAWN_SETSIGMASK)), "setflags");
                Check(Libc.posix_spawnattr_setsigmask(attr, sigmask), "setsigmask");
                Check(Libc.posix_spawnattr_setsigdefault(attr, sigdefault), "setsigdefault");
                Check(Libc.posix_spawnattr_setpgroup(attr, 0), "setpgroup");

                var argv = strings.Array(request.Argv);
                var envp = strings.Array(request.Environment);
                var error = Libc.posix_spawn(out var pid, strings.Add(request.Executable), actions, attr, argv, envp);
                if (error != 0) throw new SpawnException($"cannot start '{request.Executable}': {Libc.Error(error)}");
                return pid;
            }
            finally
            {
                Libc.posix_spawn_file_actions_destroy(actions);
                Libc.posix_spawnattr_destroy(attr);
            }
        }
        finally
        {
            NativeMemory.Free(actions);
            NativeMemory.Free(attr);
        }
    }

    /// <summary>
    /// stdin from /dev/null (or the request's), stdout/stderr and the inherited fds moved into place, every other fd closed.
    /// Sources are first copied above all of them, so a source that sits on a target number is never clobbered.
    /// </summary>
    private static void AddFileActions(void* actions, SpawnRequest request, NativeStrings strings)
    {
        var sources = new List<int> { request.StdoutFd, request.StderrFd };
        sources.AddRange(request.InheritedFds);
        var targets = Enumerable.Range(1, sources.Count).ToList();
        if (request.StdinFd is { } stdin)
        {
            sources.Insert(0, stdin);
            targets.Insert(0, 0);
        }
        var scratch = Math.Max(sources.Max(), targets[^1]) + 1;
        // posix_spawn refuses (EBADF) an fd number at or past the nofile limit: the master has too many fds open.
        if (Libc.getrlimit(Libc.RLIMIT_NOFILE, out var nofile) == 0 && (ulong)(scratch + sources.Count) > nofile.Current)
            throw SpawnException.OutOfFds($"handing a worker its fds needs fd numbers up to {scratch + sources.Count - 1}");
        for (var i = 0; i < sources.Count; i++) Check(Libc.posix_spawn_file_actions_adddup2(actions, sources[i], scratch + i), "adddup2");
        for (var i = 0; i < sources.Count; i++) Check(Libc.posix_spawn_file_actions_adddup2(actions, scratch + i, targets[i]), "adddup2");
        if (request.StdinFd is null) Check(Libc.posix_spawn_file_actions_addopen(actions, 0, strings.Add("/dev/null"), Libc.O_RDONLY, 0), "addopen");
        Check(Libc.posix_spawn_file_actions_addchdir_np(actions, strings.Add(request.WorkingDirectory)), "addchdir");
        Check(Libc.posix_spawn_file_actions_addclosefrom_np(actions, targets[^1] + 1), "addclosefrom");
    }

    private static void Check(int error, string what)
    {
        if (error != 0) throw new SpawnException($"posix_spawn {what}: {Libc.Error(error)}");
    }

    /// <summary>UTF-8 C strings and string arrays freed together.</summary>
    private sealed class NativeStrings : IDisposable
    {
        private readonly List<nint> _allocations = [];

        public byte* Add(string value)
        {
            var bytes = Encoding.UTF8.GetBytes(value);
            var memory = (byte*)NativeMemory.Alloc((nuint)bytes.Length + 1);
            bytes.CopyTo(new Span<byte>(memory, bytes.Length));
            memory[bytes.Length] = 0;
            _allocations.Add((nint)memory);
            return memory;
        }

        public byte** Array(IReadOnlyList<string> values)
        {
            var array = (byte**)NativeMemory.Alloc((nuint)(values.Count + 1), (nuint)sizeof(nint));
            _allocations.Add((nint)array);
            for (var i = 0; i < values.Count; i++) array[i] = Add(values[i]);
            array[values.Count] = null;
            return array;
        }

        public void Dispose()
        {
            foreach (var allocation in _allocations) NativeMemory.Free((void*)allocation);
        }
    }
}

internal sealed class SpawnException(string message) : Exception(message)
{
    /// <summary>The master itself ran out of fds (EMFILE, or fd numbers past its nofile limit): no slot can spawn until fds are freed.</summary>
    public bool MasterOutOfFds { get; init; }

    public static SpawnException OutOfFds(string detail)
    {
        var limit = Libc.getrlimit(Libc.RLIMIT_NOFILE, out var nofile) == 0 ? $" of {nofile.Current}" : "";
        return new SpawnException($"the master is out of file descriptors (Too many open files: {detail}) under its nofile limit{limit}; raise limits.nofile or run fewer workers")
        {
            MasterOutOfFds = true,
        };
    }
}
