namespace Vardbro.Server.Tests.Processes;

/// <summary>
/// The xunit collection of tests that start the built server as child processes
/// (<see cref="ServerProcess"/>): its tests run one after another, not in parallel with each other.
/// </summary>
[CollectionDefinition(Name)]
public sealed class ProcessTestGroup
{
    public const string Name = "Processes";
}
