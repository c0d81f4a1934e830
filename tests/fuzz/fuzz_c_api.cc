// libFuzzer target: the C API's JSON-taking calls. One client (created once,
// SQLite in a temp dir) takes each input as an event call: which call, the
// name, context/integrations JSON in tern_event_options, a plugin's
// replacement event (tern_plugin_event_replace), and the properties/traits
// JSON. A host transport checks that every batch the library sends is JSON
// whose events are objects with a messageId, and answers 200.
// Oracle: each call returns one of its documented statuses and never
// crashes; nothing invalid ever leaves the library.
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "byte_reader.h"
#include "tern/tern.h"

namespace {

[[noreturn]] void fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "fuzz oracle: %s: %s\n", what, detail.c_str());
  std::abort();
}

thread_local std::string g_replacement;  // what the plugin puts in place of the event
thread_local bool g_replace = false;

void check_batch(void*, const tern_http_request* request, tern_http_response* response) {
  std::string body(static_cast<const char*>(request->body), request->body_length);
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.contains("batch") || !j["batch"].is_array())
    fail("a batch that is not JSON", body);
  for (const auto& e : j["batch"]) {
    // Events are objects with a messageId and a type, even when a plugin's
    // replacement left them out (the library puts its own back).
    if (!e.is_object()) fail("an event that is not an object", e.dump());
    auto id = e.find("messageId");
    if (id == e.end() || !id->is_string() || id->get_ref<const std::string&>().empty()) {
      fail("an event without a messageId", e.dump());
    }
    auto type = e.find("type");
    if (type == e.end() || !type->is_string()) fail("an event without a type", e.dump());
  }
  tern_http_response_set_status(response, 200);
}

int replace_plugin(void*, const char*, size_t, tern_plugin_event* event) {
  if (g_replace) {
    tern_status s = tern_plugin_event_replace(event, g_replacement.data(), g_replacement.size());
    if (s != TERN_OK && s != TERN_INVALID_ARGUMENT)
      fail("tern_plugin_event_replace", tern_status_str(s));
  }
  return 1;
}

void quiet(void*, tern_log_level, const char*, size_t) {}

struct Rig {
  Rig() {
    // tmpfs when there is one: every accepted event is committed (fsync) and
    // uploaded, and disk latency would set the pace of the run.
    char shm[] = "/dev/shm/tern-fuzz-capi-XXXXXX";
    char tmp[] = "/tmp/tern-fuzz-capi-XXXXXX";
    if (::mkdtemp(shm)) {
      dir = shm;
    } else {
      dir = ::mkdtemp(tmp) ? tmp : "/tmp";
    }
    tern_options* o = tern_options_new();
    tern_options_set_endpoint(o, "http://127.0.0.1:9");
    tern_options_set_write_key(o, "fuzz");
    tern_options_set_storage_path(o, (dir + "/fuzz.db").c_str());
    tern_options_set_gzip(o, 0);
    // Deterministic for the smoke run's fixed seed: events commit on the
    // caller's thread and upload only when the target flushes (after every
    // accepted event, waiting for it), so the library's worker thread is idle
    // between inputs and adds no coverage to the wrong one.
    tern_options_set_durability(o, TERN_DURABILITY_IMMEDIATE);
    tern_options_set_flush_at(o, 1000000);
    tern_options_set_flush_interval_ms(o, 24 * 3600 * 1000);
    tern_options_set_max_queue_events(o, 500);
    tern_options_set_max_event_bytes(o, 4096);
    tern_transport t{TERN_TRANSPORT_VERSION, nullptr, nullptr, check_batch};
    tern_options_set_transport(o, &t);
    tern_logger l{TERN_LOGGER_VERSION, nullptr, nullptr, quiet};
    tern_options_set_logger(o, &l, TERN_LOG_ERROR);
    tern_plugin p{TERN_PLUGIN_VERSION, nullptr, nullptr, replace_plugin};
    tern_options_add_plugin(o, &p);
    tern_status s = tern_client_create(o, &client);
    tern_options_free(o);
    if (s != TERN_OK) fail("tern_client_create", tern_status_str(s));
    s = tern_client_flush(client, 10000);  // the worker's start-up work is done
    if (s != TERN_OK) fail("tern_client_flush", tern_status_str(s));
  }
  ~Rig() {
    tern_client_destroy(client);
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  std::string dir;
  tern_client* client = nullptr;
};

const char* or_null(const std::string& s, bool null) { return null ? nullptr : s.c_str(); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Rig rig;
  tern::fuzz::ByteReader in(data, size);
  std::size_t call = in.choose(6);
  std::string name = in.string(24);
  std::string context = in.string(64);
  std::string integrations = in.string(32);
  g_replace = in.flag();
  g_replacement = g_replace ? in.string(96) : std::string();
  bool null_name = in.flag(), null_props = in.flag(), with_options = in.flag();
  std::string props = in.rest();

  tern_event_options opts{};
  opts.struct_size = sizeof opts;
  opts.context_json = context.empty() ? nullptr : context.c_str();
  opts.integrations_json = integrations.empty() ? nullptr : integrations.c_str();
  const tern_event_options* o = with_options ? &opts : nullptr;
  tern_status s = TERN_OK;
  switch (call) {
    case 0:
      s = tern_client_track(rig.client, or_null(name, null_name), or_null(props, null_props), o);
      break;
    case 1:
      s = tern_client_identify(rig.client, or_null(name, null_name), or_null(props, null_props), o);
      break;
    case 2:
      s = tern_client_screen(rig.client, or_null(name, null_name), or_null(props, null_props), o);
      break;
    case 3:
      s = tern_client_page(rig.client, or_null(name, null_name), or_null(props, null_props), o);
      break;
    case 4:
      s = tern_client_group(rig.client, or_null(name, null_name), or_null(props, null_props), o);
      break;
    default:
      s = tern_client_alias(rig.client, or_null(name, null_name), o);
      break;
  }
  switch (s) {
    case TERN_OK:
    case TERN_INVALID_ARGUMENT:
    case TERN_TOO_LARGE:
    case TERN_QUEUE_FULL:
      break;
    default:
      fail("an event call returned an undocumented status", tern_status_str(s));
  }
  if (s != TERN_OK && tern_client_last_error(rig.client) == nullptr)
    fail("no last error", tern_status_str(s));
  g_replace = false;
  if (s == TERN_OK) {
    tern_status f = tern_client_flush(rig.client, 10000);
    if (f != TERN_OK) fail("tern_client_flush", tern_status_str(f));
  }
  return 0;
}
