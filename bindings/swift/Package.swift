// swift-tools-version:6.0
//
// Tern for Swift: the `Tern` module over the C API (bindings/c/include/tern/tern.h)
// and the shared library libtern built by CMake.
//
// Where the C API is found (no absolute paths are baked in):
//   the header        bindings/c/include/tern/tern.h, by a relative path from Sources/CTern/shim.h
//   TERN_LIB_DIR      directory holding libtern.so (default: ../../build/swift-c/bindings/c,
//                     the CMake build that scripts/swift-test.sh makes; relative paths are
//                     taken from this package's directory)
// The library directory is also written as an rpath, so test and example binaries load
// libtern without LD_LIBRARY_PATH. Apple platforms consume libtern as an XCFramework
// instead (see platforms/ios/README.md).
import Foundation
import PackageDescription

let packageDir = Context.packageDirectory
let environment = Context.environment

func absolute(_ path: String) -> String {
  if path.hasPrefix("/") { return path }
  return URL(fileURLWithPath: packageDir).appendingPathComponent(path).standardizedFileURL.path
}

let libDir = absolute(environment["TERN_LIB_DIR"] ?? "../../build/swift-c/bindings/c")

let package = Package(
  name: "Tern",
  platforms: [.macOS(.v12), .iOS(.v15), .tvOS(.v15), .watchOS(.v8)],
  products: [
    .library(name: "Tern", targets: ["Tern"]),
  ],
  targets: [
    // The C API as a Clang module. Its module map links libtern.
    .systemLibrary(name: "CTern", path: "Sources/CTern"),
    .target(
      name: "Tern",
      dependencies: ["CTern"],
      linkerSettings: [
        .unsafeFlags(["-L\(libDir)", "-Xlinker", "-rpath", "-Xlinker", libDir]),
      ]
    ),
    .testTarget(
      name: "TernTests",
      dependencies: ["Tern"]
    ),
  ]
)
