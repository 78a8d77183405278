using static TorchSharp.torch;

namespace ExpertFlow.Prediction;

/// <summary>
/// The routing-path predictor run the way a language model decodes: per sequence it keeps the encoder's cross-attention
/// keys and values of the prompt and the decoder's self-attention keys and values of the tokens generated so far, so a
/// decode step puts one token per sequence through the decoder, all sequences of the step in one batched pass, instead
/// of encoding the prompt and decoding the whole history again. The token scheduler and the cache policy's forecast ask
/// for the same (sequence, position, token): the second asker gets the first one's answer without a pass.
/// <para>The caches live in one pool per decoder block ([sequences, positions, 2 dim]); a sequence's row is recycled
/// least recently used first. A sequence longer than the decoder window (<c>maxLength</c>, what the predictor was trained
/// on) continues from its last <c>maxLength / 2</c> tokens, re-encoded once. Thread-safe (one pass at a time).</para>
/// </summary>
public sealed class IncrementalPredictor : IDisposable
{
    readonly RoutingPathPredictor predictor;
    readonly int window, maxSequences;
    readonly Device device;
    // decode steps in managed code when the predictor is on the CPU (PredictorHostStep)
    readonly PredictorHostStep? host;
    readonly object gate = new();
    readonly Dictionary<int, SequenceState> states = [];
    readonly Stack<int> freeRows = new();
    Tensor[] selfPool = [], crossPool = [];
    int poolRows;
    long uses;
    double seconds;

    /// <param name="predictor">The trained predictor (in eval mode; its device is where the caches live).</param>
    /// <param name="window">Decoder tokens kept per sequence (and prompt tokens encoded): the training length.</param>
    /// <param name="maxSequences">Sequences whose caches are kept at once; the least recently used is dropped beyond.</param>
    /// <param name="hostSteps">On the CPU, decode steps in managed code (<see cref="PredictorHostStep"/>); false runs them as TorchSharp operations there too.</param>
    public IncrementalPredictor(RoutingPathPredictor predictor, int window = 64, int maxSequences = 256, bool hostSteps = true)
    {
        if (window < 2) throw new ArgumentOutOfRangeException(nameof(window), "the decoder window holds at least 2 tokens");
        this.predictor = predictor;
        this.window = window;
        this.maxSequences = Math.Max(1, maxSequences);
        device = predictor.parameters().First().device;
        host = hostSteps && device.type == TorchSharp.DeviceType.CPU && predictor.parameters().First().dtype == ScalarType.Float32 ? new PredictorHostStep(predictor) : null;
    }

    public PredictorConfig Config => predictor.Config;

    /// <summary>Seconds spent predicting, summed over calls.</summary>
    public double Seconds { get { lock (gate) return seconds; } }

    /// <summary>Decoder passes run (batched decode steps, prompts and re-encodings).</summary>
    public long Passes { get; private set; }

    /// <summary>Predictions answered from an earlier asker of the same (sequence, position, token).</summary>
    public long Reused { get; private set; }

    /// <summary>
    /// Probabilities [layer x expert] for every token of every feed (per feed, per token; of a prompt longer than the
    /// window, its last window tokens). A feed at position 0 is a prompt:
    /// the sequence starts again. A feed continuing a known sequence is decoded from its cache; one that repeats the
    /// sequence's last prediction returns it; anything else (a sequence not seen, a gap, a rewind, another prompt under
    /// the same id) restarts the sequence's decoder at the feed's position.
    /// </summary>
    public float[][][] Predict(IReadOnlyList<PredictorFeed> feeds)
    {
        lock (gate)
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var result = new float[feeds.Count][][];
            var prompts = new List<int>();
            var steps = new List<int>();
            for (int i = 0; i < feeds.Count; i++)
            {
                var f = feeds[i];
                if (f.Tokens.Length == 0) { result[i] = []; continue; }
                if (f.Position == 0) { prompts.Add(i); continue; }
                var state = Continue(f);
                if (f.Tokens.Length == 1 && state.LastPosition == f.Position && state.LastToken == f.Tokens[0] && state.Last != null)
                {
                    result[i] = [state.Last];
                    Reused++;
                }
                else if (f.Tokens.Length == 1 && state.Row >= 0 && state.Next == f.Position && state.Cached < window) steps.Add(i);
                else result[i] = Extend(state, f.Position, f.Tokens);
            }
            if (prompts.Count > 0) StartPrompts(feeds, prompts, result);
            if (steps.Count > 0) Step(feeds, steps, result);
            seconds += clock.Elapsed.TotalSeconds;
            return result;
        }
    }

    /// <summary>The last prediction made for the sequence when it was for <paramref name="position"/>; else null.</summary>
    public float[]? Known(int sequence, int position)
    {
        lock (gate) return states.TryGetValue(sequence, out var s) && s.LastPosition == position ? s.Last : null;
    }

    /// <summary>The sequence's state, restarted when the feed does not continue it (another prompt, a gap or a rewind).</summary>
    SequenceState Continue(PredictorFeed f)
    {
        var prompt = Prompt(f.Prompt);
        if (states.TryGetValue(f.Sequence, out var s) && (f.Prompt == null || s.Prompt.AsSpan().SequenceEqual(prompt)))
        {
            bool repeat = f.Tokens.Length == 1 && s.LastPosition == f.Position && s.LastToken == f.Tokens[0];
            if (s.Next == f.Position || repeat) { s.Use = ++uses; return s; }
            if (f.Prompt == null) prompt = s.Prompt;
        }
        Drop(f.Sequence);
        s = new SequenceState(prompt, f.Position) { Use = ++uses };
        states[f.Sequence] = s;
        return s;
    }

    int[] Prompt(int[]? prompt) => prompt is { Length: > 0 } ? prompt.Take(window).ToArray() : [0];

    /// <summary>Prompts: one full pass over each prompt's last tokens (the step's scores) and the encoder's keys and values stored.</summary>
    void StartPrompts(IReadOnlyList<PredictorFeed> feeds, List<int> which, float[][][] result)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        int b = which.Count;
        var prompts = which.Select(i => Prompt(feeds[i].Tokens)).ToArray();
        var decoded = which.Select(i => feeds[i].Tokens.TakeLast(window).ToArray()).ToArray();
        int p = prompts.Max(x => x.Length), s = decoded.Max(x => x.Length);
        var promptIds = new long[b * p];
        var promptLengths = new long[b];
        var tokenIds = new long[b * s];
        var starts = new long[b];
        for (int j = 0; j < b; j++)
        {
            for (int t = 0; t < prompts[j].Length; t++) promptIds[j * p + t] = prompts[j][t];
            promptLengths[j] = prompts[j].Length;
            for (int t = 0; t < decoded[j].Length; t++) tokenIds[j * s + t] = decoded[j][t];
            starts[j] = feeds[which[j]].Tokens.Length - decoded[j].Length;
        }
        var ids = tensor(promptIds, [b, p], device: device);
        var lengths = tensor(promptLengths, [b], device: device);
        var scores = predictor.Forward(ids, lengths, tensor(tokenIds, [b, s], device: device), tensor(starts, [b], device: device));
        var probabilities = scores.sigmoid().cpu().data<float>().ToArray();
        var cross = predictor.CrossKeysValues(predictor.Encode(ids, lengths));
        Passes++;
        int le = Config.NumLayers * Config.NumExperts;
        for (int j = 0; j < b; j++)
        {
            var f = feeds[which[j]];
            Drop(f.Sequence);
            var state = new SequenceState(prompts[j], f.Tokens.Length) { Use = ++uses };
            states[f.Sequence] = state;
            Place(state);
            StoreCross(state, cross, j, p);
            var rows = new float[decoded[j].Length][];
            for (int t = 0; t < rows.Length; t++) rows[t] = probabilities.AsSpan((j * s + t) * le, le).ToArray();
            state.Remember(f.Tokens.Length - 1, f.Tokens[^1], rows[^1]);
            result[which[j]] = rows;
        }
    }

    /// <summary>One token for each of the feeds' sequences, all in one batched decoder pass over their caches.</summary>
    void Step(IReadOnlyList<PredictorFeed> feeds, List<int> which, float[][][] result)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        int b = which.Count;
        var members = which.Select(i => states[feeds[i].Sequence]).ToArray();
        Passes++;
        if (host != null)
        {
            var computed = host.Step(which.Select(i => feeds[i].Tokens[0]).ToArray(), which.Select(i => feeds[i].Position).ToArray(),
                members.Select(s => s.Row).ToArray(), members.Select(s => s.Cached).ToArray(), members.Select(s => s.Prompt.Length).ToArray(), selfPool, crossPool);
            for (int j = 0; j < b; j++) Took(members[j], feeds[which[j]], computed[j], result, which[j]);
            return;
        }
        var rows = tensor(members.Select(s => (long)s.Row).ToArray(), [b], device: device);
        var pastLengths = members.Select(s => (long)s.Cached).ToArray();
        var past = selfPool.Select(pool => pool.index_select(0, rows)).ToArray();
        var cross = crossPool.Select(pool => pool.index_select(0, rows)).ToArray();
        var tokens = tensor(which.Select(i => (long)feeds[i].Tokens[0]).ToArray(), [b, 1], device: device);
        var positions = tensor(which.Select(i => (long)feeds[i].Position).ToArray(), [b, 1], device: device);
        var (scores, fresh) = predictor.DecodeCached(tokens, positions, past, tensor(pastLengths, [b], device: device), cross,
            tensor(members.Select(s => (long)s.Prompt.Length).ToArray(), [b], device: device));
        var at = tensor(pastLengths, [b, 1], device: device);
        for (int i = 0; i < selfPool.Length; i++) selfPool[i].index_put_(fresh[i], rows.unsqueeze(1), at);
        var probabilities = scores.sigmoid().cpu().data<float>().ToArray();
        int le = Config.NumLayers * Config.NumExperts;
        for (int j = 0; j < b; j++) Took(members[j], feeds[which[j]], probabilities.AsSpan(j * le, le).ToArray(), result, which[j]);
    }

    static void Took(SequenceState state, PredictorFeed feed, float[] probabilities, float[][][] result, int index)
    {
        state.Append(feed.Tokens);
        state.Remember(feed.Position, feed.Tokens[0], probabilities);
        result[index] = [probabilities];
    }

    /// <summary>Several tokens of one sequence (or one that needs its caches rebuilt): a pass of the tokens after its cached ones.</summary>
    float[][] Extend(SequenceState state, int position, int[] tokens)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        bool fresh = state.Row < 0;
        if (fresh) Place(state);
        if (fresh || state.Cached + tokens.Length > window)
        {
            // re-encode: the prompt's keys and values (evicted), then the history with the new tokens
            if (fresh)
            {
                var ids = tensor(state.Prompt.Select(t => (long)t).ToArray(), [1, state.Prompt.Length], device: device);
                var lengths = tensor(new long[] { state.Prompt.Length }, [1], device: device);
                StoreCross(state, predictor.CrossKeysValues(predictor.Encode(ids, lengths)), 0, state.Prompt.Length);
            }
            // a history that still fits is decoded whole (the same as never evicted); one that overflows keeps its last half-window
            int keep = state.Recent.Count + tokens.Length <= window ? state.Recent.Count : Math.Max(0, Math.Min(state.Recent.Count, window / 2 - tokens.Length));
            var history = state.Recent.Skip(state.Recent.Count - keep).Concat(tokens).TakeLast(window).ToArray();
            state.Restart(position + tokens.Length - history.Length);
            var all = Decode(state, state.Next, history);
            return all.Skip(all.Length - tokens.Length).ToArray();
        }
        return Decode(state, position, tokens);
    }

    /// <summary>Decodes <paramref name="tokens"/> after the state's cached ones (room assumed) and caches them.</summary>
    float[][] Decode(SequenceState state, int position, int[] tokens)
    {
        int n = tokens.Length;
        var row = tensor(new long[] { state.Row }, [1], device: device);
        var past = selfPool.Select(pool => pool.index_select(0, row)).ToArray();
        var cross = crossPool.Select(pool => pool.index_select(0, row)).ToArray();
        var (scores, fresh) = predictor.DecodeCached(tensor(tokens.Select(t => (long)t).ToArray(), [1, n], device: device),
            tensor(Enumerable.Range(position, n).Select(p => (long)p).ToArray(), [1, n], device: device),
            past, tensor(new long[] { state.Cached }, [1], device: device), cross, tensor(new long[] { state.Prompt.Length }, [1], device: device));
        var at = tensor(Enumerable.Range(state.Cached, n).Select(p => (long)p).ToArray(), [1, n], device: device);
        for (int i = 0; i < selfPool.Length; i++) selfPool[i].index_put_(fresh[i], row.unsqueeze(1).expand(1, n), at);
        var probabilities = scores.sigmoid().cpu().data<float>().ToArray();
        Passes++;
        int le = Config.NumLayers * Config.NumExperts;
        var rows = new float[n][];
        for (int t = 0; t < n; t++) rows[t] = probabilities.AsSpan(t * le, le).ToArray();
        state.Append(tokens);
        state.Remember(position + n - 1, tokens[^1], rows[^1]);
        return rows;
    }

    void StoreCross(SequenceState state, Tensor[] cross, int index, int length)
    {
        var row = tensor(new long[] { state.Row }, [1], device: device);
        for (int i = 0; i < crossPool.Length; i++)
        {
            var kv = cross[i].narrow(0, index, 1).narrow(1, 0, length);
            if (length < window) kv = TorchSharp.torch.nn.functional.pad(kv, [0, 0, 0, window - length]);
            crossPool[i].index_copy_(0, row, kv.contiguous());
        }
    }

    /// <summary>Gives the state a pool row: a free one, a new one (the pools grow by doubling) or the least recently used sequence's.</summary>
    void Place(SequenceState state)
    {
        if (freeRows.Count == 0)
        {
            if (poolRows < maxSequences) Grow(Math.Min(maxSequences, Math.Max(4, 2 * poolRows)));
            else
            {
                var victim = states.Where(kv => kv.Value.Row >= 0 && kv.Value != state).MinBy(kv => kv.Value.Use);
                freeRows.Push(victim.Value.Row);
                victim.Value.Unplace(); // its tokens stay: it is re-encoded if it comes back
            }
        }
        state.Row = freeRows.Pop();
    }

    void Grow(int rows)
    {
        int dim = Config.ModelDim, blocks = Config.DecoderLayers;
        Tensor Extend(Tensor? old, int length)
        {
            var grown = zeros([rows, length, 2 * dim], device: device);
            if (old is not null) { grown.narrow(0, 0, poolRows).copy_(old); old.Dispose(); }
            return grown.DetachFromDisposeScope();
        }
        selfPool = Enumerable.Range(0, blocks).Select(i => Extend(selfPool.ElementAtOrDefault(i), window)).ToArray();
        crossPool = Enumerable.Range(0, blocks).Select(i => Extend(crossPool.ElementAtOrDefault(i), window)).ToArray();
        for (int r = rows - 1; r >= poolRows; r--) freeRows.Push(r);
        poolRows = rows;
    }

    void Drop(int sequence)
    {
        if (!states.Remove(sequence, out var old)) return;
        if (old.Row >= 0) freeRows.Push(old.Row);
        // bounded bookkeeping: sequences that are never seen again (finished requests) are forgotten
        if (states.Count > 4 * maxSequences)
            foreach (var (key, s) in states.OrderBy(kv => kv.Value.Use).Take(states.Count - 2 * maxSequences).ToArray())
            {
                if (s.Row >= 0) freeRows.Push(s.Row);
                states.Remove(key);
            }
    }

    public void Dispose()
    {
        foreach (var t in selfPool.Concat(crossPool)) t.Dispose();
        selfPool = crossPool = [];
    }

    /// <summary>What the predictor keeps of one sequence.</summary>
    sealed class SequenceState(int[] prompt, int next)
    {
        public int[] Prompt { get; } = prompt;
        /// <summary>Position of the next token to decode.</summary>
        public int Next { get; private set; } = next;
        /// <summary>Tokens whose keys and values are in the pool row (at most the window).</summary>
        public int Cached { get; private set; }
        /// <summary>The decoded tokens in the pool row, oldest first.</summary>
        public List<int> Recent { get; } = [];
        public int Row { get; set; } = -1;
        /// <summary>The pool row is taken away: nothing is cached any more.</summary>
        public void Unplace() => (Row, Cached) = (-1, 0);
        public long Use { get; set; }
        public int LastPosition { get; private set; } = -1;
        public int LastToken { get; private set; } = -1;
        public float[]? Last { get; private set; }

        public void Restart(int position)
        {
            Next = position;
            Cached = 0;
            Recent.Clear();
        }

        public void Append(int[] tokens)
        {
            Recent.AddRange(tokens);
            Cached += tokens.Length;
            Next += tokens.Length;
        }

        public void Remember(int position, int token, float[] probabilities) => (LastPosition, LastToken, Last) = (position, token, probabilities);
    }
}

/// <summary>
/// Tokens of one sequence for the predictor: at <see cref="Position"/> 0 the prompt itself, else tokens processed after
/// it, the first at <see cref="Position"/>. <see cref="Prompt"/> (when known) identifies the sequence's prompt: a different
/// one under the same id starts the sequence again.
/// </summary>
public readonly record struct PredictorFeed(int Sequence, int Position, int[] Tokens, int[]? Prompt = null);
