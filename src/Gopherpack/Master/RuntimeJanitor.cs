using Gopherpack.Linux;

namespace Gopherpack.Master;

/// <summary>
/// Cleans up after a master that is killed and cannot do it itself. A small sh process whose fd 3 is the
/// lifeline pipe: EOF means the master is gone. It then reads the master's list (<see cref="RuntimeFileList"/>,
/// kept current as workers start and exit, and through reloads and upgrades) and
/// <list type="bullet">
/// <item>removes each runtime file (pid file, control socket, notify sockets, unix listener sockets) only if it is
/// still the very file the master created (same device and inode): a path that another pack has bound since, or a
/// pid file a new master has written, is left alone. A unix listener's socket may sit in a folder another user can
/// write, who could swap a parent folder for a symlink between the check and the removal: so the janitor changes into
/// the parent folder once (<c>cd -P</c>), then checks and removes <c>./NAME</c> there (a swap moves no open cwd),
/// never following a symlink at the last part, and removes recursively only a directory (the notify folder);</item>
/// <item>sends every worker still alive its stop signal (to its process group), and SIGKILL once its stop.timeout
/// has passed: whatever the worker ignores, and whether or not an exec cleared its parent-death signal (a binary
/// with file capabilities, a set-user-ID one, a change of credentials). A worker is named by pid and start time
/// (field 22 of /proc/PID/stat, kept across exec), checked before every signal, so a pid reused by another
/// process after the worker exited is never signalled. A worker spawned after the list was last written (the master
/// killed between a spawn and its listing, or before setpriv set the death signal) is found by the lifeline pipe it
/// inherited (its inode under /proc/*/fd) and stopped the same way, with the list's <c>unlisted</c> settings;
/// so is any process a worker started that still holds the lifeline.</item>
/// </list>
/// A list that names another master (a successor already took over) is not acted on. Nor does it act while the
/// master (named by pid and start time) is still alive: an EOF then means only that the janitor's reader was
/// killed; it waits up to 3 s for a master that is exiting, then exits itself, and the master starts a new janitor.
/// A process name may hold a newline or ") ": the whole stat file is read and its fields taken after the last ") ".
/// </summary>
internal static class RuntimeJanitor
{
    internal const string Script = """
        cat <&3 >/dev/null
        lifeline=$(find /proc/$$/fd/3 -maxdepth 0 -printf %l 2>/dev/null)
        exec 3<&-
        list=$1; master=$2; born=$3
        look() {
          line=
          { while IFS= read -r part || [ -n "$part" ]; do line="$line $part"; done <"/proc/$1/stat"; } 2>/dev/null || return 1
          set -- ${line##*") "}
          state=$1; group=$3; started=${20}
          [ "$state" != Z ]
        }
        same() { look "$1" && [ "$started" = "$2" ]; }
        # In the folder, resolved once: a parent swapped for a symlink later moves nothing. The last part is never followed.
        drop() (
          cd -P -- "$(dirname -- "$2")" 2>/dev/null || exit 0
          name=./$(basename -- "$2"); what=$(stat -c '%d:%i %F' -- "$name" 2>/dev/null)
          if [ "$what" = "$1 directory" ]; then rm -rf -- "$name"; elif [ "${what%% *}" = "$1" ]; then rm -f -- "$name"; fi
        )
        tries=0
        while same "$master" "$born"; do
          [ "$tries" -ge 30 ] && exit 0
          tries=$((tries + 1)); sleep 0.1
        done
        # Files the master was writing when it was killed (named for its pid, in its private runtime dir).
        rm -f -- "$list.tmp" "${list%.files.*}.pid.$master".*.tmp
        { [ -f "$list" ] && [ ! -L "$list" ]; } || exit 0  # only a plain file: a FIFO would hang it, a symlink lead elsewhere
        exec <"$list" 2>/dev/null || exit 0
        read -r owner || exit 0; [ "$owner" = "$master" ] || exit 0
        workers=; unlisted=; found=
        while read -r id path; do
          if [ "$id" = worker ]; then workers="$workers $path"
          elif [ "$id" = unlisted ]; then unlisted=$path
          elif [ "$id" = rmdir ]; then rmdir -- "$path" 2>/dev/null
          else drop "$id" "$path"; fi
        done
        rm -f -- "$list"
        # A worker spawned after the list was last written holds the lifeline too: find it by that pipe.
        case $lifeline in "pipe:["*"]") ;; *) lifeline= ;; esac
        if [ -n "$lifeline" ] && [ -n "$unlisted" ]; then
          ino=${lifeline#"pipe:["}; ino=${ino%"]"}
          for fd in $(find /proc/[0-9]*/fd -maxdepth 1 -lname "pipe:\\[$ino\\]" 2>/dev/null); do
            pid=${fd#/proc/}; pid=${pid%%/*}
            case " $workers $found " in *" $pid:"*) continue ;; esac
            [ "$pid" = $$ ] && continue
            look "$pid" || continue
            found="$found $pid:$started:$unlisted"
          done
          workers="$workers $found"
        fi
        clock() { read -r up _ </proc/uptime; now=$(( ${up%.*} * 100 + 1${up#*.} - 100 )); }
        hit() { if [ "$group" = "$2" ]; then kill -s "$1" -- "-$2" 2>/dev/null; else kill -s "$1" "$2" 2>/dev/null; fi; }
        clock; pending=
        for w in $workers; do
          pid=${w%%:*}; rest=${w#*:}; start=${rest%%:*}; rest=${rest#*:}; signal=${rest%%:*}; timeout=${rest#*:}
          same "$pid" "$start" || continue
          hit "$signal" "$pid"
          pending="$pending $pid:$start:$((now + timeout))"
        done
        while [ -n "$pending" ]; do
          sleep 0.1; clock; left=
          for w in $pending; do
            pid=${w%%:*}; rest=${w#*:}; start=${rest%%:*}; due=${rest#*:}
            same "$pid" "$start" || continue
            if [ "$now" -ge "$due" ]; then hit KILL "$pid"; else left="$left $w"; fi
          done
          pending=$left
        done
        exit 0
        """;

    /// <summary>
    /// Whether <paramref name="pid"/> runs a janitor (this very script). One whose master has exited normally finds no list
    /// and exits at once; re-parented to another master (an upgrade's), it is no leftover of a worker.
    /// </summary>
    public static bool IsJanitor(int pid)
    {
        try
        {
            var argv = File.ReadAllText($"/proc/{pid}/cmdline").Split('\0');
            return argv.Length >= 4 && argv[0] == "/bin/sh" && argv[1] == "-c" && argv[2] == Script && argv[3] == Name;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return false; }
    }

    private const string Name = "gopherpack-janitor";

    /// <returns>The janitor's pid; it is reaped with the workers' sweep or, after the master dies, by init.</returns>
    /// <param name="masterStartTime">Tests only: the start time the janitor takes for this process's, so it finds its master gone.</param>
    public static int Start(PosixSpawner spawner, int lifelineReadFd, string fileList, ulong? masterStartTime = null)
    {
        var self = Environment.ProcessId;
        var born = masterStartTime ?? ProcessStat.Read(self)?.StartTime ?? throw new InvalidOperationException("cannot read this process's start time from /proc/self/stat");
        string[] argv = ["/bin/sh", "-c", Script, Name, fileList, self.ToString(), born.ToString()];
        var devNull = File.OpenHandle("/dev/null", FileMode.Open, FileAccess.Write);
        try
        {
            var fd = (int)devNull.DangerousGetHandle();
            return spawner.Spawn(new SpawnRequest("/bin/sh", argv, ["PATH=/usr/bin:/bin"], "/", fd, fd, [lifelineReadFd], null));
        }
        finally
        {
            devNull.Dispose();
        }
    }
}

/// <summary>A worker the janitor stops if the master is killed: its pid and start time name it, its generation's stop settings apply.</summary>
internal sealed record JanitorWorker(int Pid, ulong StartTime, string StopSignal, TimeSpan StopTimeout)
{
    /// <summary><c>worker PID:START:SIGNAL:CENTISECONDS</c> (the signal without SIG, as <c>kill -s</c> takes it).</summary>
    public string Line => $"worker {Pid}:{StartTime}:{StopSignal}:{Centiseconds(StopTimeout)}";

    public static long Centiseconds(TimeSpan span) => (long)Math.Ceiling(span.TotalMilliseconds / 10);
}

/// <summary>
/// The runtime files and workers a master holds right now, as <c>RUNTIME-DIR/NAME.files.PID</c>: its pid, then one
/// <c>DEVICE:INODE PATH</c> line per file and one <see cref="JanitorWorker.Line"/> per worker. Rewritten atomically (temporary file, then rename) whenever
/// the set changes (start, reload prepared, committed or abandoned, upgrade takeover or handover), so the
/// janitor always acts on the current set. A path without identity (<c>rmdir PATH</c>) is a shared folder,
/// removed only if empty.
/// </summary>
internal sealed class RuntimeFileList(string path)
{
    private FileId? _written;

    public string Path { get; } = path;

    /// <param name="unlisted">How to stop a process found holding the lifeline that is not among <paramref name="workers"/>.</param>
    public void Write(IEnumerable<(string Path, FileId? Id)> files, IEnumerable<JanitorWorker> workers, (string Signal, TimeSpan Timeout) unlisted)
    {
        var temp = Path + ".tmp";
        var lines = new List<string> { Environment.ProcessId.ToString(), $"unlisted {unlisted.Signal}:{JanitorWorker.Centiseconds(unlisted.Timeout)}" };
        lines.AddRange(files.Where(f => !f.Path.Contains('\n')).Select(f => $"{f.Id?.ToString() ?? "rmdir"} {f.Path}"));
        lines.AddRange(workers.Select(w => w.Line));
        // CreateNew (O_EXCL) never follows a symlink planted at the temporary name.
        File.Delete(temp);
        using (var stream = new FileStream(temp, new FileStreamOptions
               {
                   Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
               }))
        using (var writer = new StreamWriter(stream))
            foreach (var line in lines) writer.WriteLine(line);
        File.Move(temp, Path, overwrite: true);
        _written = FileId.OfPath(Path);
    }

    /// <summary>A normal stop: the master removed its files itself.</summary>
    public void Delete()
    {
        if (_written is { } id && FileId.OfPath(Path) == id) File.Delete(Path);
    }
}
