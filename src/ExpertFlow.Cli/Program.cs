using System.CommandLine;
using ExpertFlow.Cli;
using Toolkit.Cli;

var root = new RootCommand("expertflow: Mixture-of-Experts LLM inference with experts offloaded to host memory and cached on the GPU.");
root.Subcommands.Add(DoctorCommand.Create());
root.Subcommands.Add(GenerateCommand.Create());
root.Subcommands.Add(ChatCommand.Create());
root.Subcommands.Add(ServeCommand.Create());
root.Subcommands.Add(BenchServeCommand.Create());
root.Subcommands.Add(BenchRuntimeCommand.Create());
root.Subcommands.Add(BenchCommand.Create());
root.Subcommands.Add(TrainDemoCommand.Create());
root.Subcommands.Add(EvalDemoCommand.Create());
root.Subcommands.Add(PredictorCommands.Trace());
root.Subcommands.Add(PredictorCommands.Train());
root.Subcommands.Add(PredictorCommands.Evaluate());
root.Subcommands.Add(EvalCacheCommand.Create());
return CliApp.Run(root, args);
