// Helpers of the end-to-end control plane tests: HTTP with libcurl (the
// admin API, ingest), Prometheus values, ternctl as a child process, a
// control relay with its admin listener.
#pragma once

#include <curl/curl.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "child_process.h"
#include "relay_process.h"
#include "temp_dir.h"

namespace tern::testing::fleet {

using Json = nlohmann::json;

struct HttpAnswer {
  long status = 0;  // 0: no answer (connection refused, timeout)
  std::string body;
  std::string etag;
  Json json() const { return Json::parse(body, nullptr, false); }
};

inline size_t append_cb(char* p, size_t s, size_t n, void* out) {
  static_cast<std::string*>(out)->append(p, s * n);
  return s * n;
}

inline size_t etag_cb(char* p, size_t s, size_t n, void* out) {
  std::string line(p, s * n);
  if (line.size() > 5 &&
      (line.rfind("ETag:", 0) == 0 || line.rfind("etag:", 0) == 0 || line.rfind("Etag:", 0) == 0)) {
    std::string v = line.substr(5);
    while (!v.empty() && (v.back() == '\r' || v.back() == '\n' || v.back() == ' ')) v.pop_back();
    v.erase(0, v.find_first_not_of(' '));
    *static_cast<std::string*>(out) = v;
  }
  return s * n;
}

// One request. `bearer`: an admin token; `basic_user`: a write key.
inline HttpAnswer http(const std::string& method, const std::string& url,
                       const std::string& bearer = {}, const std::string& body = {},
                       const std::string& if_match = {}, const std::string& basic_user = {}) {
  HttpAnswer a;
  CURL* c = curl_easy_init();
  curl_slist* headers = nullptr;
  std::string auth = "Authorization: Bearer " + bearer;
  if (!bearer.empty()) headers = curl_slist_append(headers, auth.c_str());
  std::string im = "If-Match: " + if_match;
  if (!if_match.empty()) headers = curl_slist_append(headers, im.c_str());
  if (!body.empty()) headers = curl_slist_append(headers, "Content-Type: application/json");
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, append_cb);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &a.body);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, etag_cb);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &a.etag);
  if (!basic_user.empty()) curl_easy_setopt(c, CURLOPT_USERPWD, (basic_user + ":").c_str());
  if (method == "POST" || method == "PUT" || method == "PATCH") {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &a.status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(c);
  return a;
}

// POST /v1/batch with one track event, authenticated with `write_key`: the
// status the relay answered (0: no answer).
inline long post_batch(const std::string& ingest_address, const std::string& write_key) {
  static std::atomic<uint64_t> seq{0};
  static const uint64_t run = std::random_device{}();
  std::string id = "fleet-" + std::to_string(::getpid()) + "-" + std::to_string(run) + "-" +
                   std::to_string(seq.fetch_add(1));
  Json body = {{"batch",
                {{{"type", "track"},
                  {"event", "Fleet Test"},
                  {"userId", "u-1"},
                  {"messageId", id},
                  {"timestamp", "2026-12-06T09:00:00.000Z"}}}},
               {"sentAt", "2026-12-06T09:00:00.000Z"}};
  return http("POST", "http://" + ingest_address + "/v1/batch", {}, body.dump(), {}, write_key)
      .status;
}

// The value of the Prometheus series `series` (name with labels, if any) in
// `text`; -1 when absent.
inline double metric(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return -1;
}

inline void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

struct CtlRun {
  int code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

// Runs ternctl with `args` (and "NAME=value" `env`), waiting up to 60 s.
inline CtlRun ternctl(const std::vector<std::string>& args, const std::vector<std::string>& env,
                      const TempDir& dir) {
  static std::atomic<int> n{0};
  std::string err_file = dir.file("ternctl-" + std::to_string(n.fetch_add(1)) + ".err");
  ChildProcess p;
  ChildProcess::Options o;
  o.log_file = err_file;
  o.pipe_stdout = true;
  o.env = env;
  std::vector<std::string> argv{TERNCTL_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  CtlRun r;
  if (!p.start(argv, o)) {
    r.err = p.error();
    return r;
  }
  std::string line;
  while (p.read_line(std::chrono::seconds(60), &line)) r.out += line + "\n";
  r.out += line;
  r.code = p.wait(std::chrono::seconds(60));
  r.err = read_file(err_file);
  return r;
}

// A control relay: ingest and admin listeners on loopback port 0, the data
// dir and working dir under `dir`, the bootstrap token in `dir`/admin.token.
class ControlRelay {
 public:
  static constexpr const char kBootstrapToken[] = "tat_bootstrap_for_tests_0123456789";
  static constexpr const char kSeedKey[] = "seed-key";

  explicit ControlRelay(std::string dir) : dir_(std::move(dir)) {}

  bool start() {
    std::filesystem::create_directories(dir_);
    write_file(token_file(), std::string(kBootstrapToken) + "\n");
    relay_.set_working_dir(dir_);
    if (!relay_.start({"--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--data-dir",
                       dir_ + "/data", "--write-key", kSeedKey, "--admin-token-file", token_file()},
                      dir_ + "/relay.log")) {
      ADD_FAILURE() << relay_.error();
      return false;
    }
    if (!relay_.read_admin_address()) {
      ADD_FAILURE() << relay_.error() << "; see " << dir_ << "/relay.log";
      return false;
    }
    return true;
  }

  std::string token_file() const { return dir_ + "/admin.token"; }
  std::string admin_url() const { return "http://" + relay_.admin_address(); }
  const std::string& ingest() const { return relay_.address(); }
  RelayProcess& process() { return relay_; }

  HttpAnswer api(const std::string& method, const std::string& path, const Json& body = nullptr,
                 const std::string& if_match = {}) const {
    return http(method, admin_url() + path, kBootstrapToken, body.is_null() ? "" : body.dump(),
                if_match);
  }
  // The state's revision (its ETag), or -1.
  int64_t head() const {
    HttpAnswer a = api("GET", "/admin/v1/state");
    Json doc = a.json();
    if (a.status != 200 || !doc.is_object() || !doc.contains("revision")) return -1;
    return doc["revision"].get<int64_t>();
  }

 private:
  std::string dir_;
  RelayProcess relay_;
};

}  // namespace tern::testing::fleet
