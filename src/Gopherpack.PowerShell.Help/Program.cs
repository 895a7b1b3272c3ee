using System.Reflection;
using Gopherpack.PowerShell.Help;

// gopherpack-help MODULE.dll OUTPUT.xml REFERENCES.txt
// REFERENCES.txt: the assemblies the module was compiled against, one path a line (the PowerShell reference stub among them).
if (args.Length != 3)
{
    Console.Error.WriteLine("usage: Gopherpack.PowerShell.Help MODULE.dll OUTPUT-Help.xml REFERENCES.txt");
    return 2;
}
var (module, output, references) = (Path.GetFullPath(args[0]), Path.GetFullPath(args[1]), args[2]);
var paths = File.ReadAllLines(references).Where(l => l.Length > 0).Append(module).Distinct();
using var context = new MetadataLoadContext(new PathAssemblyResolver(paths));
try
{
    var cmdlets = CmdletDocReader.Read(context.LoadFromAssemblyPath(module));
    Directory.CreateDirectory(Path.GetDirectoryName(output)!);
    MamlWriter.Write(cmdlets).Save(output);
    Console.WriteLine($"{output}: help for {string.Join(", ", cmdlets.Select(c => c.Name))}");
    return 0;
}
catch (InvalidOperationException e)
{
    Console.Error.WriteLine($"{module}: error GPHELP1: {e.Message}");
    return 1;
}
