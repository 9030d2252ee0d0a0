import EmailServiceCore
import Foundation

let status = await EmailServiceApp.main(
    arguments: Array(CommandLine.arguments.dropFirst()), environment: ProcessInfo.processInfo.environment)
exit(status)
