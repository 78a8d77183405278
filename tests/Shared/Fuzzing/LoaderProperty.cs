namespace Fuzzing;

/// <summary>
/// The property every loader must have on damaged input: it returns a result, or it throws one of the documented
/// exception types (exact types) with a message that names the file. Anything else (NullReferenceException,
/// IndexOutOfRangeException, OverflowException, KeyNotFoundException, JsonException, OutOfMemoryException, ...) fails.
/// Counts outcomes so that a test can show that the mutants reached both outcomes.
/// </summary>
public sealed class LoaderProperty(IReadOnlyList<string> fileNames, params Type[] documented)
{
    public LoaderProperty(string fileName, params Type[] documented) : this([fileName], documented) { }

    public int Accepted { get; private set; }
    public int Rejected { get; private set; }
    /// <summary>Rejections by exception type.</summary>
    public Dictionary<string, int> ByType { get; } = [];

    public void Check(Mutant mutant, Action load)
    {
        try
        {
            load();
            Accepted++;
        }
        catch (Exception e) when (documented.Contains(e.GetType()))
        {
            if (!fileNames.Any(f => e.Message.Contains(f, StringComparison.Ordinal)))
                throw new Xunit.Sdk.XunitException($"{mutant.Description}: the {e.GetType().Name} names none of {string.Join(", ", fileNames)}: {e.Message}");
            if (e.Message.Contains('\n'))
                throw new Xunit.Sdk.XunitException($"{mutant.Description}: the {e.GetType().Name} message is not one line: {e.Message}");
            Rejected++;
            ByType[e.GetType().Name] = ByType.GetValueOrDefault(e.GetType().Name) + 1;
        }
        catch (Exception e)
        {
            throw new Xunit.Sdk.XunitException($"{mutant.Description}: undocumented {e.GetType().FullName}: {e.Message}", e);
        }
    }

    public override string ToString() =>
        $"{Accepted} accepted, {Rejected} rejected ({string.Join(", ", ByType.OrderByDescending(p => p.Value).Select(p => $"{p.Key} {p.Value}"))})";
}
