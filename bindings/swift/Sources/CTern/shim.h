// Pulls the C API into the Clang module CTern. The header is taken from the
// C binding next to this package (bindings/c/include/tern/tern.h) by a
// relative path, so no include flags are needed by this package or by the
// packages depending on it.
#include "../../../c/include/tern/tern.h"
