// swift-tools-version:6.0
//
// A command-line program sending events through Tern for Swift:
//   swift run tern-example-swift --endpoint http://127.0.0.1:8080 --write-key KEY --db /tmp/tern.db
// Depends on the Tern package by path; libtern.so comes from the CMake build
// (TERN_LIB_DIR, see ../../bindings/swift/Package.swift).
import PackageDescription

let package = Package(
  name: "tern-example-swift",
  platforms: [.macOS(.v12)],
  dependencies: [
    .package(path: "tern"),
  ],
  targets: [
    .executableTarget(
      name: "tern-example-swift",
      dependencies: [.product(name: "Tern", package: "tern")]
    ),
  ]
)
