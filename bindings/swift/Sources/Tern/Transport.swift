import Foundation

/// One request the SDK asks a host transport to perform, with HTTP Basic auth
/// (`writeKey` as user name, empty password): a batch (`method` "POST":
/// `body` with the given Content-Type, and `Content-Encoding: gzip` when `gzip`
/// is true), or the settings the relay serves (`method` "GET", no body, with
/// `If-None-Match: ifNoneMatch` when set; report the answer's `ETag`).
public struct TernHTTPRequest: Sendable {
  public var url: String
  public var writeKey: String
  public var body: Data
  public var gzip: Bool
  public var contentType: String
  /// "POST" or "GET".
  public var method: String
  /// Sent as `If-None-Match` when not nil.
  public var ifNoneMatch: String?

  public init(
    url: String, writeKey: String, body: Data, gzip: Bool, contentType: String,
    method: String = "POST", ifNoneMatch: String? = nil
  ) {
    self.url = url
    self.writeKey = writeKey
    self.body = body
    self.gzip = gzip
    self.contentType = contentType
    self.method = method
    self.ifNoneMatch = ifNoneMatch
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
  /// The `ETag` header, if any (the settings fetch sends it back as `If-None-Match`).
  public var etag: String?

  public init(
    statusCode: Int, retryAfter: String? = nil, body: Data = Data(), error: String? = nil,
    etag: String? = nil
  ) {
    self.statusCode = statusCode
    self.retryAfter = retryAfter
    self.body = body
    self.error = error
    self.etag = etag
  }

  public static func networkError(_ message: String) -> TernHTTPResponse {
    TernHTTPResponse(statusCode: 0, error: message)
  }
}

/// A host HTTP stack for uploads and the settings fetch (the C API's `tern_transport`).
///
/// `send` runs only on the client's background worker thread, one request at
/// a time per client; it may block, but must return within its own timeouts
/// and must not call into the client. Queueing, retry, backoff and bisection
/// of rejected batches stay in the SDK.
public protocol TernTransport: Sendable {
  func send(_ request: TernHTTPRequest) -> TernHTTPResponse
}
