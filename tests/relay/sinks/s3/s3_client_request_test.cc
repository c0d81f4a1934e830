// S3Client's requests and its reading of answers, against a loopback
// server with canned answers (for what moto cannot be made to say), and
// sha256_file_range. No S3 server is needed.
#include "s3_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <deque>
#include <fstream>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "s3_client_test_util.h"
#include "temp_dir.h"

namespace tern::relay::s3 {
namespace {

using namespace client_test;

// A loopback HTTP server answering each request with the next canned answer
// (or, with `silent`, holding every connection without a word), recording
// what it was sent. For answers moto cannot be made to give.
class CannedServer {
 public:
  struct Request {
    std::string method;
    std::string target;                          // path and query, as sent
    std::map<std::string, std::string> headers;  // names lowercased
    std::string body;
  };

  explicit CannedServer(std::vector<std::string> answers, bool silent = false)
      : answers_(answers.begin(), answers.end()), silent_(silent) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    ::listen(fd_, 16);
    thread_ = std::thread([this] { serve(); });
  }
  ~CannedServer() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    ::close(fd_);
    for (int c : held_) ::close(c);
  }

  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::vector<Request> requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }

  // An S3 error document.
  static std::string error(int status, const std::string& reason, const std::string& code,
                           const std::string& message) {
    std::string body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>" + code +
                       "</Code><Message>" + message +
                       "</Message><RequestId>REQ123</RequestId></Error>";
    return answer(status, reason, body);
  }
  static std::string answer(int status, const std::string& reason, const std::string& body) {
    return "HTTP/1.1 " + std::to_string(status) + " " + reason +
           "\r\nContent-Type: application/xml\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\nConnection: close\r\n\r\n" + body;
  }

 private:
  void serve() {
    while (!stop_) {
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) return;
      if (silent_) {
        held_.push_back(c);
        continue;
      }
      Request req;
      std::string data;
      char buf[65536];
      size_t header_end;
      while ((header_end = data.find("\r\n\r\n")) == std::string::npos) {
        ssize_t n = ::recv(c, buf, sizeof buf, 0);
        if (n <= 0) break;
        data.append(buf, static_cast<size_t>(n));
      }
      if (header_end == std::string::npos) {
        ::close(c);
        continue;
      }
      std::istringstream head(data.substr(0, header_end));
      std::string line;
      std::getline(head, line);
      std::istringstream first(line);
      first >> req.method >> req.target;
      while (std::getline(head, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        size_t colon = line.find(':');
        if (colon == std::string::npos) continue;
        std::string name = line.substr(0, colon);
        for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        req.headers[name] = line.substr(line.find_first_not_of(' ', colon + 1));
      }
      req.body = data.substr(header_end + 4);
      const size_t want =
          req.headers.count("content-length") ? std::stoul(req.headers["content-length"]) : 0;
      if (req.body.size() < want && req.headers["expect"] == "100-continue") {
        const std::string cont = "HTTP/1.1 100 Continue\r\n\r\n";
        ::send(c, cont.data(), cont.size(), MSG_NOSIGNAL);
      }
      while (req.body.size() < want) {
        ssize_t n = ::recv(c, buf, sizeof buf, 0);
        if (n <= 0) break;
        req.body.append(buf, static_cast<size_t>(n));
      }
      std::string reply;
      {
        std::lock_guard<std::mutex> lock(mu_);
        requests_.push_back(req);
        if (!answers_.empty()) {
          reply = answers_.front();
          answers_.pop_front();
        } else {
          reply = answer(500, "Internal Server Error", "");
        }
      }
      ::send(c, reply.data(), reply.size(), MSG_NOSIGNAL);
      ::close(c);
    }
  }

  int fd_ = -1;
  int port_ = 0;
  std::deque<std::string> answers_;
  const bool silent_;
  std::atomic<bool> stop_{false};
  std::vector<int> held_;
  std::mutex mu_;
  std::vector<Request> requests_;
  std::thread thread_;
};

// Fixed credentials that count invalidate() calls.
class CountingCredentials : public CredentialProvider {
 public:
  explicit CountingCredentials(Credentials c) : c_(std::move(c)) {}
  Result<Credentials> get() override { return c_; }
  void invalidate() override { ++invalidated; }
  std::string describe() const override { return "test"; }
  std::atomic<int> invalidated{0};

 private:
  Credentials c_;
};

Credentials test_key(const std::string& token = "") {
  Credentials c;
  c.access_key_id = "AKIDEXAMPLE";
  c.secret_access_key = "SecretNeverShown0123456789";
  c.session_token = token;
  return c;
}

S3Options canned_options(const CannedServer& server) {
  S3Options o;
  o.bucket = "lake";
  o.endpoint = server.endpoint();
  o.path_style = true;
  o.request_timeout = std::chrono::milliseconds(5000);
  return o;
}

std::string sha256_hex_of(const std::string& bytes) {
  testing::TempDir tmp;
  return sha256_of(bytes, tmp);
}

TEST(S3ClientRequestTest, ARequestCarriesItsBodysSha256AndIsSignedWithTheSessionToken) {
  CannedServer server({CannedServer::answer(200, "OK", "")});
  S3Client client(canned_options(server), make_static_credentials(test_key("TOKEN123")));
  S3Response r = client.put_object("dt=2026-12-06/a b+c.ndjson.gz", "hello", PutOptions{});
  ASSERT_EQ(r.failure, S3Failure::kNone) << r.status.to_string();

  std::vector<CannedServer::Request> sent = server.requests();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].method, "PUT");
  EXPECT_EQ(sent[0].target, "/lake/dt%3D2026-12-06/a%20b%2Bc.ndjson.gz");
  EXPECT_EQ(sent[0].body, "hello");
  EXPECT_EQ(sent[0].headers["x-amz-content-sha256"], sha256_hex_of("hello"));
  EXPECT_EQ(sent[0].headers["x-amz-security-token"], "TOKEN123");
  EXPECT_EQ(sent[0].headers["content-type"], "application/x-ndjson");
  const std::string auth = sent[0].headers["authorization"];
  EXPECT_EQ(auth.rfind("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/", 0), 0u) << auth;
  EXPECT_NE(auth.find("/us-east-1/s3/aws4_request"), std::string::npos) << auth;
  EXPECT_NE(auth.find("x-amz-content-sha256"), std::string::npos) << auth;
  EXPECT_NE(auth.find("x-amz-security-token"), std::string::npos) << auth;
}

TEST(S3ClientRequestTest, BodilessCallsCarryTheEmptyBodysSha256) {
  CannedServer server({CannedServer::answer(200, "OK", "")});
  S3Client client(canned_options(server), make_static_credentials(test_key()));
  ASSERT_EQ(client.get_object("k").failure, S3Failure::kNone);
  std::vector<CannedServer::Request> sent = server.requests();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].headers["x-amz-content-sha256"],
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sent[0].headers.count("x-amz-security-token"), 0u);
}

TEST(S3ClientRequestTest, QueryParametersAreEncodedAndSorted) {
  const std::string page1 =
      "<ListBucketResult><IsTruncated>true</IsTruncated><Contents><Key>a&amp;1</Key></Contents>"
      "<NextContinuationToken>t/1+2=</NextContinuationToken></ListBucketResult>";
  const std::string page2 =
      "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>b</Key><Size>1</Size>"
      "</Contents></ListBucketResult>";
  CannedServer server({CannedServer::answer(200, "OK", ""), CannedServer::answer(200, "OK", page1),
                       CannedServer::answer(200, "OK", page2)});
  S3Options o = canned_options(server);
  o.list_page_size = 1;
  S3Client client(o, make_static_credentials(test_key()));
  std::string etag;
  ASSERT_EQ(client.upload_part("k", "id+/=", 3, -1, 0, 0, sha256_hex_of(""), &etag).failure,
            S3Failure::kNone);
  std::vector<std::string> keys;
  S3Response list = client.list_objects("dt=1/", &keys);
  ASSERT_EQ(list.failure, S3Failure::kNone) << list.status.to_string();
  EXPECT_EQ(keys, (std::vector<std::string>{"a&1", "b"}));

  std::vector<CannedServer::Request> sent = server.requests();
  ASSERT_EQ(sent.size(), 3u);
  EXPECT_EQ(sent[0].target, "/lake/k?partNumber=3&uploadId=id%2B%2F%3D");
  EXPECT_EQ(sent[1].target, "/lake?list-type=2&max-keys=1&prefix=dt%3D1%2F");
  EXPECT_EQ(sent[2].target,
            "/lake?continuation-token=t%2F1%2B2%3D&list-type=2&max-keys=1&prefix=dt%3D1%2F");
}

TEST(S3ClientRequestTest, SlowDownIsARetryWithS3sCodeMessageAndRequestId) {
  CannedServer server(
      {CannedServer::error(503, "Slow Down", "SlowDown", "Please reduce your request rate.")});
  S3Client client(canned_options(server), make_static_credentials(test_key()));
  S3Response r = client.put_object("k", "body", PutOptions{});
  EXPECT_EQ(r.failure, S3Failure::kRetry);
  EXPECT_EQ(r.http_status, 503);
  EXPECT_EQ(r.code, "SlowDown");
  EXPECT_EQ(r.status.code(), StatusCode::kUnavailable);
  EXPECT_EQ(r.status.message(),
            "PUT s3://lake/k: 503 SlowDown: Please reduce your request rate. (request id REQ123)");
}

TEST(S3ClientRequestTest, EachAnswerIsClassifiedAsTheSinkShouldReact) {
  struct Case {
    std::string answer;
    S3Failure failure;
    std::string code;
  };
  const std::vector<Case> cases = {
      {CannedServer::error(500, "Internal Server Error", "InternalError", "Try again"),
       S3Failure::kRetry, "InternalError"},
      {CannedServer::error(429, "Too Many Requests", "TooManyRequests", "Slow"), S3Failure::kRetry,
       "TooManyRequests"},
      {CannedServer::error(400, "Bad Request", "RequestTimeout", "Idle"), S3Failure::kRetry,
       "RequestTimeout"},
      {CannedServer::error(412, "Precondition Failed", "PreconditionFailed", "Exists"),
       S3Failure::kPrecondition, "PreconditionFailed"},
      {CannedServer::error(403, "Forbidden", "AccessDenied", "Access Denied"), S3Failure::kPause,
       "AccessDenied"},
      {CannedServer::error(404, "Not Found", "NoSuchBucket", "No bucket"), S3Failure::kPause,
       "NoSuchBucket"},
      {CannedServer::error(400, "Bad Request", "ExpiredToken", "Expired"), S3Failure::kPause,
       "ExpiredToken"},
      {CannedServer::error(400, "Bad Request", "InvalidAccessKeyId", "Who"), S3Failure::kPause,
       "InvalidAccessKeyId"},
      {CannedServer::error(400, "Bad Request", "InvalidArgument", "Bad header"), S3Failure::kPause,
       "InvalidArgument"},
      {CannedServer::error(301, "Moved Permanently", "PermanentRedirect", "Other region"),
       S3Failure::kPause, "PermanentRedirect"},
  };
  for (const Case& c : cases) {
    CannedServer server({c.answer});
    S3Client client(canned_options(server), make_static_credentials(test_key()));
    S3Response r = client.put_object("k", "body", PutOptions{});
    EXPECT_EQ(r.failure, c.failure) << c.code << ": " << r.status.to_string();
    EXPECT_EQ(r.code, c.code);
    EXPECT_FALSE(r.status.is_ok());
    EXPECT_NE(r.status.message().find(c.code), std::string::npos) << r.status.message();
  }
}

TEST(S3ClientRequestTest, AnExpiredTokenDropsTheCachedCredentials) {
  CannedServer server({CannedServer::error(400, "Bad Request", "ExpiredToken", "Expired"),
                       CannedServer::answer(400, "Bad Request", "")});
  auto creds = std::make_shared<CountingCredentials>(test_key("OLD"));
  S3Client client(canned_options(server), creds);
  S3Response put = client.put_object("k", "body", PutOptions{});
  EXPECT_EQ(put.failure, S3Failure::kPause);
  EXPECT_EQ(put.code, "ExpiredToken");
  EXPECT_EQ(creds->invalidated, 1);
  // A HEAD's answer has no body to name the code.
  S3Response head = client.head_object("k");
  EXPECT_EQ(head.failure, S3Failure::kPause);
  EXPECT_EQ(head.http_status, 400);
  EXPECT_EQ(creds->invalidated, 2);
}

TEST(S3ClientRequestTest, ACompleteAnswered200WithAnErrorIsARetry) {
  CannedServer server({CannedServer::answer(
      200, "OK",
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\n<Error><Code>InternalError</Code>"
      "<Message>We encountered an internal error. Please try again.</Message>"
      "<RequestId>R9</RequestId></Error>")});
  S3Client client(canned_options(server), make_static_credentials(test_key()));
  S3Response r = client.complete_multipart_upload("k", "id", {"\"e1\""}, true);
  EXPECT_EQ(r.failure, S3Failure::kRetry);
  EXPECT_EQ(r.code, "InternalError");
  EXPECT_EQ(r.http_status, 200);

  std::vector<CannedServer::Request> sent = server.requests();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].headers["if-none-match"], "*");
  EXPECT_NE(sent[0].body.find("<Part><PartNumber>1</PartNumber><ETag>&quot;e1&quot;</ETag></Part>"),
            std::string::npos)
      << sent[0].body;
  EXPECT_EQ(sent[0].headers["x-amz-content-sha256"], sha256_hex_of(sent[0].body));
}

TEST(S3ClientRequestTest, AnObjectWhoseBytesLookLikeAnErrorIsStillAnObject) {
  const std::string bytes = "<Error><Code>NoSuchKey</Code></Error>";
  CannedServer server({CannedServer::answer(200, "OK", bytes)});
  S3Client client(canned_options(server), make_static_credentials(test_key()));
  S3Response r = client.get_object("k");
  EXPECT_EQ(r.failure, S3Failure::kNone) << r.status.to_string();
  EXPECT_EQ(r.body, bytes);
}

TEST(S3ClientRequestTest, AServerThatNeverAnswersIsARetryAfterTheRequestTimeout) {
  CannedServer server({}, /*silent=*/true);
  S3Options o = canned_options(server);
  o.request_timeout = std::chrono::milliseconds(300);
  S3Client client(o, make_static_credentials(test_key()));
  const auto start = std::chrono::steady_clock::now();
  S3Response r = client.head_object("k");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_EQ(r.failure, S3Failure::kRetry);
  EXPECT_EQ(r.http_status, 0);
  EXPECT_EQ(r.status.code(), StatusCode::kTimeout) << r.status.to_string();
}

TEST(S3ClientRequestTest, AnUploadThatStallsIsARetryAfterTheStallTimeout) {
  CannedServer server({}, /*silent=*/true);
  S3Options o = canned_options(server);
  o.stall_timeout = std::chrono::milliseconds(1000);
  S3Client client(o, make_static_credentials(test_key()));
  const std::string body = pattern_bytes(8 << 20, 5);
  testing::TempDir tmp;
  int fd = write_temp(tmp, "spool", body);
  const auto start = std::chrono::steady_clock::now();
  S3Response r = client.put_object("k", fd, 0, body.size(), sha256_hex_of(body), PutOptions{});
  ::close(fd);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_EQ(r.failure, S3Failure::kRetry);
  EXPECT_EQ(r.http_status, 0);
  EXPECT_EQ(r.status.code(), StatusCode::kTimeout) << r.status.to_string();
}

TEST(S3ClientRequestTest, AFileShorterThanTheRangeFailsTheUpload) {
  CannedServer server({CannedServer::answer(200, "OK", "")});
  S3Client client(canned_options(server), make_static_credentials(test_key()));
  testing::TempDir tmp;
  int fd = write_temp(tmp, "spool", "short");
  S3Response r = client.put_object("k", fd, 0, 1000, sha256_hex_of("short"), PutOptions{});
  ::close(fd);
  EXPECT_NE(r.failure, S3Failure::kNone);
  EXPECT_EQ(r.status.code(), StatusCode::kIOError) << r.status.to_string();
}

// A provider that always fails with `status`.
class FailingCredentials : public CredentialProvider {
 public:
  explicit FailingCredentials(Status status) : status_(std::move(status)) {}
  Result<Credentials> get() override { return status_; }
  void invalidate() override {}
  std::string describe() const override { return "failing"; }

 private:
  Status status_;
};

TEST(S3ClientRequestTest, RefusedCredentialsPauseAndUnreachableOnesRetry) {
  CannedServer server({});
  S3Client refused(canned_options(server),
                   std::make_shared<FailingCredentials>(
                       Status::PermissionDenied("no credentials: no provider is configured")));
  S3Response r = refused.put_object("k", "body", PutOptions{});
  EXPECT_EQ(r.failure, S3Failure::kPause);
  EXPECT_EQ(r.status.code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(r.status.message(), "PUT s3://lake/k: no credentials: no provider is configured");

  S3Client unreachable(
      canned_options(server),
      std::make_shared<FailingCredentials>(Status::Unavailable("imds: connection refused")));
  EXPECT_EQ(unreachable.put_object("k", "body", PutOptions{}).failure, S3Failure::kRetry);
  EXPECT_TRUE(server.requests().empty());
}

TEST(Sha256FileRangeTest, HashesOnlyTheRange) {
  testing::TempDir tmp;
  int fd = write_temp(tmp, "f", "xxabcyy");
  Result<std::string> h = sha256_file_range(fd, 2, 3);
  ASSERT_TRUE(h.is_ok());
  EXPECT_EQ(h.value(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  Result<std::string> empty = sha256_file_range(fd, 0, 0);
  ASSERT_TRUE(empty.is_ok());
  EXPECT_EQ(empty.value(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  Result<std::string> past_end = sha256_file_range(fd, 5, 10);
  EXPECT_EQ(past_end.status().code(), StatusCode::kIOError);
  ::close(fd);
}

}  // namespace
}  // namespace tern::relay::s3
