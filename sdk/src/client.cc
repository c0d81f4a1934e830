// Client: the public face of Engine. Every method forwards; none throws.
#include "tern/client.h"

#include "engine.h"

namespace tern {

class Client::Impl {
 public:
  explicit Impl(std::shared_ptr<Engine> e) : engine(std::move(e)) {}
  std::shared_ptr<Engine> engine;
};

Result<std::unique_ptr<Client>> Client::create(Config config) {
  try {
    auto engine = std::make_shared<Engine>(std::move(config));
    Status s = engine->start();
    if (!s) return s;
    return std::unique_ptr<Client>(new Client(std::make_unique<Impl>(std::move(engine))));
  } catch (const std::exception& e) {
    return Status(StatusCode::kInternal, std::string("Client::create: ") + e.what());
  } catch (...) {
    return Status(StatusCode::kInternal, "Client::create: unknown exception");
  }
}

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Client::~Client() {
  if (impl_) (void)impl_->engine->shutdown(std::chrono::seconds(2));
}

Status Client::track(std::string_view event, const nlohmann::json& properties,
                     const EventOptions& options) {
  return impl_->engine->record_dom(MessageType::kTrack, event, properties, options);
}
Status Client::identify(std::string_view user_id, const nlohmann::json& traits,
                        const EventOptions& options) {
  return impl_->engine->record_dom(MessageType::kIdentify, user_id, traits, options);
}
Status Client::screen(std::string_view name, const nlohmann::json& properties,
                      const EventOptions& options) {
  return impl_->engine->record_dom(MessageType::kScreen, name, properties, options);
}
Status Client::page(std::string_view name, const nlohmann::json& properties,
                    const EventOptions& options) {
  return impl_->engine->record_dom(MessageType::kPage, name, properties, options);
}
Status Client::group(std::string_view group_id, const nlohmann::json& traits,
                     const EventOptions& options) {
  return impl_->engine->record_dom(MessageType::kGroup, group_id, traits, options);
}
Status Client::alias(std::string_view new_user_id, const EventOptions& options) {
  return impl_->engine->record_dom(MessageType::kAlias, new_user_id, nullptr, options);
}
Status Client::enqueue(const RawMessage& message) { return impl_->engine->enqueue_raw(message); }

Status Client::flush(std::chrono::milliseconds timeout) { return impl_->engine->flush(timeout); }
void Client::reset() { impl_->engine->reset(); }
Status Client::set_consent(Consent consent) { return impl_->engine->set_consent(consent); }
Consent Client::consent() const { return impl_->engine->consent(); }
Status Client::set_opt_out(bool opted_out) { return impl_->engine->set_opt_out(opted_out); }
bool Client::opted_out() const { return impl_->engine->opted_out(); }
std::string Client::anonymous_id() const { return impl_->engine->anonymous_id(); }
std::string Client::user_id() const { return impl_->engine->user_id(); }
Status Client::shutdown(std::chrono::milliseconds timeout) {
  return impl_->engine->shutdown(timeout);
}
Stats Client::stats() const { return impl_->engine->stats(); }

Status Client::flush_async(std::chrono::milliseconds deadline,
                           std::function<void(FlushResult)> done) {
  return impl_->engine->flush_async(deadline, std::move(done));
}
Status Client::app_launched(std::string_view version, std::string_view build, std::string_view url,
                            std::string_view referrer) {
  return impl_->engine->app_launched(version, build, url, referrer);
}
Status Client::app_foreground() { return impl_->engine->app_foreground(); }
Status Client::app_background() { return impl_->engine->app_background(); }
std::optional<int64_t> Client::session_id() const { return impl_->engine->session_id(); }

}  // namespace tern
