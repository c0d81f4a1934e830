// TERN_TRANSPORT=none: the SDK has no built-in transport and links no HTTP
// library. Every client needs Config::transport (tern_options_set_transport
// in the C API); Client::create says so otherwise.
#include "default_transport.h"
#include "tern/client.h"

namespace tern {

bool have_default_transport() { return false; }

std::unique_ptr<Transport> make_default_transport(const CurlTransportOptions&) { return nullptr; }

// Nothing process-wide to set up without libcurl.
void global_init() {}

}  // namespace tern
