# 32-bit ARM Linux with hardware float (ARMv7-A: Raspberry Pi 2 and 32-bit
# OSes on later ones, BeagleBone, i.MX6/7 boards), with Debian's
# g++-arm-linux-gnueabihf. See toolchain-common.cmake.
set(CMAKE_SYSTEM_PROCESSOR armv7l)
set(TERN_CROSS_TRIPLE arm-linux-gnueabihf)
# GCC notes that the ARM parameter-passing ABI of some types changed in GCC
# 7.1; everything here is built by one compiler, so the note is noise.
set(CMAKE_CXX_FLAGS_INIT "-Wno-psabi")
include(${CMAKE_CURRENT_LIST_DIR}/toolchain-common.cmake)
