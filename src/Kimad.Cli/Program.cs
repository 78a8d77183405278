using System.CommandLine;
using Kimad.Cli;
using Toolkit.Cli;

var root = new RootCommand("kimad: data-parallel training over gRPC with gradient compression that follows the measured bandwidth (EF21, Kimad, Kimad+).");
root.Subcommands.Add(AllocateCommand.Create());
root.Subcommands.Add(ServerCommand.Create());
root.Subcommands.Add(WorkerCommand.Create());
root.Subcommands.Add(LaunchCommand.Create());
root.Subcommands.Add(CompareCommand.Create());
root.Subcommands.Add(SummarizeCommand.Create());
root.Subcommands.Add(CertCommand.Create());
root.Subcommands.Add(BenchCommand.Create());
return CliApp.Run(root, args);
