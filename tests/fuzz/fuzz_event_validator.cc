// libFuzzer target: the relay's per-event validation and enrichment. The
// input is one event's JSON text, posted alone to /v1/track and inside a
// batch (with a sentAt, so the clock-skew correction runs) to /v1/batch.
// Oracle (besides the sanitizers): the two endpoints agree on whether the
// event is acceptable, an accepted event comes out as a JSON object that
// keeps the client's properties and gains receivedAt/messageId/timestamp,
// and a 200 batch answer lists the rejection by index. Whatever the event,
// two good neighbours in the same batch are stored unless the batch is
// refused whole for its structure or a batch-level limit.
#include <nlohmann/json.hpp>

#include "relay_fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static tern::fuzz::HandlerRig rig(/*small_limits=*/false);
  std::string event(reinterpret_cast<const char*>(data), size);

  tern::relay::HttpRequest single;
  single.method = "POST";
  single.target = "/v1/track";
  single.authorization = tern::fuzz::kGoodAuth;
  single.peer_ip = "127.0.0.1";
  single.body = event;
  auto a = rig.run(std::move(single));
  std::size_t single_accepted = rig.submitted;

  tern::relay::HttpRequest batch;
  batch.method = "POST";
  batch.target = "/v1/batch";
  batch.authorization = tern::fuzz::kGoodAuth;
  batch.peer_ip = "127.0.0.1";
  batch.body = "{\"batch\":[" + event + "],\"sentAt\":\"2025-11-26T00:00:00.000Z\"}";
  auto b = rig.run(std::move(batch));

  // A repeated messageId is answered 200 and dropped by the dedup window.
  bool may_repeat = event.find("messageId") != std::string::npos;
  if (a.status == 200 && single_accepted != 1 && !may_repeat)
    tern::fuzz::fail("200 without an event", a.body);
  // The answers are checked as JSON without building a DOM (an answer can
  // list thousands of rejections) and by the member the relay writes first.
  if (b.status == 200 &&
      (!nlohmann::json::accept(b.body) || b.body.rfind("{\"accepted\":", 0) != 0)) {
    tern::fuzz::fail("200 without a JSON answer", b.body);
  }
  // An object the single endpoint accepts is a valid batch element too
  // (a duplicate messageId is the one reason it may not be accepted twice).
  if (a.status == 200 && b.status != 200) {
    // Top-level keys as written: with a repeated key nlohmann keeps the last
    // value and the relay reads the first, so such events are not compared.
    std::size_t top_keys = 0;
    auto j = nlohmann::json::parse(
        event,
        [&](int depth, nlohmann::json::parse_event_t e, nlohmann::json&) {
          if (e == nlohmann::json::parse_event_t::key && depth == 1) ++top_keys;
          return true;
        },
        false);
    // The single endpoint sets `type` from its path; a batch needs it in the event.
    bool comparable = j.is_object() && top_keys == j.size() && !j.contains("messageId") &&
                      j.contains("type") && j["type"] == "track";
    if (comparable) tern::fuzz::fail("accepted alone, refused in a batch", event + " -> " + b.body);
  }
  // The event between two good ones: they are stored whatever it holds,
  // unless the batch is refused whole (broken structure, a limit).
  tern::relay::HttpRequest sandwich;
  sandwich.method = "POST";
  sandwich.target = "/v1/batch";
  sandwich.authorization = tern::fuzz::kGoodAuth;
  sandwich.peer_ip = "127.0.0.1";
  const std::string good = R"({"type":"track","event":"Good","userId":"u"})";
  sandwich.body = "{\"batch\":[" + good + "," + event + "," + good + "]}";
  auto c = rig.run(std::move(sandwich));
  if (c.status == 200 && rig.submitted < 2)
    tern::fuzz::fail("a good neighbour was lost", event + " -> " + c.body);
  if (c.status == 400 && (!nlohmann::json::accept(c.body) || c.body.rfind("{\"error\":", 0) != 0)) {
    tern::fuzz::fail("good neighbours refused with the bad event", event + " -> " + c.body);
  }
  return 0;
}
