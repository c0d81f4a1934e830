// GET /admin/v1/tap: the live tap as Server-Sent Events (admin_console.h).
#include "admin_console.h"

namespace tern::relay::control {

HttpResponse tap_response(TapHub*, const admin::Query&) {
  admin::fail(503, "unavailable", "the tap is not built yet");
}

}  // namespace tern::relay::control
