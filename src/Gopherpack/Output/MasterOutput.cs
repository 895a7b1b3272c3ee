using Gopherpack.Linux;

namespace Gopherpack.Output;

/// <summary>
/// The master's stdout and stderr as <see cref="OutputSink"/>s: worker output and the master's log go through
/// them and never block. An fd that is closed (or taken by the runtime after a <c>2&gt;&amp;-</c>) is a sink that
/// drops; when stdout and stderr are the same file (a log file, <c>2&gt;&amp;1</c>) they share one sink, so lines keep their order.
/// </summary>
internal sealed class MasterOutput
{
    private static readonly Lazy<MasterOutput> Process = new(() => new MasterOutput());

    /// <summary>This process's fds 1 and 2, probed once.</summary>
    public static MasterOutput Standard => Process.Value;

    public OutputSink Out { get; }
    public OutputSink Err { get; }

    private MasterOutput()
    {
        var outFd = Own(1);
        var errFd = Own(2);
        Out = new OutputSink(outFd, "stdout");
        if (outFd >= 0 && errFd >= 0 && FileType.Of(outFd) is { } a && FileType.Of(errFd) is { } b && a.SameFileAs(b))
        {
            Libc.close(errFd);
            Err = Out;
        }
        else
        {
            Err = new OutputSink(errFd, "stderr");
        }
    }

    /// <summary>Formats the sinks' own notices (see <see cref="OutputSink.Notice"/>).</summary>
    public void FormatNotices(Func<string, string> notice)
    {
        Out.Notice = notice;
        Err.Notice = notice;
    }

    /// <summary>Lines dropped on both outputs since start.</summary>
    public long DroppedLines => Out == Err ? Out.DroppedLines : Out.DroppedLines + Err.DroppedLines;

    /// <summary>Bounds the log file, when stderr is one (the master started by <c>gopherpack start</c> or Start-Pack).</summary>
    /// <param name="runtimeDir">The master's private runtime dir: a symlink put at a log path in it may be removed and replaced by a fresh file.</param>
    public void BoundLogFile(long maxBytes, string? runtimeDir = null)
    {
        if (Own(2) is var fd and >= 0)
        {
            try
            {
                if (FileType.Of(fd) is { Type: FileType.IfReg } && StandardStreams.FilePath(fd) is { } path)
                    Err.RotateWith(new LogRotation(path, maxBytes, warning => Err.TryWrite(Err.Notice(warning), important: true), runtimeDir));
            }
            finally { Libc.close(fd); }
        }
    }

    public void Flush(TimeSpan timeout)
    {
        Err.Flush(timeout);
        if (Out != Err) Out.Flush(timeout);
    }

    /// <summary>A private close-on-exec copy of <paramref name="fd"/> when it is an output this process was given, else -1.</summary>
    private static int Own(int fd) =>
        StandardStreams.IsWritableOutput(fd) ? Libc.fcntl(fd, Libc.F_DUPFD_CLOEXEC, 3) : -1;
}
