using System.Text.Json.Nodes;

namespace Toolkit.Data.Tests.Templates;

/// <summary>The committed chat templates (tests/fixtures/chat-templates), their conversations and transformers' renders.</summary>
static class ChatTemplateFixtures
{
    public static string Directory => Path.Combine(AppContext.BaseDirectory, "fixtures", "chat-templates");

    static readonly Lazy<JsonObject> SpecLazy = new(() => Load("conversations.json"));
    static readonly Lazy<JsonObject> ExpectedLazy = new(() => Load("expected.json"));

    public static JsonObject Spec => SpecLazy.Value;

    public static JsonObject Expected => ExpectedLazy.Value;

    static JsonObject Load(string file) =>
        JsonNode.Parse(File.ReadAllText(Path.Combine(Directory, file)))!.AsObject();

    public static IEnumerable<string> TemplateFiles => Spec["templates"]!.AsObject().Select(p => p.Key);

    public static string TemplateSource(string file) => File.ReadAllText(Path.Combine(Directory, file));

    public static JsonObject Conversation(string id) =>
        Spec["conversations"]!.AsArray().Select(c => c!.AsObject()).Single(c => (string)c["id"]! == id);

    public static DateTimeOffset Now => new(DateTime.Parse((string)Spec["now"]!, System.Globalization.CultureInfo.InvariantCulture), TimeSpan.Zero);
}
