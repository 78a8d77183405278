namespace Toolkit.Cli.Tests;

public class OptionValuesTests
{
    [Theory]
    [InlineData("6.5GiB", 6979321856L)]
    [InlineData("4GB", 4000000000L)]
    [InlineData("512 MiB", 536870912L)]
    [InlineData("3MiB", 3145728L)]
    [InlineData("1234", 1234L)]
    public void Sizes_parse_in_binary_and_decimal_units(string text, long bytes) => Assert.Equal(bytes, OptionValues.Size(text, "--memory"));

    [Theory]
    [InlineData("six")]
    [InlineData("-1GiB")]
    [InlineData("1e30GiB")]
    [InlineData("")]
    public void Bad_sizes_name_the_option(string text)
    {
        var e = Assert.Throws<ArgumentException>(() => OptionValues.Size(text, "--memory"));
        Assert.Contains("--memory", e.Message);
        Assert.Contains("6.5GiB", e.Message); // says how to write one
    }

    [Fact]
    public void Lists_split_on_commas_and_trim()
    {
        Assert.Equal([1, 16, 4], OptionValues.Ints(" 1, 16 ,4", "--batch", 1));
        Assert.Equal(["lru", "expertflow+lookahead:2"], OptionValues.Names("lru,expertflow+lookahead:2", "--policies"));
        Assert.Equal([4L << 30, 6979321856L], OptionValues.Sizes("4GiB,6.5GiB", "--memory"));
    }

    [Theory]
    [InlineData("1,,2")]
    [InlineData(",")]
    [InlineData("")]
    [InlineData("1,")]
    public void Empty_list_items_are_errors(string text) =>
        Assert.Contains("--batch", Assert.Throws<ArgumentException>(() => OptionValues.Ints(text, "--batch", 1)).Message);

    [Theory]
    [InlineData("0")]
    [InlineData("-3")]
    [InlineData("two")]
    [InlineData("1.5")]
    public void Integers_below_the_minimum_or_not_integers_are_errors(string text) =>
        Assert.Contains("--batch", Assert.Throws<ArgumentException>(() => OptionValues.Ints(text, "--batch", 1)).Message);

    [Fact]
    public void Fractions_must_lie_in_zero_one()
    {
        Assert.Equal([0.1, 0.25, 1.0], OptionValues.Fractions("0.1,0.25,1", "--cache"));
        foreach (var bad in new[] { "0", "1.5", "-0.2", "NaN", "half" })
            Assert.Contains("(0, 1]", Assert.Throws<ArgumentException>(() => OptionValues.Fractions(bad, "--cache")).Message);
    }

    [Fact]
    public void Switches_and_choices()
    {
        Assert.Equal([true, false], OptionValues.OnOffBoth("both", "--cuda-graphs"));
        Assert.Equal([false], OptionValues.OnOffBoth("OFF", "--cuda-graphs"));
        Assert.Throws<ArgumentException>(() => OptionValues.OnOffBoth("maybe", "--cuda-graphs"));
        Assert.Equal("arena", OptionValues.Choice("Arena", "--host-tier", "auto", "arena", "disk"));
        Assert.Contains("auto, arena, disk", Assert.Throws<ArgumentException>(() => OptionValues.Choice("ram", "--host-tier", "auto", "arena", "disk")).Message);
    }
}
