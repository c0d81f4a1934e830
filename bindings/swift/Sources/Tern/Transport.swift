import Foundation

/// One upload the SDK asks a host transport to perform: POST `body` to `url`
/// with HTTP Basic auth (`writeKey` as user name, empty password), the given
/// Content-Type, and `Content-Encoding: gzip` when `gzip` is true.
public struct TernHTTPRequest: Sendable {
  public var url: String
  public var writeKey: String
  public var body: Data
  public var gzip: Bool
  public var contentType: String

  public init(url: String, writeKey: String, body: Data, gzip: Bool, contentType: String) {
    self.url = url
    self.writeKey = writeKey
    self.body = body
    self.gzip = gzip
    self.contentType = contentType
  }

  /// The `Authorization` header value for `writeKey`.
  public var basicAuthorization: String {
    "Basic " + Data((writeKey + ":").utf8).base64EncodedString()
  }
}

/// What came back. `statusCode` 0 means no HTTP answer (a network error,
/// described by `error`); the SDK applies its retry policy to the rest.
public struct TernHTTPResponse: Sendable {
  public var statusCode: Int
  /// The raw `Retry-After` header (delta seconds or an HTTP date), if any.
  public var retryAfter: String?
  /// The body: the SDK reads per-event rejections (`{"rejected":[...]}`) from it.
  public var body: Data
  public var error: String?

  public init(statusCode: Int, retryAfter: String? = nil, body: Data = Data(), error: String? = nil) {
    self.statusCode = statusCode
    self.retryAfter = retryAfter
    self.body = body
    self.error = error
  }

  public static func networkError(_ message: String) -> TernHTTPResponse {
    TernHTTPResponse(statusCode: 0, error: message)
  }
}

/// A host HTTP stack for uploads (the C API's `tern_transport`).
///
/// `send` runs only on the client's background worker thread, one request at
/// a time per client; it may block, but must return within its own timeouts
/// and must not call into the client. Queueing, retry, backoff and bisection
/// of rejected batches stay in the SDK.
public protocol TernTransport: Sendable {
  func send(_ request: TernHTTPRequest) -> TernHTTPResponse
}
