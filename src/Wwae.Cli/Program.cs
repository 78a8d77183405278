using System.CommandLine;
using Toolkit.Cli;
using Wwae.Cli;

var root = new RootCommand("wwae: Wasserstein-Wasserstein auto-encoders (closed-form W2 latent penalty) with VAE, beta-VAE, WAE-MMD and WAE-GAN baselines.");
root.Subcommands.Add(TrainCommand.Train());
root.Subcommands.Add(TrainCommand.Compare());
root.Subcommands.Add(SampleCommand.Create());
root.Subcommands.Add(EvalCommand.Create());
root.Subcommands.Add(ClassifierCommand.Create());
root.Subcommands.Add(BenchCommand.Create());
root.Subcommands.Add(InceptionCheckCommand.Create());
root.Subcommands.Add(ReportCommand.Create());
root.Subcommands.Add(W2BiasCommand.Create());
return CliApp.Run(root, args);
