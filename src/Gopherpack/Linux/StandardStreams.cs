namespace Gopherpack.Linux;

/// <summary>
/// A program started with stdout or stderr closed (<c>gopherpack start app.yml &gt;&amp;- 2&gt;&amp;-</c>) treats it as
/// /dev/null, as daemons do, instead of failing on its first write. The .NET runtime may already have opened a
/// file of its own (read-only) at the lowest free fd before Main runs: such an fd is left alone and the console
/// writer, not the fd, goes to nowhere.
/// </summary>
public static unsafe class StandardStreams
{
    public static void TreatClosedAsDevNull()
    {
        for (var fd = 0; fd <= 2; fd++)
        {
            var flags = Libc.fcntl_int(fd, Libc.F_GETFL, 0);
            if (flags < 0)
            {
                int opened;
                fixed (byte* path = "/dev/null\0"u8) opened = Libc.open(path, (fd == 0 ? Libc.O_RDONLY : Libc.O_WRONLY), 0);
                if (opened >= 0 && opened != fd)
                {
                    Libc.dup3(opened, fd, 0);
                    Libc.close(opened);
                }
                if (opened >= 0) continue;
            }
            else if (fd == 0 || (flags & Libc.O_ACCMODE) != Libc.O_RDONLY) continue;
            if (fd == 1) Console.SetOut(TextWriter.Null);
            if (fd == 2) Console.SetError(TextWriter.Null);
        }
    }
}
