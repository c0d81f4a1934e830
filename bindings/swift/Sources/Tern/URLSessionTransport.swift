import Foundation

#if canImport(FoundationNetworking)
  import FoundationNetworking
#endif

/// Uploads (POST) and fetches settings (GET with `If-None-Match`, reporting
/// the `ETag`) through `URLSession`, the system's HTTP stack on Apple platforms
/// (cellular/Wi-Fi policy, proxies, ATS, system trust store) and
/// FoundationNetworking on Linux.
///
/// The SDK's worker calls `send` synchronously, so the transport bridges
/// URLSession's asynchronous completion with a semaphore: the worker thread
/// waits for the completion handler, at most `requestTimeout` (plus a small
/// grace period), then cancels the task and reports a network error. URLSession
/// runs the request on its own delegate queue meanwhile, so nothing here
/// blocks a Swift concurrency thread.
public final class URLSessionTransport: TernTransport, @unchecked Sendable {
  // @unchecked: every stored property is immutable and URLSession is
  // documented thread-safe.
  public let requestTimeout: TimeInterval
  public let userAgent: String
  private let session: URLSession

  /// - Parameters:
  ///   - requestTimeout: the longest one request may take, connection included.
  ///   - configuration: the session configuration to start from (default
  ///     `.ephemeral`: no cookies, no cache); its timeouts are overridden.
  ///   - userAgent: the `User-Agent` header.
  public init(
    requestTimeout: TimeInterval = 30, configuration: URLSessionConfiguration = .ephemeral,
    userAgent: String = "tern-swift/\(Tern.version)"
  ) {
    self.requestTimeout = requestTimeout
    self.userAgent = userAgent
    configuration.timeoutIntervalForRequest = requestTimeout
    configuration.timeoutIntervalForResource = requestTimeout
    configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
    configuration.urlCache = nil
    configuration.httpCookieStorage = nil
    // One upload in flight per client: one connection, reused.
    configuration.httpMaximumConnectionsPerHost = 1
    self.session = URLSession(configuration: configuration)
  }

  deinit {
    session.invalidateAndCancel()
  }

  public func send(_ request: TernHTTPRequest) -> TernHTTPResponse {
    guard let url = URL(string: request.url), url.scheme != nil else {
      return .networkError("bad URL \(request.url)")
    }
    var urlRequest = URLRequest(
      url: url, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: requestTimeout)
    if request.method == "GET" {
      urlRequest.httpMethod = "GET"
      urlRequest.setValue("application/json", forHTTPHeaderField: "Accept")
      // The SDK keeps the settings and their ETag itself (no URL cache here),
      // so a 304 reaches it as a 304.
      if let etag = request.ifNoneMatch {
        urlRequest.setValue(etag, forHTTPHeaderField: "If-None-Match")
      }
    } else {
      urlRequest.httpMethod = "POST"
      urlRequest.httpBody = request.body
      urlRequest.setValue(request.contentType, forHTTPHeaderField: "Content-Type")
      if request.gzip {
        urlRequest.setValue("gzip", forHTTPHeaderField: "Content-Encoding")
      }
    }
    urlRequest.setValue(request.basicAuthorization, forHTTPHeaderField: "Authorization")
    urlRequest.setValue(userAgent, forHTTPHeaderField: "User-Agent")

    let outcome = Outcome()
    let task = session.dataTask(with: urlRequest) { data, response, error in
      outcome.complete(data: data, response: response, error: error)
    }
    task.resume()
    // The session enforces requestTimeout; the grace period only guards
    // against a completion handler that never runs.
    if outcome.done.wait(timeout: .now() + requestTimeout + 2) == .timedOut {
      task.cancel()
      return .networkError("no answer from \(url.host ?? request.url) within \(requestTimeout) s")
    }
    return outcome.response()
  }

  /// The completion handler's result, handed from URLSession's queue to the
  /// waiting worker thread. The semaphore orders the write before the read.
  private final class Outcome: @unchecked Sendable {
    let done = DispatchSemaphore(value: 0)
    private var data: Data?
    private var urlResponse: URLResponse?
    private var error: Error?

    func complete(data: Data?, response: URLResponse?, error: Error?) {
      self.data = data
      self.urlResponse = response
      self.error = error
      done.signal()
    }

    func response() -> TernHTTPResponse {
      if let error = error {
        return .networkError(error.localizedDescription)
      }
      guard let http = urlResponse as? HTTPURLResponse else {
        return .networkError("not an HTTP response")
      }
      return TernHTTPResponse(
        statusCode: http.statusCode,
        retryAfter: http.value(forHTTPHeaderField: "Retry-After"),
        body: data ?? Data(),
        etag: http.value(forHTTPHeaderField: "ETag"))
    }
  }
}
