using Gopherpack.Linux;

namespace Gopherpack.Output;

/// <summary>
/// Tells whether fd 1 or 2 is an output the master was given. When a shell starts the master with
/// <c>2&gt;&amp;-</c>, the .NET runtime's first open() takes that number (one end of an internal pipe, a memfd,
/// a socket): writing there would fail or, worse, corrupt the runtime. Such an fd is treated as closed.
/// </summary>
internal static class StandardStreams
{
    public static bool IsWritableOutput(int fd)
    {
        var flags = Libc.fcntl(fd, Libc.F_GETFL, 0);
        if (flags < 0 || (flags & Libc.O_ACCMODE) == Libc.O_RDONLY) return false;
        if (FileType.Of(fd) is not { } info) return false;
        var target = Link(fd);
        return info.Type switch
        {
            FileType.IfFifo => target is not null && !ProcessReadsPipe(fd, target),
            FileType.IfSock => !Libc.IsListeningSocket(fd),
            FileType.IfReg => target is not null && !target.StartsWith("/memfd:", StringComparison.Ordinal),
            FileType.IfChr => true,
            _ => false,
        };
    }

    /// <summary>The path of a regular file open at <paramref name="fd"/>, or null (deleted, not a file).</summary>
    public static string? FilePath(int fd) =>
        Link(fd) is { } path && path.StartsWith('/') && !path.EndsWith(" (deleted)", StringComparison.Ordinal) ? path : null;

    private static string? Link(int fd)
    {
        try { return new FileInfo($"/proc/self/fd/{fd}").LinkTarget; }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
    }

    /// <summary>True when this process holds a read end of the same pipe: then it is a pipe of its own, not an output.</summary>
    private static bool ProcessReadsPipe(int fd, string pipe)
    {
        foreach (var entry in Directory.EnumerateFileSystemEntries("/proc/self/fd"))
        {
            if (!int.TryParse(Path.GetFileName(entry), out var other) || other == fd || Link(other) != pipe) continue;
            var flags = Libc.fcntl(other, Libc.F_GETFL, 0);
            if (flags >= 0 && (flags & Libc.O_ACCMODE) == Libc.O_RDONLY) return true;
        }
        return false;
    }
}
