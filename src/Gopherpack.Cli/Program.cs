using System.CommandLine;
using Gopherpack.Cli;

return await GopherpackCommand.RunAsync(args);
