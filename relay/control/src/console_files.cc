// The console's files (admin_console.h).
#include "admin_console.h"

namespace tern::relay::control {

std::optional<HttpResponse> console_file(std::string_view) { return std::nullopt; }

}  // namespace tern::relay::control
