import ArgumentParser
extension RosterFlowCommand { struct Bench: AsyncParsableCommand { static let configuration = CommandConfiguration(abstract: "Benchmarks.") } }
