using System.Diagnostics;
using Kimad.Compression;
using Kimad.ErrorFeedback;
using Kimad.Tasks;
using Microsoft.Extensions.Logging;

namespace Kimad.Training;

/// <summary>A request the server refuses; the reason goes back to the peer and into the log.</summary>
public sealed class RejectedException(string reason) : Exception(reason);

/// <summary>What a worker reports with its uplink message (rates in bit/s, as the worker estimates them), and
/// ServerUplinkBps: the server's own estimate of this worker's uplink from timing its pushes (null: unknown).</summary>
public sealed record PushReport(double Loss, double UplinkBps, double DownlinkBps, float[] Ratios, double ComputeMs, double? ServerUplinkBps = null);

/// <summary>The downlink of a round for one worker: either a compressed delta C(x - w_i) or the full state (w_i = x, and g_i).</summary>
public sealed record PullResult(long Round, byte[] Data, bool FullState);

/// <summary>
/// The synchronous-round state machine of the parameter server, independent of the transport.
/// <para>Policy for dead or stalled workers: a round waits for every live worker until
/// <see cref="ServerOptions.RoundTimeout"/>; then it completes with the workers that pushed, and the missing
/// ones are marked dead (not waited for). The step averages g_i over the workers that pushed in this round.
/// A dead worker rejoins by pulling again (or by calling Join after a restart): it then receives the full state
/// (its model copy w_i, reset to x, and its own g_i as the server holds it) and is waited for again from that round on.</para>
/// <para>Checkpoint (when configured): after every completed round, before the next one opens. On resume all
/// workers receive the full state; no completed round is lost.</para>
/// </summary>
public sealed class RoundCoordinator
{
    readonly object gate = new();
    readonly ITrainingTask task;
    readonly ServerOptions options;
    readonly ILogger log;
    readonly Ef21Server ef;
    readonly string downlinkSpec;
    readonly Dictionary<int, CompressionMethod> downlinkMethods = [];   // one per worker: each link is its own sender
    readonly Random random;
    readonly float learningRate;
    readonly string[] layerNames;
    readonly long maxUplinkBytes;
    readonly HashSet<int> joined = [], alive = [], inSync = [], pulled = [], pushed = [];
    readonly Dictionary<int, PushReport> reports = [];
    readonly Dictionary<int, float[][]> roundMessages = [];   // gradient exchange: this round's decoded c_i
    byte[]? broadcast;                                         // gradient exchange: the last round's update of g
    bool draining;                                             // gradient exchange: the extra round that delivers the last update
    readonly Dictionary<int, double> lastDownlinkBps = [], serverTimedUplinkBps = [];
    readonly CommunicationBudget budgetRule;
    readonly List<RoundMetrics> metrics = [];
    readonly Stopwatch sinceStart = Stopwatch.StartNew();
    readonly Stopwatch trainClock = new();
    TaskCompletionSource changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    long round = -1, startRound;
    readonly Dictionary<int, byte[]> downlinks = [];
    readonly Dictionary<int, double[]> downlinkRatios = [];
    DateTime openedAt;
    double wallOffset;
    long bytesUp, bytesDown;
    bool finished;

    public RoundCoordinator(ITrainingTask task, ServerOptions options, ILogger log)
    {
        this.task = task;
        this.options = options;
        this.log = log;
        random = new Random(options.Seed + 7);
        learningRate = options.LearningRate ?? task.DefaultLearningRate;
        budgetRule = new CommunicationBudget(options.TimeBudgetMs, options.CommRatio);
        downlinkSpec = CompressionMethod.DownlinkSpec(options.DownlinkMethod ?? options.Method);
        CompressionMethod.Parse(downlinkSpec, options.Discretization, options.Levels);
        layerNames = task.LayerNames.ToArray();
        maxUplinkBytes = task.LayerLengths.Sum(n => (long)Math.Max(new IdentityCompressor().WireBytes(n), TopKCompressor.SparseWireBytes(n)));
        ef = new Ef21Server(task.InitialParameters());
        if (options.Resume && options.CheckpointPath is { } path && File.Exists(path))
        {
            var ck = ServerCheckpoint.Load(path);
            if (ck.ModelVersion != ModelVersion)
                throw new InvalidDataException($"checkpoint '{path}' is for model '{ck.ModelVersion}', this server trains '{ModelVersion}'");
            ef.Restore(ck.X, ck.W, ck.G);
            startRound = ck.NextRound;
            wallOffset = ck.WallSeconds;
            bytesUp = ck.BytesUp; bytesDown = ck.BytesDown;
            if (options.MetricsDirectory is { } dir && File.Exists(Path.Combine(dir, "metrics.json")))
                metrics.AddRange(MetricsFiles.Read(dir).Where(m => m.Round < startRound));
            log.LogInformation("resumed from checkpoint {Path}: next round {Round}, {Workers} workers' EF21 state", path, startRound, ck.G.Count);
        }
    }

    public string ModelVersion => task.ModelVersion;
    public long MaxUplinkBytes => Math.Min(maxUplinkBytes, options.MaxMessageBytes);
    public bool Finished { get { lock (gate) return finished; } }
    public long CurrentRound { get { lock (gate) return round; } }
    public IReadOnlyList<RoundMetrics> Metrics { get { lock (gate) return metrics.ToList(); } }
    public Ef21Server State => ef;

    /// <summary>Called (under the coordinator's lock) after each round's metrics row is added and before its checkpoint,
    /// so a restarted server finds every checkpointed round in the metrics file.</summary>
    public Action<IReadOnlyList<RoundMetrics>>? RoundClosed { get; set; }

    /// <summary>Registers a worker (first time or after a restart on either side); its next pull gets the full state.</summary>
    public long Join(int worker, string modelVersion)
    {
        if (worker < 0) throw new RejectedException($"worker id {worker} is negative");
        if (modelVersion != ModelVersion) throw new RejectedException($"worker {worker} trains model '{modelVersion}', this server trains '{ModelVersion}'");
        lock (gate)
        {
            bool again = !joined.Add(worker);
            alive.Add(worker);
            inSync.Remove(worker);
            ef.WorkerState(worker);
            log.LogInformation("worker {Worker} {What} ({Count} joined, round {Round})", worker, again ? "rejoined" : "joined", joined.Count, round);
            Signal();
            return Math.Max(round, startRound);
        }
    }

    /// <summary>Waits until round <paramref name="wanted"/> (or a later one) is open, training finished, or the wait times out.</summary>
    public async Task<(long OpenRound, bool Finished)> WaitRoundAsync(long wanted, TimeSpan maxWait, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + maxWait;
        while (true)
        {
            Task signal;
            lock (gate)
            {
                if (finished || round >= wanted) return (round, finished);
                signal = changed.Task;
            }
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero) lock (gate) return (round, finished);
            await Task.WhenAny(signal, Task.Delay(left, ct)).ConfigureAwait(false);
            ct.ThrowIfCancellationRequested();
        }
    }

    /// <summary>The downlink of the open round for a worker; the full state unless the worker applied the previous round.</summary>
    public PullResult Pull(int worker, long wantedRound, long haveRound)
    {
        lock (gate)
        {
            if (!joined.Contains(worker)) throw new RejectedException($"worker {worker} pulled without joining");
            if (finished) throw new RejectedException("training has finished");
            if (wantedRound != round) throw new RejectedException($"worker {worker} pulled round {wantedRound}, open round is {round}");
            if (!alive.Contains(worker))
            {
                alive.Add(worker);
                log.LogInformation("worker {Worker} is back in round {Round}", worker, round);
            }
            bool full = !(inSync.Contains(worker) && haveRound == round - 1 && downlinks.ContainsKey(worker));
            byte[] data = full ? FullState(worker) : downlinks[worker];
            inSync.Add(worker);
            pulled.Add(worker);
            bytesDown += data.Length;
            if (draining && alive.IsSubsetOf(pulled)) Finish();
            return new PullResult(round, data, full);
        }
    }

    byte[] FullState(int worker)
    {
        downlinks.Remove(worker);
        var layers = ef.SyncWorkerModel(worker).Concat(ef.WorkerState(worker)).ToArray();
        return ModelCodec.Encode(layers, layers.Select(_ => (ICompressor)new IdentityCompressor()).ToArray(), random);
    }

    /// <summary>Accepts a worker's uplink message for the open round (or throws <see cref="RejectedException"/>).</summary>
    public void Push(int worker, long pushRound, string modelVersion, byte[] data, PushReport report)
    {
        lock (gate)
        {
            if (finished || draining) throw new RejectedException("training has finished");
            if (modelVersion != ModelVersion) throw new RejectedException($"worker {worker} sent a message for model '{modelVersion}', this server trains '{ModelVersion}'");
            if (!joined.Contains(worker)) throw new RejectedException($"worker {worker} pushed without joining");
            if (pushRound != round) throw new RejectedException($"worker {worker} pushed for round {pushRound}, open round is {round} (late or early)");
            if (!pulled.Contains(worker)) throw new RejectedException($"worker {worker} pushed round {round} without pulling it");
            if (!pushed.Add(worker)) throw new RejectedException($"worker {worker} pushed round {round} twice");
            try
            {
                var c = ef.ApplyUplink(worker, data, layerNames);
                if (options.GradientExchange) roundMessages[worker] = c;
            }
            catch (InvalidDataException e)
            {
                pushed.Remove(worker);
                throw new RejectedException($"worker {worker}: {e.Message}");
            }
            bytesUp += data.Length;
            reports[worker] = report;
            if (report.DownlinkBps > 0) lastDownlinkBps[worker] = report.DownlinkBps;
            if (report.ServerUplinkBps is > 0) serverTimedUplinkBps[worker] = report.ServerUplinkBps.Value;
            if (alive.IsSubsetOf(pushed)) CloseRound();
        }
    }

    /// <summary>Starts the first round when enough workers joined; enforces round deadlines. Call periodically.</summary>
    public void Tick()
    {
        lock (gate)
        {
            if (finished) return;
            if (round < 0)
            {
                bool enough = joined.Count >= options.ExpectedWorkers || (joined.Count > 0 && sinceStart.Elapsed > options.StartTimeout);
                if (enough)
                {
                    if (joined.Count < options.ExpectedWorkers)
                        log.LogWarning("starting with {Joined} of {Expected} workers after {Timeout}", joined.Count, options.ExpectedWorkers, options.StartTimeout);
                    trainClock.Start();
                    if (startRound >= options.Rounds) { finished = true; Signal(); return; }
                    OpenRound(startRound);
                }
                return;
            }
            if (DateTime.UtcNow - openedAt < options.RoundTimeout) return;
            if (draining) { Finish(); return; }
            var missing = alive.Where(w => !pushed.Contains(w)).Order().ToList();
            foreach (int w in missing)
            {
                alive.Remove(w);
                log.LogWarning("worker {Worker} missed the round {Round} deadline ({Timeout:0.0} s): marked dead; the round completes with the others; it can rejoin",
                    w, round, options.RoundTimeout.TotalSeconds);
            }
            if (pushed.Count > 0) CloseRound();
            else
            {
                openedAt = DateTime.UtcNow;
                log.LogWarning("round {Round}: no worker pushed before the deadline; waiting for workers to (re)join", round);
            }
        }
    }

    void CloseRound()
    {
        double roundMs = (DateTime.UtcNow - openedAt).TotalMilliseconds;
        if (options.GradientExchange)
        {
            broadcast = ef.AggregateUplinks(roundMessages, Math.Max(options.ExpectedWorkers, joined.Count));
            roundMessages.Clear();
        }
        else ef.Step(pushed, learningRate);
        double trainLoss = pushed.Average(w => reports[w].Loss);
        double wall = wallOffset + trainClock.Elapsed.TotalSeconds;
        Evaluation? eval = null;
        bool last = round + 1 >= options.Rounds || wall >= options.MaxWallSeconds;
        if (options.EvalEvery > 0 && !options.GradientExchange && (round % options.EvalEvery == 0 || last))
        {
            trainClock.Stop();   // evaluation is not training time
            eval = task.Evaluate(ef.X);
            trainClock.Start();
        }
        metrics.Add(new RoundMetrics
        {
            Round = round,
            WallSeconds = wall,
            UnixMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
            Participants = pushed.Count,
            Alive = alive.Count,
            TrainLoss = trainLoss,
            EvalLoss = eval?.Loss,
            EvalAccuracy = eval is { } e && double.IsFinite(e.Accuracy) ? e.Accuracy : null,
            BytesUp = bytesUp,
            BytesDown = bytesDown,
            UplinkMbpsEstimate = pushed.Where(w => reports[w].UplinkBps > 0).ToDictionary(w => w, w => reports[w].UplinkBps / 1e6),
            DownlinkMbpsEstimate = pushed.Where(w => reports[w].DownlinkBps > 0).ToDictionary(w => w, w => reports[w].DownlinkBps / 1e6),
            UplinkRatios = pushed.ToDictionary(w => w, w => reports[w].Ratios),
            DownlinkRatios = pushed.Where(downlinkRatios.ContainsKey).ToDictionary(w => w, w => downlinkRatios[w]),
            RoundMilliseconds = roundMs,
            WorkerComputeMilliseconds = pushed.Average(w => reports[w].ComputeMs),
        });
        log.LogInformation("round {Round} done: {Participants} workers, train loss {Loss:G4}{Eval}, {Up:N0} B up, {Down:N0} B down, {Ms:F0} ms",
            round, pushed.Count, trainLoss, eval is null ? "" : FormattableString.Invariant($", eval loss {eval.Loss:G4} acc {eval.Accuracy:P1}"), bytesUp, bytesDown, roundMs);
        if (pushed.Count > 0) budgetRule.RecordCompute(pushed.Average(w => reports[w].ComputeMs));
        long next = round + 1;
        RoundClosed?.Invoke(metrics);
        if (options.CheckpointPath is { } path)
            new ServerCheckpoint(ModelVersion, next, wall, bytesUp, bytesDown, ef.X, new Dictionary<int, float[][]>(ef.W), new Dictionary<int, float[][]>(ef.G)).Save(path);
        if (last && options.GradientExchange)
        {
            draining = true;   // one more round in which the workers pull the last update, then finish
            OpenRound(next);
            return;
        }
        if (last)
        {
            finished = true;
            log.LogInformation("training finished after round {Round}", round);
            Signal();
            return;
        }
        OpenRound(next);
    }

    void Finish()
    {
        finished = true;
        log.LogInformation("training finished after round {Round}", round - 1);
        Signal();
    }

    void OpenRound(long next)
    {
        // One downlink per worker that will apply it (the others get the full state when they pull), each sized for
        // that worker's own link: a slow link does not shrink the fast links' messages.
        downlinks.Clear();
        downlinkRatios.Clear();
        foreach (int worker in inSync.Order())
        {
            if (options.GradientExchange)
            {
                if (broadcast is not null) downlinks[worker] = broadcast;   // the same exact update for everyone
                continue;
            }
            double? bps = lastDownlinkBps.TryGetValue(worker, out double known) ? known
                : options.InitialBitsPerSecond > 0 ? options.InitialBitsPerSecond : null;
            // Shared bottleneck: a slow push just seen on this link also slows the pull that follows.
            if (!options.IndependentDirections && bps is { } down && serverTimedUplinkBps.TryGetValue(worker, out double up)) bps = Math.Min(down, up);
            var diff = ef.DownlinkDifference(worker);
            if (!downlinkMethods.TryGetValue(worker, out var downlinkMethod))
                downlinkMethods[worker] = downlinkMethod = CompressionMethod.Parse(downlinkSpec, options.Discretization, options.Levels, task.LayerRows, options.Seed * 7919 + 1000 + worker);
            // Auto budget on the downlink: the fixed part of a round is the workers' compute, the rate this link's.
            var compressors = downlinkMethod.SizesItself && bps is { } rate && budgetRule.ComputeMs is { } computeMs
                ? downlinkMethod.ChooseForRate(diff, new LinkTiming(computeMs / 1000, 8 / rate))
                : downlinkMethod.Choose(diff, budgetRule.BudgetBytes(bps));
            downlinkRatios[worker] = compressors.Select((c, l) => Compressors.LevelRatio(c, diff[l].Length)).ToArray();
            downlinks[worker] = ef.CompressDownlink(worker, compressors, random, diff);
        }
        round = next;
        pulled.Clear();
        pushed.Clear();
        reports.Clear();
        roundMessages.Clear();
        openedAt = DateTime.UtcNow;
        Signal();
    }

    void Signal()
    {
        var old = changed;
        changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        old.TrySetResult();
    }
}
