#!/usr/bin/env bash
# Builds CTern.xcframework (the Tern SDK and its C API as a static libtern.a,
# tern/tern.h and a Clang module map, for iOS devices and the iOS simulator)
# and TernSwift/, a SwiftPM package that wraps it with the `Tern` Swift module
# (bindings/swift/Sources/Tern). Needs macOS with Xcode and CMake >= 3.22;
# it cannot run on Linux (see README.md).
#
#   platforms/ios/build-xcframework.sh [--out DIR] [--min-ios VERSION] [--config CONFIG]
#
#   --out DIR          output directory (default: build/ios)
#   --min-ios VERSION  deployment target (default: 15.0, as bindings/swift/Package.swift)
#   --config CONFIG    CMake build type (default: Release)
#
# Outputs: DIR/CTern.xcframework, DIR/CTern.xcframework.zip (+ its SwiftPM
# checksum in DIR/CTern.xcframework.zip.checksum), DIR/TernSwift/ (Package.swift,
# Sources/Tern, CTern.xcframework).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

OUT=$ROOT/build/ios
MIN_IOS=15.0
CONFIG=Release
while [[ $# -gt 0 ]]; do
  case "$1" in
    --out) OUT=$2; shift 2 ;;
    --min-ios) MIN_IOS=$2; shift 2 ;;
    --config) CONFIG=$2; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "build-xcframework.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ "$OUT" = /* ]] || OUT=$ROOT/$OUT

if [[ "$(uname -s)" != Darwin ]] || ! command -v xcodebuild >/dev/null 2>&1; then
  echo "build-xcframework.sh: needs macOS with Xcode (xcodebuild, libtool, the iOS SDKs)" >&2
  exit 1
fi
command -v cmake >/dev/null || { echo "build-xcframework.sh: needs cmake >= 3.22" >&2; exit 1; }
GENERATOR=("-G" "Unix Makefiles")
if command -v ninja >/dev/null; then GENERATOR=("-G" "Ninja"); fi
JOBS=$(sysctl -n hw.ncpu 2>/dev/null || echo 4)

# One static libtern.a per SDK; the simulator slice is fat (arm64 + x86_64).
build_slice() {  # sdk archs
  local sdk=$1 archs=$2 dir=$OUT/cmake-$1
  cmake -S "$ROOT/platforms/ios" -B "$dir" "${GENERATOR[@]}" \
    -DCMAKE_SYSTEM_NAME=iOS \
    -DCMAKE_OSX_SYSROOT="$sdk" \
    -DCMAKE_OSX_ARCHITECTURES="$archs" \
    -DCMAKE_OSX_DEPLOYMENT_TARGET="$MIN_IOS" \
    -DCMAKE_BUILD_TYPE="$CONFIG" \
    -DTERN_TRANSPORT=none \
    -DCMAKE_TRY_COMPILE_TARGET_TYPE=STATIC_LIBRARY
  cmake --build "$dir" --config "$CONFIG" -j "$JOBS" --target tern_ios_bundle
  test -f "$dir/libtern.a"
}
build_slice iphoneos arm64
build_slice iphonesimulator "arm64;x86_64"

# Headers shared by both slices: tern/tern.h and the module map that makes
# them the Clang module CTern (the name bindings/swift's Tern module imports).
HEADERS=$OUT/headers
rm -rf "$HEADERS"
mkdir -p "$HEADERS/tern"
cp "$ROOT/bindings/c/include/tern/tern.h" "$HEADERS/tern/"
cat > "$HEADERS/module.modulemap" <<'MODULEMAP'
module CTern {
  header "tern/tern.h"
  link "sqlite3"
  link "z"
  link "c++"
  export *
}
MODULEMAP

rm -rf "$OUT/CTern.xcframework"
xcodebuild -create-xcframework \
  -library "$OUT/cmake-iphoneos/libtern.a" -headers "$HEADERS" \
  -library "$OUT/cmake-iphonesimulator/libtern.a" -headers "$HEADERS" \
  -output "$OUT/CTern.xcframework"

# A zip and its checksum for a remote binary target (.binaryTarget(url:checksum:)).
(cd "$OUT" && rm -f CTern.xcframework.zip && zip -qry CTern.xcframework.zip CTern.xcframework)
PKG=$OUT/TernSwift
rm -rf "$PKG"
mkdir -p "$PKG/Sources"
cp -R "$ROOT/bindings/swift/Sources/Tern" "$PKG/Sources/Tern"
cp -R "$OUT/CTern.xcframework" "$PKG/CTern.xcframework"
cat > "$PKG/Package.swift" <<'PACKAGE'
// swift-tools-version:6.0
// Tern for Swift on iOS: the Tern module over CTern.xcframework (made by
// platforms/ios/build-xcframework.sh). Add this directory to an Xcode project
// as a local package, or publish it with the zip and a url/checksum binary target.
import PackageDescription

let package = Package(
  name: "Tern",
  platforms: [.iOS(.v15)],
  products: [.library(name: "Tern", targets: ["Tern"])],
  targets: [
    .binaryTarget(name: "CTern", path: "CTern.xcframework"),
    .target(
      name: "Tern",
      dependencies: ["CTern"],
      linkerSettings: [
        .linkedLibrary("sqlite3"), .linkedLibrary("z"), .linkedLibrary("c++"),
      ]
    ),
  ]
)
PACKAGE
(cd "$PKG" && swift package compute-checksum "$OUT/CTern.xcframework.zip" \
  > "$OUT/CTern.xcframework.zip.checksum") || true

echo "build-xcframework.sh: $OUT/CTern.xcframework and the package $PKG"
