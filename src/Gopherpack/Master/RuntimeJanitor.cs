using Gopherpack.Linux;

namespace Gopherpack.Master;

/// <summary>
/// Removes the master's runtime files (pid file, control socket, notify sockets, unix listener
/// sockets) when the master is killed and cannot do it itself. A small sh process whose stdin is
/// the lifeline pipe: EOF means the master is gone. It acts only if the pid file still names this
/// master, so after a normal stop (the master removed its files) or a quick restart (a new master
/// wrote its own pid file) it does nothing.
/// </summary>
public static class RuntimeJanitor
{
    private const string Script =
        "cat >/dev/null; pidfile=$1; pid=$2; shift 2; " +
        "[ \"$(cat \"$pidfile\" 2>/dev/null)\" = \"$pid\" ] && rm -rf -- \"$pidfile\" \"$@\"; exit 0";

    /// <returns>The janitor's pid; it is reaped with the workers' sweep or, after the master dies, by init.</returns>
    public static int Start(PosixSpawner spawner, int lifelineReadFd, string pidFile, IEnumerable<string> paths)
    {
        var argv = new List<string> { "/bin/sh", "-c", Script, "gopherpack-janitor", pidFile, Environment.ProcessId.ToString() };
        argv.AddRange(paths);
        var devNull = File.OpenHandle("/dev/null", FileMode.Open, FileAccess.Write);
        try
        {
            // stdin is the lifeline: the spawner puts fd 0 on /dev/null, so the script reads the lifeline from fd 3.
            argv[2] = Script.Replace("cat >/dev/null", "cat <&3 >/dev/null");
            var fd = (int)devNull.DangerousGetHandle();
            return spawner.Spawn(new SpawnRequest("/bin/sh", argv, ["PATH=/usr/bin:/bin"], "/", fd, fd, [lifelineReadFd], null));
        }
        finally
        {
            devNull.Dispose();
        }
    }
}
