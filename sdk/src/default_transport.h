// The transport a client uses when Config::transport is empty, chosen when
// the SDK is built (CMake option TERN_TRANSPORT): libcurl
// (curl_transport.cc, target tern_transport_curl) or none
// (no_transport.cc, target tern_transport_none: mobile builds, whose hosts
// inject the platform's HTTP stack).
#pragma once

#include <memory>

#include "tern/transport.h"

namespace tern {

// False when this build has no default transport: Client::create then
// refuses a Config without a transport.
bool have_default_transport();

// Makes the default transport; nullptr when there is none. The worker calls
// it before its first upload, so an app that only queues never pays for
// libcurl's initialisation.
std::unique_ptr<Transport> make_default_transport(const CurlTransportOptions& options);

}  // namespace tern
