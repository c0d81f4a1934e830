# 32-bit ARM Linux with hardware float (ARMv7-A: Raspberry Pi 2 and 32-bit
# OSes on later ones, BeagleBone, i.MX6/7 boards), with Debian's
# g++-arm-linux-gnueabihf. See toolchain-common.cmake.
set(CMAKE_SYSTEM_PROCESSOR armv7l)
set(TERN_CROSS_TRIPLE arm-linux-gnueabihf)
include(${CMAKE_CURRENT_LIST_DIR}/toolchain-common.cmake)
