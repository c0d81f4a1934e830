// GET /admin/v1/overview and /admin/v1/sinks/{name}/dead-letters (admin_console.h).
#include "admin_console.h"

namespace tern::relay::control {

HttpResponse overview_response(const StatsHistory*) {
  admin::fail(503, "unavailable", "the overview is not built yet");
}

HttpResponse dead_letters_response(const DurablePipeline*, const std::string&,
                                   const admin::Query&) {
  admin::fail(503, "unavailable", "dead letters are not built yet");
}

}  // namespace tern::relay::control
