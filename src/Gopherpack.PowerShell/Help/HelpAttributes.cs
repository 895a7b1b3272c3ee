namespace Gopherpack.PowerShell;

/// <summary>
/// The help text of a cmdlet that its metadata cannot say. The MAML help file is generated from these and the
/// cmdlet's own attributes at build time (src/Gopherpack.PowerShell.Help), so help and code cannot drift apart.
/// </summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class CmdletHelpAttribute(string synopsis, string description) : Attribute
{
    public string Synopsis { get; } = synopsis;
    public string Description { get; } = description;
}

/// <summary>One example of the cmdlet's help: the code as a user types it, and what it does.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true)]
public sealed class HelpExampleAttribute(string code, string remarks) : Attribute
{
    public string Code { get; } = code;
    public string Remarks { get; } = remarks;
}
