namespace Fuzzing;

/// <summary>A damaged version of a valid file: its bytes and how it was made (printed when a property fails).</summary>
public sealed record Mutant(string Description, byte[] Bytes)
{
    public override string ToString() => Description;
}
