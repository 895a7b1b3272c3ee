using System.Runtime.InteropServices;
using System.Text;

namespace Gopherpack.Linux;

/// <summary>An entry of the user database (passwd, through NSS: files, LDAP, systemd-userdb alike).</summary>
internal sealed record UnixAccount(string Name, uint Uid, uint Gid, string Home, string Shell);

/// <summary>Looks up users and groups with getpwnam_r/getpwuid_r/getgrnam_r/getgrgid_r.</summary>
internal static unsafe class UnixAccounts
{
    private const int MaxBuffer = 1 << 20;

    public static UnixAccount? User(string name) => LookUpUser(name, 0);
    public static UnixAccount? User(uint uid) => LookUpUser(null, uid);

    /// <summary>The group's gid, or null if there is no such group.</summary>
    public static uint? Group(string name) => LookUpGroup(name, 0)?.Gid;
    /// <summary>The group's name, or null if there is no such group.</summary>
    public static string? GroupName(uint gid) => LookUpGroup(null, gid)?.Name;

    public static uint EffectiveUid => Libc.geteuid();
    public static uint EffectiveGid => Libc.getegid();

    private static UnixAccount? LookUpUser(string? name, uint uid)
    {
        for (var size = 1024; size <= MaxBuffer; size *= 4)
        {
            var buffer = new byte[size];
            Libc.Passwd entry;
            Libc.Passwd* result = null;
            int error;
            fixed (byte* b = buffer)
            {
                if (name is null) error = Libc.getpwuid_r(uid, &entry, b, size, &result);
                else fixed (byte* n = Encode(name)) error = Libc.getpwnam_r(n, &entry, b, size, &result);
                if (error == Libc.ERANGE) continue;
                if (error != 0 || result is null) return null;
                return new UnixAccount(Decode(entry.Name), entry.Uid, entry.Gid, Decode(entry.Home), Decode(entry.Shell));
            }
        }
        return null;
    }

    private static (string Name, uint Gid)? LookUpGroup(string? name, uint gid)
    {
        for (var size = 1024; size <= MaxBuffer; size *= 4)
        {
            var buffer = new byte[size];
            Libc.Group entry;
            Libc.Group* result = null;
            int error;
            fixed (byte* b = buffer)
            {
                if (name is null) error = Libc.getgrgid_r(gid, &entry, b, size, &result);
                else fixed (byte* n = Encode(name)) error = Libc.getgrnam_r(n, &entry, b, size, &result);
                if (error == Libc.ERANGE) continue;
                if (error != 0 || result is null) return null;
                return (Decode(entry.Name), entry.Gid);
            }
        }
        return null;
    }

    /// <summary>
    /// The groups <paramref name="user"/> is a member of in the group database, with <paramref name="group"/> (its primary
    /// group: the manifest's <c>group</c> or the passwd one) first, as initgroups(user, group) gives them.
    /// </summary>
    public static IReadOnlyList<uint> GroupList(string user, uint group)
    {
        var count = 64;
        fixed (byte* name = Encode(user))
            while (true)
            {
                var groups = new uint[count];
                var found = count;
                fixed (uint* g = groups)
                    if (Libc.getgrouplist(name, group, g, &found) >= 0) return groups.Take(found).ToList();
                if (found <= count) count *= 2;
                else count = found;
                if (count > 1 << 16) return [group];
            }
    }

    /// <summary>Changes the owner of a file (a unix socket the account must reach).</summary>
    /// <exception cref="IOException">chown failed.</exception>
    public static void Chown(string path, uint uid, uint gid)
    {
        fixed (byte* p = Encode(path))
            if (Libc.chown(p, uid, gid) != 0)
                throw new IOException($"cannot give {path} to uid {uid} gid {gid}: {Libc.Error(Marshal.GetLastPInvokeError())}");
    }

    private static byte[] Encode(string text) => Encoding.UTF8.GetBytes(text + "\0");
    private static string Decode(byte* text) => text is null ? "" : Marshal.PtrToStringUTF8((nint)text) ?? "";
}
