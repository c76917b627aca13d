import Foundation

/// A job's public identifier: 26 characters of Crockford base32, the first 10 the creation time in
/// milliseconds and the last 16 random (80 bits), so references sort by time and do not collide
/// under concurrent uploads (the database's unique constraint is the final word).
public struct JobReference: Hashable, Sendable, Comparable, CustomStringConvertible, Codable {
    public let rawValue: String

    static let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ")

    public init?(_ text: String) {
        guard text.count == 26, text.allSatisfy({ Self.alphabet.contains($0) }) else { return nil }
        rawValue = text
    }

    public static func generate(at date: Date = Date()) -> JobReference {
        var generator = SystemRandomNumberGenerator()
        return generate(milliseconds: UInt64(max(0, date.timeIntervalSince1970 * 1000)), using: &generator)
    }

    static func generate<G: RandomNumberGenerator>(milliseconds: UInt64, using generator: inout G) -> JobReference {
        var characters: [Character] = []
        characters.reserveCapacity(26)
        for shift in stride(from: 45, through: 0, by: -5) {
            characters.append(alphabet[Int((milliseconds >> UInt64(shift)) & 31)])
        }
        for _ in 0..<16 {
            characters.append(alphabet[Int(generator.next() & 31)])
        }
        return JobReference(String(characters))!
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let reference = JobReference(text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not a job reference: \(text)")
        }
        self = reference
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    public var description: String { rawValue }
    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
}
