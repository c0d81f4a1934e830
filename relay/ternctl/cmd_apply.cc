// ternctl plan and apply: the TOML file's pipeline, made to match the stored
// state where TOML cannot say it (desired_state), PUT as the whole state with
// If-Match on the current revision (a dry run for plan), and the answer's
// diff printed one resource a line (print_diff).
#include <algorithm>
#include <ctime>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "client.h"
#include "commands.h"
#include "control_state.h"
#include "tern/relay/config.h"

namespace tern::ternctl {

namespace {

using Json = nlohmann::json;
namespace control = tern::relay::control;

std::string now_iso() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// The file's pipeline as the body of PUT /admin/v1/state, made to match the
// stored state where the TOML file cannot say it: write keys whose value is
// stored keep their stored id, routes equal to a stored one keep its id, and
// the stored suppressions are kept (TOML has none).
Json desired_state(const control::State& from_file, const Json& current) {
  Json doc = from_file.to_json(false);
  doc.erase("revision");
  auto strip = [](Json* items) {
    if (!items->is_array()) return;
    for (Json& item : *items) {
      if (item.is_object()) item.erase("revision");
    }
  };
  strip(&doc["sources"]);
  strip(&doc["sinks"]);
  strip(&doc["routes"]);
  std::map<std::string, Json> stored_keys;  // key value -> stored key object
  if (current.contains("sources") && current["sources"].is_array()) {
    for (const Json& s : current["sources"]) {
      if (!s.contains("write_keys") || !s["write_keys"].is_array()) continue;
      for (const Json& k : s["write_keys"]) {
        if (k.contains("key") && k["key"].is_string()) stored_keys[k["key"]] = k;
      }
    }
  }
  if (doc["sources"].is_array()) {
    for (Json& s : doc["sources"]) {
      if (!s.contains("write_keys") || !s["write_keys"].is_array()) continue;
      for (Json& k : s["write_keys"]) {
        if (!k.contains("key") || !k["key"].is_string()) continue;
        auto it = stored_keys.find(k["key"].get<std::string>());
        if (it != stored_keys.end()) {
          k = it->second;
        } else {
          k.erase("id");  // a new key: the server gives it an id
          k.erase("created_at");
        }
      }
    }
  }
  if (doc["routes"].is_array() && current.contains("routes") && current["routes"].is_array()) {
    auto same = [](const Json& a, const Json& b) {
      for (const char* key : {"sources", "types", "sinks"}) {
        Json x = a.contains(key) ? a[key] : Json::array();
        Json y = b.contains(key) ? b[key] : Json::array();
        if (x != y) return false;
      }
      return true;
    };
    std::vector<bool> taken(current["routes"].size(), false);
    for (Json& route : doc["routes"]) {
      for (std::size_t i = 0; i < current["routes"].size(); ++i) {
        const Json& stored = current["routes"][i];
        if (!taken[i] && stored.contains("id") && same(route, stored)) {
          route["id"] = stored["id"];
          taken[i] = true;
          break;
        }
      }
    }
  }
  doc["suppressions"] = Json::array();
  if (current.contains("suppressions") && current["suppressions"].is_array()) {
    for (Json s : current["suppressions"]) {
      if (s.is_object()) s.erase("revision");
      doc["suppressions"].push_back(std::move(s));
    }
  }
  return doc;
}

void print_diff(const Json& diff) {
  if (!diff.is_array() || diff.empty()) {
    std::cout << "no changes\n";
    return;
  }
  for (const Json& d : diff) {
    std::string op = d.value("op", std::string());
    std::string resource = d.value("resource", std::string());
    char mark = op == "add" ? '+' : op == "remove" ? '-' : '~';
    std::cout << mark << " " << resource;
    if (d.contains("fields") && d["fields"].is_array() && !d["fields"].empty()) {
      std::cout << " (";
      bool first = true;
      for (const Json& f : d["fields"]) {
        std::cout << (first ? "" : ", ") << (f.is_string() ? f.get<std::string>() : f.dump());
        first = false;
      }
      std::cout << ")";
    }
    std::cout << "\n";
  }
}

}  // namespace

int cmd_plan_apply(const Client& client, const Args& args, bool apply) {
  auto config = tern::relay::load_config_file(args.file);
  if (!config) {
    std::cerr << "ternctl: " << config.status().message() << "\n";
    return kError;
  }
  control::State from_file = control::state_from_config(config.value(), now_iso());

  Response current = client.request("GET", "/admin/v1/state");
  if (!ok_status(current)) return fail(client, current);
  auto current_doc = parse_body(current);
  if (!current_doc) return kError;
  long long rev = etag_revision(current.etag);
  if (rev < 0 && current_doc->contains("revision") && (*current_doc)["revision"].is_number())
    rev = (*current_doc)["revision"].get<long long>();
  if (rev < 0) {
    std::cerr << "ternctl: GET /admin/v1/state answered without a revision\n";
    return kError;
  }
  Json body = desired_state(from_file, *current_doc);
  std::string target = "/admin/v1/state";
  std::string query = apply ? "" : "dry_run=true";
  if (args.force) query += std::string(query.empty() ? "" : "&") + "force=true";
  if (!query.empty()) target += "?" + query;
  Response r = client.request("PUT", target, body.dump(), "\"" + std::to_string(rev) + "\"");
  if (!ok_status(r)) return fail(client, r);
  auto doc = parse_body(r);
  if (!doc) return kError;
  if (!apply) {
    bool valid = doc->value("valid", true);
    print_diff(doc->contains("diff") ? (*doc)["diff"] : Json::array());
    if (!valid) {
      std::cerr << "ternctl: the file is not a valid state:\n";
      if (doc->contains("errors") && (*doc)["errors"].is_array()) {
        for (const Json& e : (*doc)["errors"]) {
          std::cerr << "  " << e.value("resource", std::string("-"));
          std::string f = e.value("field", std::string());
          if (!f.empty()) std::cerr << "." << f;
          std::cerr << ": " << e.value("message", std::string()) << "\n";
        }
      }
      return kError;
    }
    return kOk;
  }
  long long applied = etag_revision(r.etag);
  if (doc->contains("revision") && (*doc)["revision"].is_number())
    applied = (*doc)["revision"].get<long long>();
  if (applied == rev) {
    std::cout << "no changes: revision " << applied << "\n";
  } else {
    std::cout << "applied: revision " << applied << "\n";
  }
  return kOk;
}

}  // namespace tern::ternctl
