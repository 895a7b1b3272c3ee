using System.Runtime.InteropServices;
using System.Text;

namespace Gopherpack.Linux;

/// <summary>realpath(3): the path with every symlink in it resolved (.NET only resolves the last component).</summary>
internal static unsafe class RealPath
{
    /// <exception cref="IOException">It cannot be resolved.</exception>
    public static string Of(string path)
    {
        var bytes = Encoding.UTF8.GetBytes(path + "\0");
        byte* resolved;
        fixed (byte* p = bytes) resolved = Libc.realpath(p, null);
        if (resolved is null) throw new IOException($"cannot resolve {path}: {Libc.Error(Marshal.GetLastPInvokeError())}");
        try { return Marshal.PtrToStringUTF8((nint)resolved)!; }
        finally { Libc.free(resolved); }
    }
}
