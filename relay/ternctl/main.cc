// ternctl: the command-line client of the relay's admin API
// (docs/control-plane.md, "ternctl"). Exit status: 0 success, 1 an error
// (the API's message on stderr), 2 bad usage.
#include <curl/curl.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "control_state.h"
#include "tern/base/curl_global.h"
#include "tern/base/version.h"
#include "tern/relay/config.h"

namespace {

using Json = nlohmann::json;
namespace control = tern::relay::control;

constexpr int kOk = 0;
constexpr int kError = 1;
constexpr int kUsage = 2;
constexpr long kTimeoutMs = 60'000;
constexpr const char kDefaultServer[] = "http://127.0.0.1:8081";

constexpr const char kUsageText[] =
    R"(ternctl: the command-line client of tern-relay's admin API

Usage: ternctl [--server URL] [--token-file PATH] COMMAND [ARGS]

Commands:
  get sources|sinks|routes|relays|revisions [-o json]
                            list them (a table; -o json: the API's JSON)
  create source ID          create a source; prints its write key
  delete source|sink|route ID [--discard] [--force]
                            delete one (--discard: drop a sink's undelivered
                            events; --force: allow removing over half of them)
  plan -f pipeline.toml     the diff of applying the file as the whole state
  apply -f pipeline.toml [--force]
                            apply it (PUT /admin/v1/state with If-Match);
                            prints the new revision
  restore REV               commit revision REV's state as a new revision
  tap [--source ID] [--type T] [--event NAME] [--rejected] [--sample F]
      [--limit N]           the events the relay accepts, live, one JSON line
                            each (docs/tap.md); Ctrl-C ends it

Options:
  --server URL              the admin listener (default: $TERN_ADMIN_URL,
                            else http://127.0.0.1:8081)
  --token-file PATH         a file whose first line is the token (default:
                            $TERN_ADMIN_TOKEN)
  -o, --output json|table   output format of get (default: table)
  -f, --file PATH           the TOML file of plan and apply
  --page-size N             items per request of get (1..500, default 500);
                            get follows the cursor to list everything
  --ca-file PATH            CA certificates for an https server with a
                            private CA (default: the system's)
  --source ID, --type T, --event NAME
                            tap: only these (repeat, or comma-separate)
  --rejected                tap: also events the relay refused, with the reason
  --sample F                tap: show this fraction of the matching events (0..1]
  --limit N                 tap: end after N events
  -h, --help                this text
  --version                 ternctl's version

plan and apply take the pipeline of the file (sources, sinks, routes); its
process settings ([server], [limits], [spool], data_dir, ...) are ignored and
the suppressions stored on the server are kept.

Exit status: 0 success, 1 an error (the API's message on stderr), 2 bad usage.
)";

struct UsageError {
  std::string message;
};

struct Args {
  std::string server;
  std::string token_file;
  std::string output = "table";
  std::string file;
  std::string ca_file;
  int page_size = 500;
  bool discard = false;
  bool force = false;
  std::vector<std::string> positional;
  // tap
  std::string sources, types, events, sample, limit;
  bool rejected = false;
};

struct Response {
  CURLcode curl = CURLE_OK;
  std::string error;  // curl's message
  long status = 0;
  std::string body;
  std::string etag;
};

size_t on_body(char* data, size_t size, size_t n, void* user) {
  static_cast<Response*>(user)->body.append(data, size * n);
  return size * n;
}

size_t on_header(char* data, size_t size, size_t n, void* user) {
  std::string line(data, size * n);
  static const std::string kEtag = "etag:";
  if (line.size() > kEtag.size()) {
    std::string head = line.substr(0, kEtag.size());
    std::transform(head.begin(), head.end(), head.begin(), ::tolower);
    if (head == kEtag) {
      std::string v = line.substr(kEtag.size());
      while (!v.empty() && (v.back() == '\r' || v.back() == '\n' || v.back() == ' ')) v.pop_back();
      v.erase(0, v.find_first_not_of(' '));
      static_cast<Response*>(user)->etag = v;
    }
  }
  return size * n;
}

class Client {
 public:
  Client(std::string server, std::string token, std::string ca_file)
      : server_(std::move(server)), token_(std::move(token)), ca_file_(std::move(ca_file)) {
    while (!server_.empty() && server_.back() == '/') server_.pop_back();
  }

  Response request(const std::string& method, const std::string& target,
                   const std::string& body = {}, const std::string& if_match = {}) const {
    Response r;
    CURL* c = curl_easy_init();
    if (!c) {
      r.curl = CURLE_FAILED_INIT;
      r.error = "curl_easy_init failed";
      return r;
    }
    char errbuf[CURL_ERROR_SIZE] = {0};
    curl_slist* headers = nullptr;
    std::string auth = "Authorization: Bearer " + token_;
    headers = curl_slist_append(headers, auth.c_str());
    headers = curl_slist_append(headers, "Accept: application/json");
    headers = curl_slist_append(headers, "Expect:");
    if (!body.empty()) headers = curl_slist_append(headers, "Content-Type: application/json");
    std::string if_match_header = "If-Match: " + if_match;
    if (!if_match.empty()) headers = curl_slist_append(headers, if_match_header.c_str());
    std::string url = server_ + target;
    std::string agent = std::string("ternctl/") + TERN_VERSION_STRING;
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, kTimeoutMs);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 10'000L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, agent.c_str());
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    if (!ca_file_.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, ca_file_.c_str());
    if (method == "POST" || method == "PUT" || method == "PATCH") {
      curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
      curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    }
    r.curl = curl_easy_perform(c);
    if (r.curl == CURLE_OK) {
      curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    } else {
      r.error = errbuf[0] ? errbuf : curl_easy_strerror(r.curl);
    }
    curl_slist_free_all(headers);
    curl_easy_cleanup(c);
    return r;
  }

  // GET `target` as a stream: each piece of a 2xx body goes to `on_data` as
  // it arrives (any other answer is kept in the Response's body). No overall
  // timeout; a server silent for a minute (the tap says something every
  // 15 s) ends it. `keep_going` is asked often; false aborts quietly.
  Response stream(const std::string& target, const std::function<void(std::string_view)>& on_data,
                  const std::function<bool()>& keep_going) const {
    struct Sink {
      Response* r;
      CURL* c;
      const std::function<void(std::string_view)>* on_data;
      const std::function<bool()>* keep_going;
    };
    Response r;
    CURL* c = curl_easy_init();
    if (!c) {
      r.curl = CURLE_FAILED_INIT;
      r.error = "curl_easy_init failed";
      return r;
    }
    Sink sink{&r, c, &on_data, &keep_going};
    char errbuf[CURL_ERROR_SIZE] = {0};
    std::string url = server_ + target;
    std::string auth = "Authorization: Bearer " + token_;
    struct curl_slist* headers = curl_slist_append(nullptr, auth.c_str());
    headers = curl_slist_append(headers, "Accept: text/event-stream");
    std::string agent = std::string("ternctl/") + TERN_VERSION_STRING;
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 10'000L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, agent.c_str());
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    if (!ca_file_.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, ca_file_.c_str());
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION,
                     static_cast<size_t (*)(char*, size_t, size_t, void*)>(
                         [](char* data, size_t size, size_t n, void* user) -> size_t {
                           auto* k = static_cast<Sink*>(user);
                           long status = 0;
                           curl_easy_getinfo(k->c, CURLINFO_RESPONSE_CODE, &status);
                           if (status >= 200 && status < 300) {
                             (*k->on_data)(std::string_view(data, size * n));
                           } else {
                             k->r->body.append(data, size * n);
                           }
                           return size * n;
                         }));
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION,
                     static_cast<int (*)(void*, curl_off_t, curl_off_t, curl_off_t, curl_off_t)>(
                         [](void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) -> int {
                           return (*static_cast<Sink*>(user)->keep_going)() ? 0 : 1;
                         }));
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, &sink);
    r.curl = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    if (r.curl != CURLE_OK) r.error = errbuf[0] ? errbuf : curl_easy_strerror(r.curl);
    curl_slist_free_all(headers);
    curl_easy_cleanup(c);
    return r;
  }

  const std::string& server() const { return server_; }

 private:
  std::string server_;
  std::string token_;
  std::string ca_file_;
};

std::string escape(const std::string& s) {
  std::string out;
  if (char* e = curl_easy_escape(nullptr, s.c_str(), static_cast<int>(s.size()))) {
    out = e;
    curl_free(e);
  }
  return out;
}

// Prints why `r` failed on stderr: the API's error (message, code, field and
// every detail) or the transport's.
int fail(const Client& client, const Response& r) {
  if (r.curl != CURLE_OK) {
    std::cerr << "ternctl: " << client.server() << ": " << r.error << "\n";
    return kError;
  }
  Json doc = Json::parse(r.body, nullptr, false);
  if (!doc.is_discarded() && doc.is_object() && doc.contains("error")) {
    const Json& e = doc["error"];
    if (e.is_object()) {
      std::string message = e.value("message", std::string("request failed"));
      std::string code = e.value("code", std::string());
      std::string field = e.value("field", std::string());
      std::cerr << "ternctl: " << message;
      if (!code.empty() || !field.empty()) {
        std::cerr << " (";
        if (!code.empty()) std::cerr << code;
        if (!field.empty()) std::cerr << (code.empty() ? "" : ", ") << "field " << field;
        std::cerr << ")";
      }
      std::cerr << " [HTTP " << r.status << "]\n";
      if (e.contains("details") && e["details"].is_array()) {
        for (const Json& d : e["details"]) {
          std::cerr << "  " << d.value("resource", std::string("-"));
          std::string f = d.value("field", std::string());
          if (!f.empty()) std::cerr << "." << f;
          std::cerr << ": " << d.value("message", std::string()) << "\n";
        }
      }
      return kError;
    }
    if (e.is_string()) {
      std::cerr << "ternctl: " << e.get<std::string>();
      if (doc.contains("message") && doc["message"].is_string())
        std::cerr << ": " << doc["message"].get<std::string>();
      std::cerr << " [HTTP " << r.status << "]\n";
      return kError;
    }
  }
  std::string text = r.body.substr(0, 300);
  std::cerr << "ternctl: HTTP " << r.status << (text.empty() ? "" : ": " + text) << "\n";
  return kError;
}

bool ok_status(const Response& r) {
  return r.curl == CURLE_OK && r.status >= 200 && r.status < 300;
}

std::optional<Json> parse_body(const Response& r) {
  Json doc = Json::parse(r.body, nullptr, false);
  if (doc.is_discarded()) {
    std::cerr << "ternctl: the server's answer is not JSON: " << r.body.substr(0, 200) << "\n";
    return std::nullopt;
  }
  return doc;
}

std::string text_of(const Json& v) {
  if (v.is_null()) return "-";
  if (v.is_string()) return v.get<std::string>().empty() ? "-" : v.get<std::string>();
  if (v.is_array()) {
    if (v.empty()) return "*";
    std::string out;
    for (const Json& x : v) {
      if (!out.empty()) out += ",";
      out += x.is_string() ? x.get<std::string>() : x.dump();
    }
    return out;
  }
  if (v.is_object()) {
    if (v.empty()) return "-";
    std::string out;
    for (auto it = v.begin(); it != v.end(); ++it) {
      if (!out.empty()) out += ",";
      out += it.key() + "=" + (it->is_string() ? it->get<std::string>() : it->dump());
    }
    return out;
  }
  return v.dump();
}

void print_table(const std::vector<std::string>& header,
                 const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width(header.size());
  for (std::size_t i = 0; i < header.size(); ++i) width[i] = header[i].size();
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < row.size() && i < width.size(); ++i)
      width[i] = std::max(width[i], row[i].size());
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (std::size_t i = 0; i < cells.size(); ++i) {
      out += cells[i];
      if (i + 1 < cells.size()) out += std::string(width[i] - cells[i].size() + 2, ' ');
    }
    std::cout << out << "\n";
  };
  line(header);
  for (const auto& row : rows) line(row);
}

int cmd_get(const Client& client, const Args& args) {
  const std::string& kind = args.positional[1];
  Json items = Json::array();
  std::string cursor;
  for (int page = 0; page < 100'000; ++page) {
    std::string target = "/admin/v1/" + kind + "?limit=" + std::to_string(args.page_size);
    if (!cursor.empty()) target += "&cursor=" + escape(cursor);
    Response r = client.request("GET", target);
    if (!ok_status(r)) return fail(client, r);
    auto doc = parse_body(r);
    if (!doc) return kError;
    if (!doc->is_object() || !doc->contains("items") || !(*doc)["items"].is_array()) {
      std::cerr << "ternctl: the server's answer has no items list\n";
      return kError;
    }
    for (Json& item : (*doc)["items"]) items.push_back(std::move(item));
    if (!doc->contains("next_cursor") || !(*doc)["next_cursor"].is_string() ||
        (*doc)["next_cursor"].get<std::string>().empty())
      break;
    cursor = (*doc)["next_cursor"].get<std::string>();
  }
  if (args.output == "json") {
    std::cout << Json{{"items", items}}.dump(2) << "\n";
    return kOk;
  }
  std::vector<std::vector<std::string>> rows;
  auto rev = [](const Json& item, const char* key) {
    return item.contains(key) ? text_of(item[key]) : std::string("-");
  };
  if (kind == "sources") {
    for (const Json& s : items) {
      std::size_t keys =
          s.contains("write_keys") && s["write_keys"].is_array() ? s["write_keys"].size() : 0;
      rows.push_back({rev(s, "id"), rev(s, "ack_mode"), std::to_string(keys), rev(s, "revision")});
    }
    print_table({"ID", "ACK MODE", "WRITE KEYS", "REVISION"}, rows);
  } else if (kind == "sinks") {
    for (const Json& s : items)
      rows.push_back({rev(s, "name"), rev(s, "type"), rev(s, "revision")});
    print_table({"NAME", "TYPE", "REVISION"}, rows);
  } else if (kind == "routes") {
    for (const Json& s : items) {
      rows.push_back(
          {rev(s, "id"), rev(s, "sources"), rev(s, "types"), rev(s, "sinks"), rev(s, "revision")});
    }
    print_table({"ID", "SOURCES", "TYPES", "SINKS", "REVISION"}, rows);
  } else if (kind == "relays") {
    for (const Json& s : items) {
      std::string errors = "-";
      if (s.contains("errors") && s["errors"].is_array() && !s["errors"].empty()) {
        errors.clear();
        for (const Json& e : s["errors"]) {
          if (!errors.empty()) errors += "; ";
          errors += e.is_string() ? e.get<std::string>() : e.dump();
        }
      }
      rows.push_back({rev(s, "relay_id"), rev(s, "applied_revision"), rev(s, "status"),
                      rev(s, "last_seen"), rev(s, "version"), rev(s, "labels"), errors});
    }
    print_table({"RELAY ID", "REVISION", "STATUS", "LAST SEEN", "VERSION", "LABELS", "ERRORS"},
                rows);
  } else {
    for (const Json& s : items) {
      rows.push_back(
          {rev(s, "revision"), rev(s, "created_at"), rev(s, "token_id"), rev(s, "summary")});
    }
    print_table({"REVISION", "CREATED AT", "BY", "SUMMARY"}, rows);
  }
  return kOk;
}

int cmd_create(const Client& client, const Args& args) {
  Json body = {{"id", args.positional[2]}};
  Response r = client.request("POST", "/admin/v1/sources", body.dump());
  if (!ok_status(r)) return fail(client, r);
  auto doc = parse_body(r);
  if (!doc) return kError;
  if (args.output == "json") {
    std::cout << doc->dump(2) << "\n";
    return kOk;
  }
  const Json* keys = doc->contains("write_keys") ? &(*doc)["write_keys"] : nullptr;
  if (!keys || !keys->is_array() || keys->empty() || !(*keys)[0].contains("key")) {
    std::cerr << "ternctl: the created source has no write key in the answer\n";
    return kError;
  }
  std::cout << (*keys)[0]["key"].get<std::string>() << "\n";
  return kOk;
}

int cmd_delete(const Client& client, const Args& args) {
  const std::string& kind = args.positional[1];
  std::string target = "/admin/v1/" + kind + "s/" + escape(args.positional[2]);
  std::string query;
  if (args.discard) query += "discard=true";
  if (args.force) query += std::string(query.empty() ? "" : "&") + "force=true";
  if (!query.empty()) target += "?" + query;
  Response r = client.request("DELETE", target);
  if (!ok_status(r)) return fail(client, r);
  std::cout << kind << " \"" << args.positional[2] << "\" deleted\n";
  return kOk;
}

std::string now_iso() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// The revision an ETag ("42", W/"42") names; -1 when none.
long long etag_revision(const std::string& etag) {
  std::string v = etag;
  if (v.rfind("W/", 0) == 0) v = v.substr(2);
  v.erase(std::remove(v.begin(), v.end(), '"'), v.end());
  if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos) return -1;
  return std::stoll(v);
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

std::atomic<bool> g_interrupted{false};

// ternctl tap: GET /admin/v1/tap, each event's `data:` JSON printed as one
// line on stdout as it comes; drop notices on stderr; comments skipped.
int cmd_tap(const Client& client, const Args& args) {
  std::string target = "/admin/v1/tap";
  char sep = '?';
  auto param = [&](const char* name, const std::string& value) {
    if (value.empty()) return;
    target += sep;
    target += name;
    target += '=';
    target += escape(value);
    sep = '&';
  };
  param("source", args.sources);
  param("type", args.types);
  param("event", args.events);
  if (args.rejected) param("rejected", "true");
  param("sample", args.sample);
  param("limit", args.limit);

  struct sigaction sa {};
  sa.sa_handler = [](int) { g_interrupted.store(true); };
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  std::string pending;     // an incomplete line
  std::string event_type;  // the current message's `event:` field
  auto on_line = [&](std::string_view line) {
    if (line.empty()) {  // the end of a message
      event_type.clear();
      return;
    }
    if (line.front() == ':') return;  // a comment (tap open, keep-alive)
    if (line.rfind("event:", 0) == 0) {
      std::string_view v = line.substr(6);
      if (!v.empty() && v.front() == ' ') v.remove_prefix(1);
      event_type = std::string(v);
      return;
    }
    if (line.rfind("data:", 0) != 0) return;  // id: and anything else
    line.remove_prefix(5);
    if (!line.empty() && line.front() == ' ') line.remove_prefix(1);
    if (event_type == "dropped") {
      Json d = Json::parse(line, nullptr, false);
      if (d.is_object()) {
        std::cerr << "ternctl: " << d.value("dropped", 0) << " events not shown ("
                  << d.value("reason", std::string("?")) << ")\n";
      }
      return;
    }
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
  };
  Response r = client.stream(
      target,
      [&](std::string_view data) {
        pending.append(data);
        std::size_t start = 0;
        for (std::size_t nl; (nl = pending.find('\n', start)) != std::string::npos;
             start = nl + 1) {
          std::string_view line(pending.data() + start, nl - start);
          if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
          on_line(line);
        }
        pending.erase(0, start);
      },
      [] { return !g_interrupted.load(); });
  if (g_interrupted.load()) return kOk;  // Ctrl-C: the viewer is done
  if (!ok_status(r)) return fail(client, r);
  return kOk;
}

int cmd_restore(const Client& client, const Args& args) {
  const std::string& rev = args.positional[1];
  Response r = client.request("POST", "/admin/v1/revisions/" + rev + ":restore");
  if (!ok_status(r)) return fail(client, r);
  auto doc = parse_body(r);
  if (!doc) return kError;
  long long applied = etag_revision(r.etag);
  if (doc->contains("revision") && (*doc)["revision"].is_number())
    applied = (*doc)["revision"].get<long long>();
  std::cout << "restored revision " << rev << " as revision " << applied << "\n";
  return kOk;
}

Args parse_args(int argc, char** argv, bool* help, bool* version) {
  Args args;
  auto value = [&](int& i, const std::string& flag, const std::string& arg) -> std::string {
    std::string prefix = flag + "=";
    if (arg.rfind(prefix, 0) == 0) return arg.substr(prefix.size());
    if (i + 1 >= argc) throw UsageError{flag + " needs a value"};
    return argv[++i];
  };
  auto is = [](const std::string& arg, const std::string& flag) {
    return arg == flag || arg.rfind(flag + "=", 0) == 0;
  };
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      *help = true;
    } else if (a == "--version") {
      *version = true;
    } else if (is(a, "--server")) {
      args.server = value(i, "--server", a);
    } else if (is(a, "--token-file")) {
      args.token_file = value(i, "--token-file", a);
    } else if (is(a, "--output")) {
      args.output = value(i, "--output", a);
    } else if (is(a, "-o")) {
      args.output = value(i, "-o", a);
    } else if (a.size() > 2 && a.rfind("-o", 0) == 0 && a[2] != '=') {
      args.output = a.substr(2);
    } else if (is(a, "--file")) {
      args.file = value(i, "--file", a);
    } else if (is(a, "-f")) {
      args.file = value(i, "-f", a);
    } else if (is(a, "--ca-file")) {
      args.ca_file = value(i, "--ca-file", a);
    } else if (is(a, "--page-size")) {
      std::string v = value(i, "--page-size", a);
      if (v.empty() || v.size() > 3 || v.find_first_not_of("0123456789") != std::string::npos ||
          std::stoi(v) < 1 || std::stoi(v) > 500)
        throw UsageError{"--page-size: a number from 1 to 500, not \"" + v + "\""};
      args.page_size = std::stoi(v);
    } else if (is(a, "--source")) {
      args.sources += (args.sources.empty() ? "" : ",") + value(i, "--source", a);
    } else if (is(a, "--type")) {
      args.types += (args.types.empty() ? "" : ",") + value(i, "--type", a);
    } else if (is(a, "--event")) {
      args.events += (args.events.empty() ? "" : ",") + value(i, "--event", a);
    } else if (a == "--rejected") {
      args.rejected = true;
    } else if (is(a, "--sample")) {
      args.sample = value(i, "--sample", a);
      char* end = nullptr;
      double f = std::strtod(args.sample.c_str(), &end);
      if (args.sample.empty() || *end != '\0' || !(f > 0 && f <= 1))
        throw UsageError{"--sample: a fraction above 0 and at most 1, not \"" + args.sample + "\""};
    } else if (is(a, "--limit")) {
      args.limit = value(i, "--limit", a);
      if (args.limit.empty() || args.limit.size() > 18 ||
          args.limit.find_first_not_of("0123456789") != std::string::npos)
        throw UsageError{"--limit: a whole number, not \"" + args.limit + "\""};
    } else if (a == "--discard") {
      args.discard = true;
    } else if (a == "--force") {
      args.force = true;
    } else if (a.size() > 1 && a[0] == '-') {
      throw UsageError{"unknown option " + a};
    } else {
      args.positional.push_back(a);
    }
  }
  if (args.output != "json" && args.output != "table")
    throw UsageError{"-o: unknown output \"" + args.output + "\" (json or table)"};
  return args;
}

// Checks the command's arguments (before any token or network is needed).
void validate(const Args& args) {
  const auto& p = args.positional;
  if (p.empty()) throw UsageError{"no command"};
  const std::string& command = p[0];
  if (command == "get") {
    if (p.size() != 2) throw UsageError{"usage: ternctl get sources|sinks|routes|relays|revisions"};
    static const std::vector<std::string> kKinds = {"sources", "sinks", "routes", "relays",
                                                    "revisions"};
    if (std::find(kKinds.begin(), kKinds.end(), p[1]) == kKinds.end())
      throw UsageError{"get: unknown kind \"" + p[1] +
                       "\" (one of sources, sinks, routes, relays, revisions)"};
  } else if (command == "create") {
    if (p.size() != 3 || p[1] != "source") throw UsageError{"usage: ternctl create source ID"};
  } else if (command == "delete") {
    if (p.size() != 3) throw UsageError{"usage: ternctl delete source|sink|route ID"};
    if (p[1] != "source" && p[1] != "sink" && p[1] != "route")
      throw UsageError{"delete: unknown kind \"" + p[1] + "\" (one of source, sink, route)"};
  } else if (command == "plan" || command == "apply") {
    if (p.size() != 1 || args.file.empty())
      throw UsageError{"usage: ternctl " + command + " -f pipeline.toml"};
  } else if (command == "tap") {
    if (p.size() != 1) throw UsageError{"usage: ternctl tap [--source ID] [--event NAME] ..."};
  } else if (command == "restore") {
    if (p.size() != 2) throw UsageError{"usage: ternctl restore REV"};
    if (p[1].empty() || p[1].size() > 18 ||
        p[1].find_first_not_of("0123456789") != std::string::npos)
      throw UsageError{"restore: REV must be a revision number, not \"" + p[1] + "\""};
  } else {
    throw UsageError{"unknown command \"" + command + "\""};
  }
}

int run(int argc, char** argv) {
  bool help = false;
  bool version = false;
  Args args = parse_args(argc, argv, &help, &version);
  if (help) {
    std::cout << kUsageText;
    return kOk;
  }
  if (version) {
    std::cout << "ternctl " << TERN_VERSION_STRING << "\n";
    return kOk;
  }
  validate(args);
  const std::string& command = args.positional[0];

  std::string server = args.server;
  if (server.empty()) {
    const char* env = std::getenv("TERN_ADMIN_URL");
    server = env && *env ? env : kDefaultServer;
  }
  if (server.find("://") == std::string::npos) server = "http://" + server;
  std::string token;
  if (!args.token_file.empty()) {
    std::ifstream in(args.token_file);
    if (!in) {
      std::cerr << "ternctl: cannot read the token file " << args.token_file << "\n";
      return kError;
    }
    std::getline(in, token);
    while (!token.empty() && (token.back() == '\r' || token.back() == ' ' || token.back() == '\t'))
      token.pop_back();
    token.erase(0, token.find_first_not_of(" \t"));
    if (token.empty()) {
      std::cerr << "ternctl: the token file " << args.token_file << " is empty\n";
      return kError;
    }
  } else if (const char* env = std::getenv("TERN_ADMIN_TOKEN")) {
    token = env;
  }
  if (token.empty()) throw UsageError{"no token: give --token-file PATH or set TERN_ADMIN_TOKEN"};

  tern::base::curl_global_init_once();
  Client client(server, token, args.ca_file);
  if (command == "get") return cmd_get(client, args);
  if (command == "create") return cmd_create(client, args);
  if (command == "delete") return cmd_delete(client, args);
  if (command == "plan") return cmd_plan_apply(client, args, false);
  if (command == "apply") return cmd_plan_apply(client, args, true);
  if (command == "tap") return cmd_tap(client, args);
  return cmd_restore(client, args);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const UsageError& e) {
    std::cerr << "ternctl: " << e.message << "\nRun 'ternctl --help' for usage.\n";
    return kUsage;
  } catch (const std::exception& e) {
    std::cerr << "ternctl: " << e.what() << "\n";
    return kError;
  }
}
