using System.IO.Pipes;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Gopherpack.Linux;

/// <summary>A pipe whose both ends are close-on-exec in the master; the spawner dup2s the child's end into place.</summary>
internal sealed unsafe class UnixPipe : IDisposable
{
    public int ReadFd { get; private set; }
    public int WriteFd { get; private set; }

    public UnixPipe()
    {
        var fds = stackalloc int[2];
        if (Libc.pipe2(fds, Libc.O_CLOEXEC) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw new IOException("pipe2: " + Libc.Error(errno), errno); // HResult: the errno (EMFILE, ENFILE...)
        }
        ReadFd = fds[0];
        WriteFd = fds[1];
    }

    /// <summary>Takes the read end as a stream (async reads go through epoll); the pipe no longer owns it.</summary>
    public Stream TakeReader()
    {
        var stream = new AnonymousPipeClientStream(PipeDirection.In, new SafePipeHandle(ReadFd, ownsHandle: true));
        ReadFd = -1;
        return stream;
    }

    public void CloseWrite() => Close(WriteFd, () => WriteFd = -1);

    public void CloseRead() => Close(ReadFd, () => ReadFd = -1);

    private static void Close(int fd, Action forget)
    {
        if (fd >= 0) Libc.close(fd);
        forget();
    }

    public void Dispose()
    {
        CloseRead();
        CloseWrite();
    }
}
