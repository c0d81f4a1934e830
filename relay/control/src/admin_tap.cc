// GET /admin/v1/tap: the live tap as Server-Sent Events (admin_console.h).
#include <cstdlib>

#include "admin_console.h"

namespace tern::relay::control {

namespace {

// The HTTP layer's view of a tap: the same pulls, the same cancel.
class TapBody final : public BodyStream {
 public:
  explicit TapBody(std::shared_ptr<TapStream> tap) : tap_(std::move(tap)) {}
  ~TapBody() override { tap_->cancel(); }
  void next(Deliver deliver) override { tap_->next(std::move(deliver)); }
  void cancel() override { tap_->cancel(); }

 private:
  std::shared_ptr<TapStream> tap_;
};

// A comma-separated list; empty items are ignored.
std::vector<std::string> list_param(const admin::Query& q, const std::string& name) {
  std::vector<std::string> out;
  const std::string v = q.get(name);
  std::size_t start = 0;
  while (start <= v.size()) {
    std::size_t comma = v.find(',', start);
    if (comma == std::string::npos) comma = v.size();
    if (comma > start) out.push_back(v.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

}  // namespace

HttpResponse tap_response(TapHub* hub, const admin::Query& query) {
  TapFilter filter;
  filter.sources = list_param(query, "source");
  filter.types = list_param(query, "type");
  filter.events = list_param(query, "event");
  filter.rejected = query.flag("rejected");
  if (query.has("sample")) {
    const std::string v = query.get("sample");
    char* end = nullptr;
    const double s = std::strtod(v.c_str(), &end);
    if (v.empty() || *end != '\0' || !(s > 0.0 && s <= 1.0)) {
      admin::invalid("sample",
                     "?sample= must be a fraction above 0 and at most 1, not \"" + v + "\"");
    }
    filter.sample = s;
  }
  if (query.has("limit")) {
    const std::string v = query.get("limit");
    auto n = admin::parse_int(v);
    if (!n || *n < 0) {
      admin::invalid("limit",
                     "?limit= must be a whole number, 0 or more (0: no limit), not \"" + v + "\"");
    }
    filter.limit = static_cast<uint64_t>(*n);
  }
  if (!hub) admin::fail(503, "unavailable", "the live tap is not running on this relay");

  auto tap = hub->open(std::move(filter));
  if (!tap) {
    const Status& st = tap.status();
    if (st.code() == StatusCode::kResourceExhausted) {
      admin::ApiError e{429, "tap_limit", st.message()};
      e.headers.emplace_back("Retry-After", "5");
      throw e;
    }
    if (st.code() == StatusCode::kInvalidArgument) admin::invalid("sample", st.message());
    admin::fail(503, "unavailable", "the live tap cannot open: " + st.message());
  }
  HttpResponse r;
  r.status = 200;
  r.content_type = "text/event-stream";
  r.headers.emplace_back("Cache-Control", "no-store");
  r.headers.emplace_back("X-Accel-Buffering", "no");
  r.stream = std::make_shared<TapBody>(std::move(tap.value()));
  return r;
}

}  // namespace tern::relay::control
