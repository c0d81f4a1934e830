// S3Client against moto's S3 server, started by the ctest fixtures s3_moto
// (as moto starts: any key is accepted) and s3_moto_auth (signing enforced,
// with an IAM user's key and STS temporary credentials left by the fixture).
#include "s3_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "temp_dir.h"

namespace tern::relay::s3 {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

// One of the fixture's servers: its endpoint and the credentials it left.
struct Moto {
  std::string dir;
  std::string endpoint;
  Credentials key;  // long-term (a dummy one without --auth)

  static Moto from_env(const char* var) {
    Moto m;
    const char* dir = std::getenv(var);
    if (dir == nullptr) return m;
    m.dir = dir;
    m.endpoint = read_file(m.dir + "/endpoint");
    m.key.access_key_id = read_file(m.dir + "/access_key_id");
    m.key.secret_access_key = read_file(m.dir + "/secret_access_key");
    return m;
  }
};

// A bucket name of its own for each test (the servers are shared).
std::string unique_bucket(const std::string& hint) {
  static std::atomic<int> counter{0};
  static const unsigned seed = std::random_device{}();
  // At most 63 characters: the hint is cut, never the unique part.
  const std::string suffix = "-" + std::to_string(seed) + "-" + std::to_string(counter++);
  std::string name = "tern-" + hint.substr(0, 63 - 5 - suffix.size()) + suffix;
  for (char& c : name) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (c == '_' || c == '/') c = '-';
  }
  return name;
}

std::string pattern_bytes(size_t n, unsigned seed) {
  std::string s(n, '\0');
  std::mt19937 rng(seed);
  for (char& c : s) c = static_cast<char>(rng() & 0xFF);
  return s;
}

// A file under `dir` holding `bytes`; the descriptor stays open (read-only).
int write_temp(const testing::TempDir& dir, const std::string& name, const std::string& bytes) {
  const std::string path = dir.file(name);
  std::ofstream(path, std::ios::binary) << bytes;
  return ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
}

std::string sha256_of(const std::string& bytes, const testing::TempDir& dir) {
  int fd = write_temp(dir, "hash-input", bytes);
  Result<std::string> h = sha256_file_range(fd, 0, bytes.size());
  ::close(fd);
  return h.is_ok() ? h.value() : std::string();
}

// The mode a test runs in: moto as it starts, or with signing enforced.
enum class Mode { kAsItStarts, kSigningEnforced };

void PrintTo(Mode mode, std::ostream* os) {
  *os << (mode == Mode::kAsItStarts ? "moto as it starts" : "signing enforced");
}

class S3ClientTest : public ::testing::TestWithParam<Mode> {
 protected:
  void SetUp() override {
    moto_ = Moto::from_env(GetParam() == Mode::kAsItStarts ? "TERN_S3_MOTO_DIR"
                                                           : "TERN_S3_MOTO_AUTH_DIR");
    ASSERT_FALSE(moto_.dir.empty()) << "run through ctest (the moto fixtures set the env)";
    ASSERT_FALSE(moto_.endpoint.empty()) << "no endpoint in " << moto_.dir;
    ASSERT_FALSE(tmp_.path().empty());
    bucket_ = unique_bucket(::testing::UnitTest::GetInstance()->current_test_info()->name());
    client_ = make_client(bucket_, moto_.key);
    S3Response created = client_->create_bucket();
    ASSERT_EQ(created.failure, S3Failure::kNone) << created.status.to_string();
  }

  std::unique_ptr<S3Client> make_client(const std::string& bucket, const Credentials& creds,
                                        int page_size = 1000) {
    S3Options o;
    o.bucket = bucket;
    o.endpoint = moto_.endpoint;
    o.path_style = true;
    o.list_page_size = page_size;
    return std::make_unique<S3Client>(o, make_static_credentials(creds));
  }

  Moto moto_;
  testing::TempDir tmp_;
  std::string bucket_;
  std::unique_ptr<S3Client> client_;
};

TEST_P(S3ClientTest, PutFromAFileRangeStoresExactlyThoseBytesWithTheirMetadata) {
  const std::string before = "not this";
  const std::string body = pattern_bytes(100 * 1024 + 7, 1);
  int fd = write_temp(tmp_, "spool", before + body + "nor this");
  ASSERT_GE(fd, 0);
  Result<std::string> sha = sha256_file_range(fd, before.size(), body.size());
  ASSERT_TRUE(sha.is_ok()) << sha.status().to_string();

  PutOptions put;
  put.content_encoding = "gzip";
  put.metadata = {{"first-seq", "17"}, {"last-seq", "42"}};
  const std::string key = "events/dt=2026-12-06/hour=11/relay-1.ndjson.gz";
  S3Response r = client_->put_object(key, fd, before.size(), body.size(), sha.value(), put);
  ::close(fd);
  ASSERT_EQ(r.failure, S3Failure::kNone) << r.status.to_string();
  EXPECT_TRUE(r.status.is_ok());
  EXPECT_EQ(r.http_status, 200);
  EXPECT_FALSE(r.etag.empty());

  S3Response head = client_->head_object(key);
  ASSERT_EQ(head.failure, S3Failure::kNone) << head.status.to_string();
  EXPECT_EQ(head.headers["content-length"], std::to_string(body.size()));
  EXPECT_EQ(head.headers["content-type"], "application/x-ndjson");
  EXPECT_EQ(head.headers["content-encoding"], "gzip");
  EXPECT_EQ(head.headers["x-amz-meta-first-seq"], "17");
  EXPECT_EQ(head.headers["x-amz-meta-last-seq"], "42");
  EXPECT_EQ(head.etag, r.etag);

  S3Response get = client_->get_object(key);
  ASSERT_EQ(get.failure, S3Failure::kNone) << get.status.to_string();
  EXPECT_EQ(get.body, body);
}

TEST_P(S3ClientTest, PutFromMemoryStoresTheBytes) {
  const std::string body = R"({"objects":[]})";
  PutOptions put;
  put.content_type = "application/json";
  S3Response r =
      client_->put_object("_manifests/src/dt=2026-12-06/hour=11/relay-1.json", body, put);
  ASSERT_EQ(r.failure, S3Failure::kNone) << r.status.to_string();

  S3Response get = client_->get_object("_manifests/src/dt=2026-12-06/hour=11/relay-1.json");
  ASSERT_EQ(get.failure, S3Failure::kNone) << get.status.to_string();
  EXPECT_EQ(get.body, body);
  EXPECT_EQ(get.headers["content-type"], "application/json");
}

TEST_P(S3ClientTest, KeysWithCharactersOutsideTheUnreservedSetRoundTrip) {
  const std::vector<std::string> keys = {"a b/c+d=e&f", "dt=2026-12-06/hour=00/x~y_z.ndjson.gz",
                                         "unicode/\xc3\xa9t\xc3\xa9", "semi;colon,comma(paren)"};
  for (const std::string& key : keys) {
    S3Response r = client_->put_object(key, "body of " + key, PutOptions{});
    ASSERT_EQ(r.failure, S3Failure::kNone) << key << ": " << r.status.to_string();
    S3Response get = client_->get_object(key);
    ASSERT_EQ(get.failure, S3Failure::kNone) << key << ": " << get.status.to_string();
    EXPECT_EQ(get.body, "body of " + key);
  }
  std::vector<std::string> listed;
  S3Response list = client_->list_objects("", &listed);
  ASSERT_EQ(list.failure, S3Failure::kNone) << list.status.to_string();
  std::vector<std::string> expected = keys;
  std::sort(expected.begin(), expected.end());
  std::sort(listed.begin(), listed.end());
  EXPECT_EQ(listed, expected);
}

TEST_P(S3ClientTest, ASecondPutWithIfNoneMatchIsAPreconditionFailureAndKeepsTheFirst) {
  PutOptions put;
  put.if_none_match = true;
  S3Response first = client_->put_object("k", "first", put);
  ASSERT_EQ(first.failure, S3Failure::kNone) << first.status.to_string();

  S3Response second = client_->put_object("k", "second", put);
  EXPECT_EQ(second.failure, S3Failure::kPrecondition);
  EXPECT_EQ(second.http_status, 412);
  EXPECT_EQ(second.code, "PreconditionFailed");
  EXPECT_FALSE(second.status.is_ok());
  EXPECT_NE(second.status.message().find("PUT s3://" + bucket_ + "/k: 412 PreconditionFailed"),
            std::string::npos)
      << second.status.message();

  S3Response get = client_->get_object("k");
  EXPECT_EQ(get.body, "first");
}

TEST_P(S3ClientTest, HeadOfAMissingKeyIsNotFound) {
  S3Response head = client_->head_object("nothing/here");
  EXPECT_EQ(head.http_status, 404);
  EXPECT_EQ(head.code, "NotFound");
  EXPECT_EQ(head.failure, S3Failure::kPause);
  EXPECT_EQ(head.status.code(), StatusCode::kNotFound);
}

TEST_P(S3ClientTest, MultipartUploadJoinsThePartsInOrder) {
  // The fixture lets parts be 256 KiB (S3_UPLOAD_PART_MIN_SIZE).
  const size_t part = 256 * 1024;
  const std::string body = pattern_bytes(2 * part + 1234, 2);
  int fd = write_temp(tmp_, "spool", body);
  ASSERT_GE(fd, 0);
  const std::string key = "big/object.ndjson.gz";

  PutOptions put;
  put.metadata = {{"first-seq", "1"}};
  std::string upload_id;
  S3Response created = client_->create_multipart_upload(key, put, &upload_id);
  ASSERT_EQ(created.failure, S3Failure::kNone) << created.status.to_string();
  ASSERT_FALSE(upload_id.empty());

  std::vector<std::string> etags;
  for (uint64_t off = 0, n = 1; off < body.size(); off += part, ++n) {
    const uint64_t len = std::min<uint64_t>(part, body.size() - off);
    Result<std::string> sha = sha256_file_range(fd, off, len);
    ASSERT_TRUE(sha.is_ok());
    std::string etag;
    S3Response r =
        client_->upload_part(key, upload_id, static_cast<int>(n), fd, off, len, sha.value(), &etag);
    ASSERT_EQ(r.failure, S3Failure::kNone) << r.status.to_string();
    ASSERT_FALSE(etag.empty());
    etags.push_back(etag);
  }
  ::close(fd);
  ASSERT_EQ(etags.size(), 3u);

  std::vector<MultipartUpload> open;
  ASSERT_EQ(client_->list_multipart_uploads("big/", &open).failure, S3Failure::kNone);
  ASSERT_EQ(open.size(), 1u);
  EXPECT_EQ(open[0].key, key);
  EXPECT_EQ(open[0].upload_id, upload_id);

  S3Response done = client_->complete_multipart_upload(key, upload_id, etags, true);
  ASSERT_EQ(done.failure, S3Failure::kNone) << done.status.to_string();
  EXPECT_FALSE(done.etag.empty());

  S3Response get = client_->get_object(key);
  ASSERT_EQ(get.failure, S3Failure::kNone) << get.status.to_string();
  EXPECT_TRUE(get.body == body) << "read back " << get.body.size() << " bytes of " << body.size();
  S3Response head = client_->head_object(key);
  EXPECT_EQ(head.headers["x-amz-meta-first-seq"], "1");

  open.clear();
  ASSERT_EQ(client_->list_multipart_uploads("big/", &open).failure, S3Failure::kNone);
  EXPECT_TRUE(open.empty());
}

TEST_P(S3ClientTest, CompletingOverAnExistingKeyWithIfNoneMatchIsAPreconditionFailure) {
  ASSERT_EQ(client_->put_object("k", "already here", PutOptions{}).failure, S3Failure::kNone);
  const std::string body = pattern_bytes(1000, 3);
  int fd = write_temp(tmp_, "spool", body);
  std::string upload_id;
  ASSERT_EQ(client_->create_multipart_upload("k", PutOptions{}, &upload_id).failure,
            S3Failure::kNone);
  std::string etag;
  S3Response part =
      client_->upload_part("k", upload_id, 1, fd, 0, body.size(), sha256_of(body, tmp_), &etag);
  ::close(fd);
  ASSERT_EQ(part.failure, S3Failure::kNone) << part.status.to_string();

  S3Response done = client_->complete_multipart_upload("k", upload_id, {etag}, true);
  EXPECT_EQ(done.failure, S3Failure::kPrecondition) << done.status.to_string();
  EXPECT_EQ(done.http_status, 412);
  EXPECT_EQ(client_->get_object("k").body, "already here");
}

TEST_P(S3ClientTest, AnAbortedUploadIsNoLongerListed) {
  std::string kept;
  std::string aborted;
  ASSERT_EQ(client_->create_multipart_upload("p/kept", PutOptions{}, &kept).failure,
            S3Failure::kNone);
  ASSERT_EQ(client_->create_multipart_upload("p/aborted", PutOptions{}, &aborted).failure,
            S3Failure::kNone);
  ASSERT_EQ(client_->create_multipart_upload("elsewhere/x", PutOptions{}, nullptr).failure,
            S3Failure::kNone);

  std::vector<MultipartUpload> open;
  ASSERT_EQ(client_->list_multipart_uploads("p/", &open).failure, S3Failure::kNone);
  EXPECT_EQ(open.size(), 2u);

  S3Response abort = client_->abort_multipart_upload("p/aborted", aborted);
  ASSERT_EQ(abort.failure, S3Failure::kNone) << abort.status.to_string();
  EXPECT_EQ(abort.http_status, 204);

  open.clear();
  ASSERT_EQ(client_->list_multipart_uploads("p/", &open).failure, S3Failure::kNone);
  ASSERT_EQ(open.size(), 1u);
  EXPECT_EQ(open[0].key, "p/kept");
  EXPECT_EQ(open[0].upload_id, kept);
}

TEST_P(S3ClientTest, ListingFollowsEveryPage) {
  auto small_pages = make_client(bucket_, moto_.key, 2);
  std::vector<std::string> expected;
  for (int i = 0; i < 7; ++i) {
    std::string key = "src/dt=2026-12-06/hour=0" + std::to_string(i) + "/a b+" + std::to_string(i);
    ASSERT_EQ(small_pages->put_object(key, "x", PutOptions{}).failure, S3Failure::kNone);
    expected.push_back(key);
  }
  ASSERT_EQ(small_pages->put_object("other/z", "x", PutOptions{}).failure, S3Failure::kNone);

  std::vector<std::string> keys;
  S3Response r = small_pages->list_objects("src/dt=2026-12-06/", &keys);
  ASSERT_EQ(r.failure, S3Failure::kNone) << r.status.to_string();
  EXPECT_EQ(keys, expected);  // S3 lists in key order
}

TEST_P(S3ClientTest, ListingOpenUploadsFollowsEveryPage) {
  auto small_pages = make_client(bucket_, moto_.key, 2);
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(small_pages->create_multipart_upload("u/" + std::to_string(i), PutOptions{}, nullptr)
                  .failure,
              S3Failure::kNone);
  }
  std::vector<MultipartUpload> open;
  S3Response r = small_pages->list_multipart_uploads("u/", &open);
  ASSERT_EQ(r.failure, S3Failure::kNone) << r.status.to_string();
  std::vector<std::string> keys;
  for (const MultipartUpload& u : open) keys.push_back(u.key);
  std::sort(keys.begin(), keys.end());
  EXPECT_EQ(keys, (std::vector<std::string>{"u/0", "u/1", "u/2", "u/3", "u/4"}));
}

TEST_P(S3ClientTest, AMissingBucketIsAPauseNamedNoSuchBucket) {
  const std::string missing = unique_bucket("missing");
  auto client = make_client(missing, moto_.key);
  S3Response r = client->put_object("k", "body", PutOptions{});
  EXPECT_EQ(r.failure, S3Failure::kPause);
  EXPECT_EQ(r.http_status, 404);
  EXPECT_EQ(r.code, "NoSuchBucket");
  EXPECT_EQ(r.status.code(), StatusCode::kNotFound);
  EXPECT_NE(r.status.message().find("PUT s3://" + missing + "/k: 404 NoSuchBucket: "),
            std::string::npos)
      << r.status.message();
  EXPECT_NE(r.status.message().find("(request id "), std::string::npos) << r.status.message();

  S3Response head = client->head_bucket();
  EXPECT_EQ(head.failure, S3Failure::kPause);
  EXPECT_EQ(head.http_status, 404);
}

TEST_P(S3ClientTest, TheBucketIsReachableOnItsOwnHostName) {
  // Virtual-hosted URLs: <bucket>.localhost resolves to the loopback address.
  S3Options o;
  o.bucket = bucket_;
  std::string endpoint = moto_.endpoint;
  endpoint.replace(endpoint.find("127.0.0.1"), 9, "localhost");
  o.endpoint = endpoint;
  S3Client client(o, make_static_credentials(moto_.key));
  S3Response put = client.put_object("vhost/k", "virtual", PutOptions{});
  ASSERT_EQ(put.failure, S3Failure::kNone) << put.status.to_string();
  EXPECT_EQ(client_->get_object("vhost/k").body, "virtual");
  std::vector<std::string> keys;
  ASSERT_EQ(client.list_objects("vhost/", &keys).failure, S3Failure::kNone);
  EXPECT_EQ(keys, std::vector<std::string>{"vhost/k"});
}

TEST_P(S3ClientTest, AClosedPortIsARetryWithoutAnHttpStatus) {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::getsockname(s, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  ::close(s);  // bound, never listened on, closed: connections are refused

  S3Options o;
  o.bucket = bucket_;
  o.endpoint = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  S3Client client(o, make_static_credentials(moto_.key));
  S3Response r = client.put_object("k", "body", PutOptions{});
  EXPECT_EQ(r.failure, S3Failure::kRetry);
  EXPECT_EQ(r.http_status, 0);
  EXPECT_EQ(r.status.code(), StatusCode::kUnavailable);
  EXPECT_EQ(r.status.message().rfind("PUT s3://" + bucket_ + "/k: ", 0), 0u) << r.status.message();
}

TEST_P(S3ClientTest, OneClientServesManyCallsInARow) {
  for (int i = 0; i < 20; ++i) {
    const std::string key = "seq/" + std::to_string(i);
    ASSERT_EQ(client_->put_object(key, std::string(i * 100, 'x'), PutOptions{}).failure,
              S3Failure::kNone);
    S3Response head = client_->head_object(key);
    ASSERT_EQ(head.failure, S3Failure::kNone) << head.status.to_string();
    EXPECT_EQ(head.headers["content-length"], std::to_string(i * 100));
  }
}

INSTANTIATE_TEST_SUITE_P(Moto, S3ClientTest,
                         ::testing::Values(Mode::kAsItStarts, Mode::kSigningEnforced),
                         [](const ::testing::TestParamInfo<Mode>& info) {
                           return info.param == Mode::kAsItStarts ? std::string("AsItStarts")
                                                                  : std::string("SigningEnforced");
                         });

// Only with signing enforced.
class S3ClientSigningTest : public ::testing::Test {
 protected:
  void SetUp() override {
    moto_ = Moto::from_env("TERN_S3_MOTO_AUTH_DIR");
    ASSERT_FALSE(moto_.dir.empty()) << "run through ctest (the moto fixtures set the env)";
    bucket_ = unique_bucket(::testing::UnitTest::GetInstance()->current_test_info()->name());
    S3Client owner(options(), make_static_credentials(moto_.key));
    S3Response created = owner.create_bucket();
    ASSERT_EQ(created.failure, S3Failure::kNone) << created.status.to_string();
  }

  S3Options options() const {
    S3Options o;
    o.bucket = bucket_;
    o.endpoint = moto_.endpoint;
    o.path_style = true;
    return o;
  }

  Moto moto_;
  std::string bucket_;
};

TEST_F(S3ClientSigningTest, AWrongSecretIsRefusedWithoutShowingTheSecret) {
  Credentials wrong = moto_.key;
  wrong.secret_access_key = "WrongSecretDoNotPrintMe0123456789abcdefgh";
  S3Client client(options(), make_static_credentials(wrong));

  S3Response put = client.put_object("k", "body", PutOptions{});
  EXPECT_EQ(put.failure, S3Failure::kPause);
  EXPECT_EQ(put.http_status, 403);
  EXPECT_EQ(put.code, "SignatureDoesNotMatch");
  EXPECT_EQ(put.status.code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(put.status.message().find(wrong.secret_access_key), std::string::npos);
  EXPECT_EQ(put.status.message().find(moto_.key.secret_access_key), std::string::npos);
  EXPECT_NE(put.status.message().find("403 SignatureDoesNotMatch"), std::string::npos)
      << put.status.message();

  S3Response head = client.head_object("k");
  EXPECT_EQ(head.failure, S3Failure::kPause);
  EXPECT_EQ(head.http_status, 403);
}

TEST_F(S3ClientSigningTest, AnUnknownKeyIdIsRefused) {
  Credentials unknown;
  unknown.access_key_id = "AKIAUNKNOWNUNKNOWN00";
  unknown.secret_access_key = "whatever";
  S3Client client(options(), make_static_credentials(unknown));
  S3Response put = client.put_object("k", "body", PutOptions{});
  EXPECT_EQ(put.failure, S3Failure::kPause);
  EXPECT_EQ(put.http_status, 403);
  EXPECT_EQ(put.code, "InvalidAccessKeyId");
}

TEST_F(S3ClientSigningTest, TemporaryCredentialsWithASessionTokenWork) {
  nlohmann::json session = nlohmann::json::parse(read_file(moto_.dir + "/session.json"));
  Credentials temp;
  temp.access_key_id = session["AccessKeyId"];
  temp.secret_access_key = session["SecretAccessKey"];
  temp.session_token = session["SessionToken"];
  ASSERT_FALSE(temp.session_token.empty());
  S3Client client(options(), make_static_credentials(temp));

  const std::string body = pattern_bytes(70000, 4);
  testing::TempDir tmp;
  int fd = write_temp(tmp, "spool", body);
  Result<std::string> sha = sha256_file_range(fd, 0, body.size());
  ASSERT_TRUE(sha.is_ok());
  S3Response put = client.put_object("temp/k", fd, 0, body.size(), sha.value(), PutOptions{});
  ::close(fd);
  ASSERT_EQ(put.failure, S3Failure::kNone) << put.status.to_string();
  S3Response get = client.get_object("temp/k");
  ASSERT_EQ(get.failure, S3Failure::kNone) << get.status.to_string();
  EXPECT_TRUE(get.body == body);

  Credentials no_token = temp;
  no_token.session_token.clear();
  S3Client without(options(), make_static_credentials(no_token));
  S3Response refused = without.head_object("temp/k");
  EXPECT_EQ(refused.failure, S3Failure::kPause);
  EXPECT_EQ(refused.http_status, 403);
}

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
