import Foundation
import HalfsizeCore
import Hummingbird
import NIOCore

/// Hummingbird's basic request context plus the peer's address, which admin routes need to tell
/// loopback from the rest.
public struct PeerRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }
}

/// Guards the admin routes (the queue view, the ops page, metrics, and what else changes or
/// reveals state without an upload). With `HALFSIZE_ADMIN_TOKEN` set they need
/// `Authorization: Bearer <token>`; without it they answer loopback peers only.
public struct AdminAccessMiddleware<Context: RemoteAddressRequestContext>: RouterMiddleware {
    let token: [UInt8]?
    /// For pages: a 401 also offers Basic, so a browser asks for the token (as the password).
    /// Not for the API, where the offer would only make HTTP clients start a login dialogue.
    let asksBrowsers: Bool

    public init(token: String?, asksBrowsers: Bool = false) {
        self.token = token.map { Array($0.utf8) }
        self.asksBrowsers = asksBrowsers
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if let token {
            guard let presented = request.headers[.authorization].flatMap(Self.presentedToken), Self.constantTimeEqual(presented, token) else {
                var response = APIError.response(.unauthorized, HalfsizeError(.unauthorized,
                    "this endpoint needs Authorization: Bearer <HALFSIZE_ADMIN_TOKEN> (in a browser: any user name, the token as password)"))
                response.headers[.wwwAuthenticate] = asksBrowsers ? "Bearer, Basic realm=\"halfsize admin\", charset=\"UTF-8\"" : "Bearer"
                return response
            }
        } else if !Self.isLoopback(context.remoteAddress) {
            return APIError.response(.forbidden, HalfsizeError(.unauthorized,
                "admin endpoints answer only on loopback while HALFSIZE_ADMIN_TOKEN is not set"))
        }
        return try await next(request, context)
    }

    /// The token of `Bearer <token>`, or the password of `Basic base64(user:password)`.
    static func presentedToken(_ authorization: String) -> [UInt8]? {
        if authorization.hasPrefix("Bearer ") { return Array(authorization.utf8.dropFirst(7)) }
        guard authorization.hasPrefix("Basic "), let decoded = Data(base64Encoded: String(authorization.dropFirst(6))),
              let colon = decoded.firstIndex(of: UInt8(ascii: ":")) else { return nil }
        return Array(decoded[decoded.index(after: colon)...])
    }

    /// Compares every byte whatever the first difference, so the time taken does not tell how much
    /// of a guess was right. (swift-crypto compares MACs this way but offers no function for a
    /// plain secret.)
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(truncatingIfNeeded: a.count ^ b.count)
        for index in 0..<max(a.count, b.count) {
            difference |= (index < a.count ? a[index] : 0) ^ (index < b.count ? b[index] : 0)
        }
        return difference == 0
    }

    static func isLoopback(_ address: SocketAddress?) -> Bool {
        switch address {
        case .v4(let v4)?: return (UInt32(bigEndian: v4.address.sin_addr.s_addr) >> 24) == 127
        case .v6?: return address?.ipAddress == "::1" || address?.ipAddress?.hasPrefix("::ffff:127.") == true
        case .unixDomainSocket?: return true
        default: return false
        }
    }
}
