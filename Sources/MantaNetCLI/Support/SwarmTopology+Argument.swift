import ArgumentParser
import MantaAgent

/// `--swarm-topology` and `simulate-swarm --topology`: parsed from the raw value; an unknown one is refused with the
/// values there are.
extension SwarmTopology: ExpressibleByArgument {}
