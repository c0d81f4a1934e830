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
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "moto_env.h"
#include "s3_client_test_util.h"
#include "temp_dir.h"

namespace tern::relay::s3 {
namespace {

using namespace client_test;
using moto_env::Moto;
using moto_env::read_file;

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

}  // namespace
}  // namespace tern::relay::s3
