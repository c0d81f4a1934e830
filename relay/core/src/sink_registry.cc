#include "tern/relay/sink_registry.h"

namespace tern::relay {

Status SinkRegistry::add(std::string type, SinkFactory factory) {
  if (type.empty()) return Status(StatusCode::kInvalidArgument, "sink type name is empty");
  if (!factory) {
    return Status(StatusCode::kInvalidArgument, "sink type \"" + type + "\" has no factory");
  }
  if (factories_.count(type)) {
    return Status(StatusCode::kInvalidArgument, "sink type \"" + type + "\" is already registered");
  }
  factories_.emplace(std::move(type), std::move(factory));
  return Status::ok();
}

Result<std::unique_ptr<Sink>> SinkRegistry::create(const SinkConfig& config,
                                                   const SinkContext& ctx) const {
  auto it = factories_.find(config.type);
  if (it == factories_.end()) {
    std::string known;
    for (const auto& [name, f] : factories_) {
      if (!known.empty()) known += ", ";
      known += name;
    }
    std::string where =
        config.type_origin.empty() ? "sink \"" + config.name + "\"" : config.type_origin;
    return Status(StatusCode::kNotFound,
                  where + ": unknown sink type \"" + config.type + "\" (known: " + known + ")");
  }
  auto r = it->second(config, ctx);
  if (r.is_ok() && !r.value()) {
    return Status(StatusCode::kInternal, "sink \"" + config.name + "\": factory returned null");
  }
  return r;
}

bool SinkRegistry::contains(std::string_view type) const { return factories_.count(type) > 0; }

std::vector<std::string> SinkRegistry::types() const {
  std::vector<std::string> v;
  for (const auto& [name, f] : factories_) v.push_back(name);
  return v;
}

}  // namespace tern::relay
