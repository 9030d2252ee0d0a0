import Foundation
import WebServiceCore

let status = await WebServiceApp.main(
    arguments: Array(CommandLine.arguments.dropFirst()), environment: ProcessInfo.processInfo.environment)
exit(status)
