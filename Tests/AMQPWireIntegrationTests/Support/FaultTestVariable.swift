import Foundation

/// A variable scripts/test.sh exports for the fault tests. Missing means failure, with what to run,
/// never a silent skip.
func faultTestVariable(_ name: String, startedBy command: String) throws -> String {
    guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else {
        throw FaultTestSetupMissing(variable: name, command: command)
    }
    return value
}

struct FaultTestSetupMissing: Error, CustomStringConvertible {
    var variable: String
    var command: String
    var description: String {
        """
        \(variable) is not set: run the tests with scripts/test.sh, which starts what the fault tests \
        need, or `eval "$(\(command))"` first
        """
    }
}
