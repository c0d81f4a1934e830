// The libcurl Client of ternctl and the helpers that judge an answer (see
// client.h): one easy handle per request, the ETag kept from the headers,
// the API's error shape turned into a message on stderr.
#include "client.h"

#include <algorithm>
#include <iostream>
#include <utility>

#include "tern/base/version.h"

namespace tern::ternctl {

namespace {

using Json = nlohmann::json;

constexpr long kTimeoutMs = 60'000;

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

}  // namespace

Client::Client(std::string server, std::string token, std::string ca_file)
    : server_(std::move(server)), token_(std::move(token)), ca_file_(std::move(ca_file)) {
  while (!server_.empty() && server_.back() == '/') server_.pop_back();
}

Response Client::request(const std::string& method, const std::string& target,
                         const std::string& body, const std::string& if_match) const {
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

Response Client::stream(const std::string& target,
                        const std::function<void(std::string_view)>& on_data,
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

// The revision an ETag ("42", W/"42") names; -1 when none.
long long etag_revision(const std::string& etag) {
  std::string v = etag;
  if (v.rfind("W/", 0) == 0) v = v.substr(2);
  v.erase(std::remove(v.begin(), v.end(), '"'), v.end());
  if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos) return -1;
  return std::stoll(v);
}

}  // namespace tern::ternctl
