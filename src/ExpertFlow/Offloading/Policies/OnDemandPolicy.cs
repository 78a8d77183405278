namespace ExpertFlow.Offloading.Policies;

/// <summary>No caching: every routed expert is copied in when the router asks for it and dropped after use.</summary>
public sealed class OnDemandPolicy : IOffloadPolicy
{
    public string Name => "on-demand";
    public bool KeepAfterUse => false;
    public void Attach(ICacheControl cache) { }
}
