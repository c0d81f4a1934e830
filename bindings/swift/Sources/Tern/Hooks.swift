import Foundation
internal import CTern

// Bridges Swift hooks to the C API's host vtables. Each vtable's `state` is a
// retained box; the library calls `free_state` exactly once, after the last
// callback, which releases it. The callbacks are C function pointers, so they
// capture nothing and reach the Swift object through `state`.

final class LoggerBox {
  let handler: Tern.LogHandler
  init(_ handler: @escaping Tern.LogHandler) { self.handler = handler }
}

final class ContextBox {
  let provider: any TernContextProvider
  private let lock = NSLock()
  private var text: UnsafeMutablePointer<CChar>?
  private var computed = false

  init(_ provider: any TernContextProvider) { self.provider = provider }

  deinit { free(text) }

  /// The provider's facts as JSON text owned by this box. Computed once; the
  /// pointer stays valid until the box is released, which the library does
  /// only after its last call.
  func json() -> UnsafePointer<CChar>? {
    lock.lock()
    defer { lock.unlock() }
    if !computed {
      computed = true
      if let json = try? JSONText.object(provider.context(), path: "context") {
        text = strdup(json)
      }
    }
    return UnsafePointer(text)
  }
}

final class TransportBox {
  let transport: any TernTransport
  init(_ transport: any TernTransport) { self.transport = transport }
}

func installLogger(
  _ handler: @escaping Tern.LogHandler, level: Tern.LogLevel, on options: OpaquePointer
) -> tern_status {
  let state = Unmanaged.passRetained(LoggerBox(handler)).toOpaque()
  var vtable = tern_logger()
  vtable.version = UInt32(TERN_LOGGER_VERSION)
  vtable.state = state
  vtable.free_state = { state in
    if let state { Unmanaged<LoggerBox>.fromOpaque(state).release() }
  }
  vtable.log = { state, level, message, length in
    guard let state, let message else { return }
    let box = Unmanaged<LoggerBox>.fromOpaque(state).takeUnretainedValue()
    let text = String(
      decoding: UnsafeRawBufferPointer(start: message, count: length), as: UTF8.self)
    box.handler(Tern.LogLevel(rawValue: Int32(truncatingIfNeeded: level.rawValue)) ?? .error, text)
  }
  let status = tern_options_set_logger(
    options, &vtable, tern_log_level(rawValue: .init(truncatingIfNeeded: level.rawValue)))
  if status != TERN_OK { Unmanaged<LoggerBox>.fromOpaque(state).release() }
  return status
}

func installContextProvider(_ provider: any TernContextProvider, on options: OpaquePointer)
  -> tern_status
{
  let state = Unmanaged.passRetained(ContextBox(provider)).toOpaque()
  var vtable = tern_context_provider()
  vtable.version = UInt32(TERN_CONTEXT_PROVIDER_VERSION)
  vtable.state = state
  vtable.free_state = { state in
    if let state { Unmanaged<ContextBox>.fromOpaque(state).release() }
  }
  vtable.context_json = { state in
    guard let state else { return nil }
    return Unmanaged<ContextBox>.fromOpaque(state).takeUnretainedValue().json()
  }
  let status = tern_options_set_context_provider(options, &vtable)
  if status != TERN_OK { Unmanaged<ContextBox>.fromOpaque(state).release() }
  return status
}

func installTransport(_ transport: any TernTransport, on options: OpaquePointer) -> tern_status {
  let state = Unmanaged.passRetained(TransportBox(transport)).toOpaque()
  var vtable = tern_transport()
  vtable.version = UInt32(TERN_TRANSPORT_VERSION)
  vtable.state = state
  vtable.free_state = { state in
    if let state { Unmanaged<TransportBox>.fromOpaque(state).release() }
  }
  vtable.send = { state, request, response in
    guard let state, let request, let response else { return }
    let box = Unmanaged<TransportBox>.fromOpaque(state).takeUnretainedValue()
    let r = request.pointee
    let body =
      r.body_length > 0 && r.body != nil ? Data(bytes: r.body, count: r.body_length) : Data()
    // `method` and `if_none_match` were appended to tern_http_request: read
    // them only when the library's struct has them.
    let size = Int(r.struct_size)
    let hasMethod =
      size >= MemoryLayout<tern_http_request>.offset(of: \.method)! + MemoryLayout<UnsafePointer<CChar>?>.size
    let hasIfNoneMatch =
      size >= MemoryLayout<tern_http_request>.offset(of: \.if_none_match)!
      + MemoryLayout<UnsafePointer<CChar>?>.size
    let swiftRequest = TernHTTPRequest(
      url: r.url.map { String(cString: $0) } ?? "",
      writeKey: r.write_key.map { String(cString: $0) } ?? "",
      body: body,
      gzip: r.gzip != 0,
      contentType: r.content_type.map { String(cString: $0) } ?? "application/json",
      method: hasMethod ? (r.method.map { String(cString: $0) } ?? "POST") : "POST",
      ifNoneMatch: hasIfNoneMatch ? r.if_none_match.map { String(cString: $0) } : nil)
    let answer = box.transport.send(swiftRequest)
    let code = answer.statusCode
    if tern_http_response_set_status(response, Int32(clamping: code)) != TERN_OK {
      _ = tern_http_response_set_status(response, 0)
      _ = tern_http_response_set_error(response, "transport reported bad HTTP status \(code)")
      return
    }
    if let retryAfter = answer.retryAfter {
      _ = tern_http_response_set_retry_after_header(response, retryAfter)
    }
    if !answer.body.isEmpty {
      answer.body.withUnsafeBytes { bytes in
        _ = tern_http_response_set_body(response, bytes.baseAddress, bytes.count)
      }
    }
    if let error = answer.error {
      _ = tern_http_response_set_error(response, error)
    }
    if let etag = answer.etag {
      _ = tern_http_response_set_etag(response, etag)
    }
  }
  let status = tern_options_set_transport(options, &vtable)
  if status != TERN_OK { Unmanaged<TransportBox>.fromOpaque(state).release() }
  return status
}
