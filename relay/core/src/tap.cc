// TapHub (tap.h). A stub until the tap is built: every open() is refused.
#include "tern/relay/tap.h"

namespace tern::relay {

struct TapHub::Impl {};

TapHub::TapHub(TapOptions, Metrics&, std::function<std::unique_ptr<SpoolReader>(uint64_t)>,
               std::function<uint64_t()>)
    : impl_(std::make_unique<Impl>()) {}
TapHub::~TapHub() = default;
Result<std::shared_ptr<TapStream>> TapHub::open(TapFilter) {
  return Status(StatusCode::kUnavailable, "the tap is not built yet");
}
int TapHub::open_taps() const { return 0; }
void TapHub::set_options(TapOptions) {}
void TapHub::close() {}
void TapHub::deliver_rejected(std::string_view, std::string_view, std::string_view,
                              std::string_view, std::string_view) {}

}  // namespace tern::relay
