import Foundation

/// Reads settings from `HALFSIZE_*` environment variables, mirrored by command-line flags
/// (`HALFSIZE_AMQP_URL` ↔ `--amqp-url VALUE` or `--amqp-url=VALUE`); a flag wins over the
/// environment. Every read records the key, its default and its meaning, so `--help` lists them
/// and `finish()` rejects flags nobody reads.
public final class ConfigurationReader {
    public struct Entry: Sendable {
        public var key: String
        public var flag: String
        public var defaultValue: String
        public var meaning: String
    }

    private var flags: [String: String] = [:]
    private var consumedFlags: Set<String> = []
    private let environment: [String: String]
    public private(set) var entries: [Entry] = []
    public private(set) var positional: [String] = []
    public private(set) var wantsHelp = false
    private var problems: [String] = []

    public init(arguments: [String] = Array(CommandLine.arguments.dropFirst()),
                environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.environment = environment
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            if argument == "--help" || argument == "-h" {
                wantsHelp = true
            } else if argument.hasPrefix("--") {
                if let equals = argument.firstIndex(of: "=") {
                    flags[String(argument[..<equals])] = String(argument[argument.index(after: equals)...])
                } else if index < arguments.count {
                    flags[argument] = arguments[index]
                    index += 1
                } else {
                    problems.append("\(argument) needs a value")
                }
            } else {
                positional.append(argument)
            }
        }
    }

    public static func flag(for key: String) -> String {
        "--" + key.dropFirst("HALFSIZE_".count).lowercased().replacingOccurrences(of: "_", with: "-")
    }

    /// The raw text of a setting, or its default.
    public func string(_ key: String, default defaultValue: String, _ meaning: String) -> String {
        let flag = Self.flag(for: key)
        entries.append(Entry(key: key, flag: flag, defaultValue: defaultValue, meaning: meaning))
        consumedFlags.insert(flag)
        return flags[flag] ?? environment[key] ?? defaultValue
    }

    public func integer(_ key: String, default defaultValue: Int, in range: ClosedRange<Int>, _ meaning: String) -> Int {
        let text = string(key, default: String(defaultValue), meaning)
        guard let value = Int(text.trimmingCharacters(in: .whitespaces)), range.contains(value) else {
            problems.append("\(key) (\(Self.flag(for: key))) must be a whole number from \(range.lowerBound) to \(range.upperBound), not \"\(text)\"")
            return defaultValue
        }
        return value
    }

    /// A duration written as a number with a unit: `45s`, `15m`, `12h`, `30d` (a bare number is seconds).
    public func duration(_ key: String, default defaultValue: String, in range: ClosedRange<Duration>, _ meaning: String) -> Duration {
        let text = string(key, default: defaultValue, meaning).trimmingCharacters(in: .whitespaces).lowercased()
        let units: [Character: Int64] = ["s": 1, "m": 60, "h": 3600, "d": 86_400]
        let unit = text.last.flatMap { units[$0] }
        let number = Int64(unit == nil ? text : String(text.dropLast()))
        guard let number, number >= 0, case let (seconds, overflow) = number.multipliedReportingOverflow(by: unit ?? 1), !overflow,
              range.contains(.seconds(seconds)) else {
            problems.append("\(key) (\(Self.flag(for: key))) must be a duration such as 45s, 15m, 12h or 30d, from \(range.lowerBound) to \(range.upperBound), not \"\(text)\"")
            return .seconds(0)
        }
        return .seconds(seconds)
    }

    public func boolean(_ key: String, default defaultValue: Bool, _ meaning: String) -> Bool {
        let text = string(key, default: String(defaultValue), meaning).lowercased()
        switch text {
        case "1", "true", "yes", "on": return true
        case "0", "false", "no", "off": return false
        default:
            problems.append("\(key) (\(Self.flag(for: key))) must be true or false, not \"\(text)\"")
            return defaultValue
        }
    }

    /// An absolute URL with one of the given schemes.
    public func url(_ key: String, default defaultValue: String, schemes: Set<String>, _ meaning: String) -> URL {
        let text = string(key, default: defaultValue, meaning)
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), schemes.contains(scheme), url.host != nil else {
            problems.append("\(key) (\(Self.flag(for: key))) must be a \(schemes.sorted().joined(separator: " or ")) URL, not \"\(text)\"")
            return URL(string: defaultValue)!
        }
        return url
    }

    /// A listening address, `host:port` (`[::1]:9100` for IPv6); an empty default means "off".
    public func address(_ key: String, default defaultValue: String, _ meaning: String) -> ListenAddress? {
        let text = string(key, default: defaultValue, meaning)
        if text.isEmpty { return nil }
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            problems.append("\(key) (\(Self.flag(for: key))) must be host:port, not \"\(text)\"")
            return nil
        }
        return ListenAddress(host: String(text[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]")), port: port)
    }

    public func reportProblem(_ problem: String) { problems.append(problem) }

    /// Validates what was read: unknown flags and bad values are one `invalid_configuration` error.
    public func finish() throws(HalfsizeError) {
        let unknown = Set(flags.keys).subtracting(consumedFlags).sorted()
        let all = problems + unknown.map { "unknown flag \($0)" }
        if !all.isEmpty {
            throw HalfsizeError(.invalidConfiguration, all.joined(separator: "; "))
        }
    }

    public func helpText(program: String, summary: String) -> String {
        var lines = ["\(program): \(summary)", "", "Settings (environment variable, flag, default):"]
        for entry in entries {
            lines.append("  \(entry.key)  \(entry.flag)  [default: \(entry.defaultValue.isEmpty ? "none" : entry.defaultValue)]")
            lines.append("      \(entry.meaning)")
        }
        return lines.joined(separator: "\n")
    }
}

/// Where a server listens.
public struct ListenAddress: Sendable, Equatable {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }
}
