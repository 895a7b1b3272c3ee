using System.CommandLine;
using Gopherpack.Cli;

// Before anything touches Console: a closed stdout or stderr reads as /dev/null.
Gopherpack.Linux.StandardStreams.TreatClosedAsDevNull();
return await GopherpackCommand.RunAsync(args);
