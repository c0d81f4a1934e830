# 64-bit ARM Linux (Raspberry Pi 3/4/5 with a 64-bit OS, Jetson, most ARM
# gateways), with Debian's g++-aarch64-linux-gnu. See toolchain-common.cmake.
#   cmake -S . -B build/cross-aarch64 -DCMAKE_TOOLCHAIN_FILE=platforms/iot/toolchain-aarch64.cmake \
#         -DTERN_CROSS_SYSROOT=build/cross-sysroot/aarch64
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(TERN_CROSS_TRIPLE aarch64-linux-gnu)
include(${CMAKE_CURRENT_LIST_DIR}/toolchain-common.cmake)
