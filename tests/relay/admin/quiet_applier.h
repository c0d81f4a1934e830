// QuietApplier: an Applier that accepts every state and runs nothing, for
// admin API tests that exercise what the API serves rather than what it
// applies (the console's files, the overview, the dead letters).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "applier.h"

namespace tern::relay::control {

class QuietApplier : public Applier {
 public:
  bool validate(const State&, std::vector<FieldError>*) override { return true; }
  Status apply(const State&) override { return Status::ok(); }
  int64_t applied_revision() const override { return 0; }
  uint64_t undelivered(std::string_view) const override { return 0; }
  void count_discarded(std::string_view, uint64_t) override {}
  Status test_sink(const Json&) override { return Status::ok(); }
};

}  // namespace tern::relay::control
