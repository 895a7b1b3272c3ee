using System.Globalization;
using Gopherpack.Linux;
using YamlDotNet.RepresentationModel;

namespace Gopherpack.Manifest;

/// <summary>
/// Reads <c>user: NAME|UID</c> and <c>group: NAME|GID</c>: the account must exist, and a master that is not root
/// may only name its own (it cannot change its workers' identity).
/// </summary>
internal static class WorkerAccountReader
{
    public static WorkerAccount? Read(YamlNodeReader r, YamlNode? userNode, YamlNode? groupNode)
    {
        if (userNode is null)
        {
            if (groupNode is not null) r.Error(groupNode, "'group' needs 'user': name the account workers run as");
            return null;
        }
        var userText = r.NonEmptyString(userNode, "user");
        var account = userText is null ? null : IsNumber(userText, out var uid) ? UnixAccounts.User(uid) : UnixAccounts.User(userText);
        if (userText is not null && account is null)
            r.Error(userNode, IsNumber(userText, out _)
                ? $"'user': no account has uid {userText} in the user database (getent passwd {userText})"
                : $"'user': no account named '{userText}' in the user database (getent passwd {userText})");
        // The group is checked even when the user is not, so validate reports both.
        var group = groupNode is null ? null : ReadGroup(r, groupNode);
        if (account is null || userText is null || (groupNode is not null && group is null)) return null;
        var gid = group ?? account.Gid;
        var masterUid = UnixAccounts.EffectiveUid;
        var otherUser = masterUid != 0 && account.Uid != masterUid;
        var otherGroup = masterUid != 0 && groupNode is not null && gid != UnixAccounts.EffectiveGid;
        if (otherUser)
            r.Error(userNode, $"'user: {userText}' (uid {account.Uid}) needs a master running as root; this one runs as uid {masterUid} "
                + "and can only run workers as itself (start the master as root, or remove 'user')");
        if (otherGroup)
            r.Error(groupNode!, $"'group' (gid {gid}) needs a master running as root; this one runs as gid {UnixAccounts.EffectiveGid}");
        if (otherUser || otherGroup) return null;
        return new WorkerAccount(account.Name, account.Uid, gid, UnixAccounts.GroupName(gid) ?? gid.ToString(CultureInfo.InvariantCulture), account.Home, account.Shell);
    }

    private static uint? ReadGroup(YamlNodeReader r, YamlNode groupNode)
    {
        var groupText = r.NonEmptyString(groupNode, "group");
        if (groupText is null) return null;
        uint? found = IsNumber(groupText, out var number) ? UnixAccounts.GroupName(number) is null ? null : number : UnixAccounts.Group(groupText);
        if (found is null) r.Error(groupNode, $"'group': no group '{groupText}' in the group database (getent group {groupText})");
        return found;
    }

    private static bool IsNumber(string text, out uint value) =>
        text.All(char.IsAsciiDigit) & uint.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value);
}
