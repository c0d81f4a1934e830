// make_static_credentials() alone, until the credential chain
// (aws_credentials.cc) provides it.
#include <memory>
#include <utility>

#include "aws_credentials.h"

namespace tern::relay::s3 {
namespace {

class StaticCredentials : public CredentialProvider {
 public:
  explicit StaticCredentials(Credentials credentials) : credentials_(std::move(credentials)) {}
  Result<Credentials> get() override { return credentials_; }
  void invalidate() override {}
  std::string describe() const override { return "settings"; }

 private:
  const Credentials credentials_;
};

}  // namespace

std::shared_ptr<CredentialProvider> make_static_credentials(Credentials credentials) {
  return std::make_shared<StaticCredentials>(std::move(credentials));
}

}  // namespace tern::relay::s3
