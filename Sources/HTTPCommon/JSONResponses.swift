import Foundation
import HalfsizeCore
import Hummingbird

public enum JSONValue: Encodable, Sendable {
    case string(String)
    case number(Double)

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .string(let text): try container.encode(text)
        case .number(let value):
            if value == value.rounded() { try container.encode(Int(value)) } else { try container.encode(value) }
        }
    }
}

public enum JSONBody {
    public static func response(_ status: HTTPResponse.Status, _ value: some Encodable) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// `{"error": {"code", "message", "details"}}`, the shape of every API error (`details` null when
/// there is nothing more to say).
public enum APIError {
    struct Body<Details: Encodable>: Encodable {
        struct Inner: Encodable {
            var code: String
            var message: String
            var details: Details?

            enum CodingKeys: String, CodingKey { case code, message, details }

            func encode(to encoder: any Encoder) throws {
                var container = encoder.container(keyedBy: CodingKeys.self)
                try container.encode(code, forKey: .code)
                try container.encode(message, forKey: .message)
                try container.encode(details, forKey: .details)  // null, not absent
            }
        }
        var error: Inner
    }

    public static func response(_ status: HTTPResponse.Status, _ error: HalfsizeError) -> Response {
        response(status, error, details: [String]?.none)
    }

    public static func response<Details: Encodable>(_ status: HTTPResponse.Status, _ error: HalfsizeError, details: Details?) -> Response {
        JSONBody.response(status, Body(error: .init(code: error.code.rawValue, message: error.message, details: details)))
    }
}
