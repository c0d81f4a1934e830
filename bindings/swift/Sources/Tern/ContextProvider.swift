import Foundation

/// Facts about the app and device the platform knows, merged into every
/// event's `context` under Segment's keys (`app`, `device`, `os`, `locale`,
/// `timezone`, `network`, `screen`, ...).
///
/// `context()` is called once per client while it is created (on the thread
/// creating it or on the client's worker); its result is cached for the
/// client's life. It must not call into the client.
public protocol TernContextProvider: Sendable {
  func context() -> [String: Any]
}

/// Fills `context.app`, `context.os`, `context.locale` and `context.timezone`
/// from Foundation (`Bundle.main`, `ProcessInfo`, `Locale`, `TimeZone`), plus
/// any `extra` facts the app adds.
///
/// On iOS an app usually adds the device facts UIKit knows, which Foundation
/// does not (Segment keys):
/// ```swift
/// let device = UIDevice.current
/// var provider = FoundationContextProvider()
/// provider.extra = [
///   "device": ["manufacturer": "Apple", "type": "ios", "model": modelIdentifier /* utsname.machine, e.g. "iPhone15,2" */,
///              "name": device.model /* "iPhone" */,
///              "id": device.identifierForVendor?.uuidString ?? NSNull()],
///   "screen": ["width": UIScreen.main.bounds.width, "height": UIScreen.main.bounds.height,
///              "density": UIScreen.main.scale],
///   "network": ["wifi": onWifi, "cellular": onCellular],  // from NWPathMonitor
/// ]
/// ```
/// `device.advertisingId` must only be added with the user's App Tracking
/// Transparency consent.
public struct FoundationContextProvider: TernContextProvider, @unchecked Sendable {
  // @unchecked: `extra` holds JSON-like values ([String: Any]) that are only
  // read after the provider is handed to a client.

  /// Merged over the Foundation facts (a top-level key in `extra` replaces
  /// the computed one).
  public var extra: [String: Any]

  public init(extra: [String: Any] = [:]) {
    self.extra = extra
  }

  public func context() -> [String: Any] {
    var facts: [String: Any] = [
      "app": Self.app(),
      "os": Self.os(),
      "locale": Self.locale(),
      "timezone": TimeZone.current.identifier,
    ]
    for (key, value) in extra { facts[key] = value }
    return facts
  }

  /// `{"name","version","build","namespace"}` from the main bundle's
  /// Info.plist, falling back to the process name for a command-line tool.
  static func app() -> [String: Any] {
    let info = Bundle.main.infoDictionary ?? [:]
    var app: [String: Any] = [:]
    app["name"] =
      (info["CFBundleDisplayName"] as? String) ?? (info["CFBundleName"] as? String)
      ?? ProcessInfo.processInfo.processName
    if let version = info["CFBundleShortVersionString"] as? String { app["version"] = version }
    if let build = info["CFBundleVersion"] as? String { app["build"] = build }
    if let namespace = Bundle.main.bundleIdentifier { app["namespace"] = namespace }
    return app
  }

  /// `{"name","version"}`: "iOS", "macOS", ... or "Linux", and the
  /// "major.minor.patch" ProcessInfo reports.
  static func os() -> [String: Any] {
    let v = ProcessInfo.processInfo.operatingSystemVersion
    let name: String
    #if os(iOS)
      #if targetEnvironment(macCatalyst)
        name = "macOS"
      #else
        name = "iOS"
      #endif
    #elseif os(macOS)
      name = "macOS"
    #elseif os(tvOS)
      name = "tvOS"
    #elseif os(watchOS)
      name = "watchOS"
    #elseif os(visionOS)
      name = "visionOS"
    #elseif os(Linux)
      name = "Linux"
    #elseif os(Windows)
      name = "Windows"
    #else
      name = "unknown"
    #endif
    return ["name": name, "version": "\(v.majorVersion).\(v.minorVersion).\(v.patchVersion)"]
  }

  /// A BCP 47 tag such as "en-US" (Segment's form), from the user's
  /// preferred language when there is one.
  static func locale() -> String {
    let identifier = Locale.preferredLanguages.first ?? Locale.current.identifier
    return identifier.replacingOccurrences(of: "_", with: "-")
  }
}
