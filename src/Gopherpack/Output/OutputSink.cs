using System.Runtime.InteropServices;
using System.Text;
using Gopherpack.Linux;

namespace Gopherpack.Output;

/// <summary>
/// One of the master's outputs (stdout, stderr, or both when they are the same file). Writers only
/// enqueue whole lines into a bounded buffer and never wait; a dedicated thread writes them out. When the
/// reader is slow or gone the buffer fills and further lines are dropped and counted; a note with the
/// count is written once the output moves again. The master's event loop can therefore never block on it.
/// </summary>
internal sealed class OutputSink
{
    /// <summary>Bytes a worker line may take of the buffer; the master's own log lines may use twice as much.</summary>
    public const int DefaultCapacity = 1024 * 1024;
    /// <summary>How often (in bytes written) the log's size is checked: a 16th of its bound, between 4 and 256 KiB, so it overshoots by little.</summary>
    private static long RotationCheckEvery(LogRotation rotation) => Math.Clamp(rotation.MaxBytes / 16, 4 * 1024, 256 * 1024);
    /// <summary>The writer thread ends after this long with nothing to write and is started again by the next line,
    /// so a process that hosted a master (a PowerShell session running Start-Pack -Wait) keeps no thread of ours.</summary>
    private static readonly TimeSpan WriterIdleExit = TimeSpan.FromSeconds(1);

    private readonly object _gate = new();
    private readonly Queue<byte[]> _queue = new();
    private readonly long _capacity;
    private readonly string _name;

    /// <summary>Formats the sink's own notices (dropped lines, a log file reopened) as a line: text by default, JSON with <c>logs.format: json</c>.</summary>
    public Func<string, string> Notice { get; set; } = text => "gopherpack: " + text;
    private long _queuedBytes;
    private long _dropped;
    private long _droppedUnreported;
    private int _fd;
    private bool _broken;
    private bool _writerRunning;
    private LogRotation? _rotation;
    private long _writtenSinceCheck = long.MaxValue / 2;
    private long _lastCheckTicks;
    /// <summary>A quiet log is checked at least this often (when it is written to) for having been deleted.</summary>
    private const long DetachCheckMs = 1000;

    /// <param name="fd">The fd to write to (the sink owns it), or -1 for an output that is closed.</param>
    public OutputSink(int fd, string name, long capacity = DefaultCapacity)
    {
        _fd = fd;
        _name = name;
        _capacity = capacity;
        _broken = fd < 0;
    }

    /// <summary>The output is a terminal (the master runs in the foreground of one).</summary>
    public bool IsTerminal => _fd >= 0 && Libc.isatty(_fd) == 1;

    /// <summary>Lines dropped since start because the output was too slow, full or closed.</summary>
    public long DroppedLines => Interlocked.Read(ref _dropped);

    /// <summary>Queues <paramref name="prefix"/> + <paramref name="line"/> + newline; false (and counted) when it had to be dropped.</summary>
    /// <param name="important">The master's own log lines: they may use a reserve that worker output cannot.</param>
    public bool TryWrite(ReadOnlySpan<byte> prefix, ReadOnlySpan<byte> line, bool important = false)
    {
        var length = prefix.Length + line.Length + 1;
        lock (_gate)
        {
            if (_broken || _queuedBytes + length > (important ? 2 * _capacity : _capacity))
            {
                _dropped++;
                _droppedUnreported++;
                return false;
            }
            var bytes = new byte[length];
            prefix.CopyTo(bytes);
            line.CopyTo(bytes.AsSpan(prefix.Length));
            bytes[^1] = (byte)'\n';
            _queue.Enqueue(bytes);
            _queuedBytes += length;
            if (!_writerRunning)
            {
                _writerRunning = true;
                new Thread(WriteLoop) { IsBackground = true, Name = $"gopherpack-{_name}" }.Start();
            }
            else if (_queue.Count == 1) Monitor.PulseAll(_gate);
        }
        return true;
    }

    public bool TryWrite(string line, bool important = false) => TryWrite([], Encoding.UTF8.GetBytes(line), important);

    /// <summary>Waits (bounded) until what is queued has been written, e.g. the last log lines before the master exits.</summary>
    public void Flush(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        lock (_gate)
        {
            while (!_broken && _queuedBytes > 0)
            {
                var left = deadline - DateTime.UtcNow;
                if (left <= TimeSpan.Zero || !Monitor.Wait(_gate, left)) return;
            }
        }
    }

    /// <summary>Rotates the file behind this sink once it is over the rotation's size (see <see cref="LogRotation"/>).</summary>
    internal void RotateWith(LogRotation rotation)
    {
        lock (_gate)
        {
            _rotation = rotation;
            _writtenSinceCheck = long.MaxValue / 2;
        }
    }

    private void WriteLoop()
    {
        while (true)
        {
            byte[] next;
            long unreported;
            lock (_gate)
            {
                while (_queue.Count == 0)
                {
                    if (!Monitor.Wait(_gate, WriterIdleExit) && _queue.Count == 0)
                    {
                        _writerRunning = false;
                        return;
                    }
                }
                next = _queue.Peek();
                unreported = _droppedUnreported;
                _droppedUnreported = 0;
            }
            if (unreported > 0)
                Write(Encoding.UTF8.GetBytes(Notice($"{unreported} line(s) of output dropped ({_name} was too slow or full)") + "\n"));
            var written = Write(next);
            lock (_gate)
            {
                _queue.Dequeue();
                _queuedBytes -= next.Length;
                if (!written)
                {
                    _broken = true;
                    _dropped += _queue.Count;
                    _queue.Clear();
                    _queuedBytes = 0;
                }
                Monitor.PulseAll(_gate);
                if (_broken)
                {
                    _writerRunning = false;
                    return;
                }
            }
            MaybeRotate(next.Length);
        }
    }

    /// <returns>False when the output is gone for good (EPIPE, EBADF...); a line that failed for another reason (disk full) is dropped.</returns>
    private unsafe bool Write(byte[] bytes)
    {
        var offset = 0;
        fixed (byte* start = bytes)
        {
            while (offset < bytes.Length)
            {
                var n = Libc.write(_fd, start + offset, bytes.Length - offset);
                if (n >= 0)
                {
                    offset += (int)n;
                    continue;
                }
                var errno = Marshal.GetLastPInvokeError();
                if (errno == Libc.EINTR) continue;
                if (errno == Libc.EAGAIN)
                {
                    var poll = new Libc.PollFd { Fd = _fd, Events = Libc.POLLOUT };
                    Libc.poll(&poll, 1, 1000);
                    continue;
                }
                if (errno is 28 or 122) // ENOSPC, EDQUOT: this line is lost, later ones may fit
                {
                    Interlocked.Increment(ref _dropped);
                    return true;
                }
                return false;
            }
        }
        return true;
    }

    private void MaybeRotate(int written)
    {
        _writtenSinceCheck += written;
        LogRotation? rotation;
        lock (_gate) rotation = _rotation;
        if (rotation is null) return;
        var now = Environment.TickCount64;
        if (_writtenSinceCheck < RotationCheckEvery(rotation) && now - _lastCheckTicks < DetachCheckMs) return;
        _writtenSinceCheck = 0;
        _lastCheckTicks = now;
        if (rotation.IsDetached(_fd)) rotation.ReopenDetached(_fd);
        else if (rotation.IsDue(_fd)) rotation.Rotate(_fd);
    }
}
