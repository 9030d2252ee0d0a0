import AMQPWire
import Foundation
import ServiceSupport
import Testing

@Suite struct OptionParsingTests {
    static let specs =
        BrokerSettings.specs + [
            OptionSpec("port", environment: ["PORT"], help: "Port.", defaultValue: "8080"),
            OptionSpec("verbose", help: "Talk more.", isSwitch: true),
        ]

    @Test func flagsWinOverTheEnvironmentWhichWinsOverDefaults() throws {
        let options = try CommandLineParser.parse(
            ["--port", "9000", "--verbose"], environment: ["PORT": "7000", "MQ_HOST": "rabbit"], specs: Self.specs)
        #expect(options["port"] == "9000")
        #expect(options["mq-host"] == "rabbit")
        #expect(options["mq-port"] == "5672")
        #expect(options.flag("verbose"))
    }

    @Test func amqpURLWinsOverTheTutorialVariables() throws {
        let options = try CommandLineParser.parse(
            [], environment: ["AMQP_URL": "amqp://u:p@a:1111/v,amqp://u:p@b:2222/v", "MQ_HOST": "ignored"],
            specs: Self.specs)
        let config = try BrokerSettings.configuration(from: options, connectionName: "test")
        #expect(config.endpoints.map(\.description) == ["a:1111", "b:2222"])
        #expect(config.username == "u")
        #expect(config.virtualHost == "v")
    }

    @Test func theTutorialVariablesMakeAConfiguration() throws {
        let options = try CommandLineParser.parse(
            ["--mq-port=5999"],
            environment: ["MQ_HOST": "rabbitmq", "MQ_USERNAME": "app", "MQ_PASSWORD": "s3cret"], specs: Self.specs)
        let config = try BrokerSettings.configuration(from: options, connectionName: "test")
        #expect(config.endpoints == [.init(host: "rabbitmq", port: 5999)])
        #expect(config.username == "app")
        #expect(config.password == "s3cret")
        #expect(!BrokerSettings.describe(config).contains("s3cret"))
    }

    @Test(arguments: [
        (["--nope"], "unknown option '--nope'"),
        (["--port"], "needs a value"),
        (["stray"], "unexpected argument 'stray'"),
    ])
    func badArgumentsAreClearErrors(arguments: [String], message: String) {
        let error = #expect(throws: ConfigurationError.self) {
            _ = try CommandLineParser.parse(arguments, environment: [:], specs: Self.specs)
        }
        #expect(error?.message.contains(message) == true)
    }

    @Test func badValuesNameWhereTheyCameFromAndNeverQuoteAPassword() throws {
        let options = try CommandLineParser.parse([], environment: ["MQ_PORT": "70000"], specs: Self.specs)
        let error = #expect(throws: ConfigurationError.self) {
            _ = try BrokerSettings.configuration(from: options, connectionName: "t")
        }
        #expect(error?.message == "$MQ_PORT must be a whole number from 1 to 65535, not '70000'")

        let url = try CommandLineParser.parse([], environment: ["AMQP_URL": "http://u:topsecret@h"], specs: Self.specs)
        let urlError = #expect(throws: ConfigurationError.self) {
            _ = try BrokerSettings.configuration(from: url, connectionName: "t")
        }
        #expect(urlError?.message.contains("$AMQP_URL") == true)
        #expect(urlError?.message.contains("topsecret") == false)
    }

    @Test func helpListsEveryOptionWithItsVariablesAndHidesSecretDefaults() {
        let text = CommandLineParser.usage(command: "svc", summary: "A service.", specs: Self.specs)
        #expect(text.contains("--mq-host VALUE"))
        #expect(text.contains("$MQ_HOST"))
        #expect(text.contains("--verbose\n"))
        let blocks = text.components(separatedBy: "\n  --")
        let password = blocks.first { $0.hasPrefix("mq-password") }
        let username = blocks.first { $0.hasPrefix("mq-username") }
        #expect(username?.contains("Default: guest") == true)
        #expect(password != nil)
        #expect(password?.contains("Default") == false)
    }
}
