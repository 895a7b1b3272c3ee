using System.Globalization;
using System.Text;
using Gopherpack.Manifest;

namespace Gopherpack.Master;

/// <summary>
/// How a worker becomes the manifest's account: util-linux setpriv, between the spawner and the worker's
/// trampoline, sets uid, gid and supplementary groups, drops every capability and sets no_new_privs; the
/// trampoline (sh, now the account) then checks that the account can reach what the worker needs.
/// </summary>
internal static class WorkerIdentity
{
    /// <summary>
    /// The supplementary groups are initgroups(user, group), as systemd's User=/Group= give them: setpriv's
    /// --init-groups would use the passwd primary group even when the manifest names another <c>group</c>.
    /// </summary>
    public static string[] SetprivOptions(WorkerAccount account) =>
    [
        "--reuid", account.Uid.ToString(CultureInfo.InvariantCulture),
        "--regid", account.Gid.ToString(CultureInfo.InvariantCulture),
        "--groups", string.Join(',', Linux.UnixAccounts.GroupList(account.User, account.Gid).Select(g => g.ToString(CultureInfo.InvariantCulture))),
        "--inh-caps=-all",
        "--bounding-set=-all",
        "--no-new-privs",
    ];

    /// <summary>
    /// Shell lines that run as the account, with $0 the working directory and $1 the command: each failure writes
    /// <paramref name="prefix"/> and the reason, naming the path, to stderr and exits <paramref name="code"/>, so the
    /// master fails the start (or the reload) with that reason instead of restarting a worker that cannot work.
    /// </summary>
    public static string CheckingScript(WorkerAccount account, PackManifest manifest, string prefix, int code)
    {
        var who = Quote($"user {account.User} (uid {account.Uid}, gid {account.Gid})");
        var script = new StringBuilder();
        script.Append($"fail() {{ echo \"{prefix}\"{who}\" $1\" >&2; exit {code}; }}; ");
        script.Append("cd -- \"$0\" 2>/dev/null && [ -r . ] || fail \"cannot enter or read the working directory $0\"; ");
        script.Append("[ -x \"$1\" ] || fail \"cannot execute the command $1\"; ");
        script.Append("[ -w \"$NOTIFY_SOCKET\" ] || fail \"cannot reach the notify socket $NOTIFY_SOCKET (every folder above it must be searchable by the account: choose such a --runtime-dir)\"; ");
        foreach (var tls in manifest.Listeners.Select(l => l.Tls).OfType<TlsSpec>())
            foreach (var (what, path) in new[] { ("TLS certificate", tls.Certificate), ("TLS key", tls.Key) })
                script.Append($"[ -r {Quote(path)} ] || fail {Quote($"cannot read the {what} {path}")}; ");
        // An argument naming an existing file (the app of `command: python3`, `args: [app.py]`) must be readable too;
        // checked after the cd, so a relative one is taken from the working directory as the worker takes it.
        foreach (var arg in manifest.Args.Distinct().Where(a => !a.StartsWith('-') && File.Exists(Path.Combine(manifest.WorkingDirectory, a))))
            script.Append($"[ -r {Quote(arg)} ] || fail {Quote($"cannot read the file {arg} (an argument of the command)")}; ");
        return script.ToString();
    }

    /// <summary>One single-quoted shell word.</summary>
    private static string Quote(string text) => "'" + text.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
