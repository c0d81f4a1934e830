#include "aws_credentials.h"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <condition_variable>
#include <cstdlib>
#include <map>
#include <mutex>
#include <sstream>
#include <utility>
#include <vector>

#include "aws_metadata.h"
#include "aws_sts.h"

namespace tern::relay::s3 {

namespace {

using SysClock = std::chrono::system_clock;
using TimePoint = SysClock::time_point;

// Temporary credentials are replaced once less than this is left.
constexpr auto kRefreshMargin = std::chrono::minutes(5);
// After a failed refresh (old credentials still valid) or a fetch that gave
// credentials already inside the margin, the next fetch waits this long.
constexpr auto kRefetchPause = std::chrono::seconds(10);

using detail::env;
using detail::GetEnv;
using detail::in_quotes;
using detail::lower;
using detail::read_small_file;
using detail::trim;

bool file_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

// Long-term keys never expire; temporary ones are "fresh" until the margin.
bool fresh(const Credentials& c, TimePoint now) {
  return !c.expiration || now < *c.expiration - kRefreshMargin;
}
bool valid(const Credentials& c, TimePoint now) { return !c.expiration || now < *c.expiration; }

// One way of obtaining credentials: fetch() does the I/O (no caching),
// describe() names it without a secret.
class Source {
 public:
  virtual ~Source() = default;
  virtual Result<Credentials> fetch() = 0;
  virtual std::string describe() const = 0;
  virtual void invalidate() {}
};

class FixedSource : public Source {
 public:
  FixedSource(Credentials c, std::string name) : c_(std::move(c)), name_(std::move(name)) {}
  Result<Credentials> fetch() override { return c_; }
  std::string describe() const override { return name_; }

 private:
  Credentials c_;
  std::string name_;
};

// Re-read at every fetch, so that invalidate() picks up rotated keys.
class EnvironmentSource : public Source {
 public:
  explicit EnvironmentSource(GetEnv getenv) : getenv_(std::move(getenv)) {}
  Result<Credentials> fetch() override {
    Credentials c;
    c.access_key_id = env(getenv_, "AWS_ACCESS_KEY_ID");
    c.secret_access_key = env(getenv_, "AWS_SECRET_ACCESS_KEY");
    c.session_token = env(getenv_, "AWS_SESSION_TOKEN");
    if (c.access_key_id.empty() || c.secret_access_key.empty()) {
      return Status::PermissionDenied(
          "environment: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must both be set");
    }
    return c;
  }
  std::string describe() const override { return "environment"; }

 private:
  GetEnv getenv_;
};

// The sections of an AWS INI file: name -> (lower-case key -> value).
using IniFile = std::map<std::string, std::map<std::string, std::string>>;

IniFile parse_ini(const std::string& text) {
  IniFile ini;
  std::map<std::string, std::string>* section = nullptr;
  std::istringstream in(text);
  std::string raw;
  while (std::getline(in, raw)) {
    std::string line = trim(raw);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.front() == '[') {
      auto close = line.find(']');
      section = close == std::string::npos ? nullptr : &ini[trim(line.substr(1, close - 1))];
      continue;
    }
    auto eq = line.find('=');
    if (!section || eq == std::string::npos) continue;
    std::string value = line.substr(eq + 1);
    // An inline comment needs whitespace before it (keys and tokens hold none).
    for (std::size_t i = 1; i < value.size(); ++i) {
      if ((value[i] == '#' || value[i] == ';') &&
          std::isspace(static_cast<unsigned char>(value[i - 1]))) {
        value.resize(i);
        break;
      }
    }
    (*section)[lower(trim(line.substr(0, eq)))] = trim(value);
  }
  return ini;
}

class ProfileSource : public Source {
 public:
  ProfileSource(std::string path, std::string profile)
      : path_(std::move(path)), profile_(std::move(profile)) {}
  Result<Credentials> fetch() override {
    std::string who = describe();
    auto text = read_small_file(path_, who);
    if (!text) return text.status();
    IniFile ini = parse_ini(*text);
    auto it = ini.find(profile_);
    if (it == ini.end()) {
      return Status::PermissionDenied(who + ": no profile " + in_quotes(profile_) + " in " + path_);
    }
    Credentials c;
    auto get = [&](const char* key) {
      auto k = it->second.find(key);
      return k == it->second.end() ? std::string() : k->second;
    };
    c.access_key_id = get("aws_access_key_id");
    c.secret_access_key = get("aws_secret_access_key");
    c.session_token = get("aws_session_token");
    if (c.access_key_id.empty() || c.secret_access_key.empty()) {
      return Status::PermissionDenied(who + ": profile " + in_quotes(profile_) + " in " + path_ +
                                      " needs aws_access_key_id and aws_secret_access_key");
    }
    return c;
  }
  std::string describe() const override { return "profile " + profile_; }

 private:
  std::string path_;
  std::string profile_;
};

struct StsSettings {
  std::string endpoint;  // empty: AWS_ENDPOINT_URL_STS, else AWS's regional endpoint
  std::string region;    // empty: AWS_REGION, AWS_DEFAULT_REGION, else us-east-1
  std::chrono::milliseconds timeout{5000};
};

detail::StsTarget sts_target(const StsSettings& s, const GetEnv& getenv) {
  detail::StsTarget t;
  t.region = s.region;
  if (t.region.empty()) t.region = env(getenv, "AWS_REGION");
  if (t.region.empty()) t.region = env(getenv, "AWS_DEFAULT_REGION");
  if (t.region.empty()) t.region = "us-east-1";
  t.endpoint = s.endpoint;
  if (t.endpoint.empty()) t.endpoint = env(getenv, "AWS_ENDPOINT_URL_STS");
  if (t.endpoint.empty()) {
    t.endpoint = "https://sts." + t.region +
                 (t.region.rfind("cn-", 0) == 0 ? ".amazonaws.com.cn" : ".amazonaws.com");
  }
  t.timeout = s.timeout;
  return t;
}

class WebIdentitySource : public Source {
 public:
  WebIdentitySource(GetEnv getenv, StsSettings sts, std::string session_name)
      : getenv_(std::move(getenv)), sts_(std::move(sts)), session_name_(std::move(session_name)) {
    role_arn_ = env(getenv_, "AWS_ROLE_ARN");
  }
  Result<Credentials> fetch() override {
    std::string who = describe();
    std::string path = env(getenv_, "AWS_WEB_IDENTITY_TOKEN_FILE");
    auto token = read_small_file(path, who + " (AWS_WEB_IDENTITY_TOKEN_FILE)");
    if (!token) return token.status();
    std::string t = trim(*token);
    if (t.empty()) return Status::PermissionDenied(who + ": " + path + " is empty");
    std::string session = env(getenv_, "AWS_ROLE_SESSION_NAME");
    if (session.empty()) session = session_name_;
    return detail::sts_assume_role_with_web_identity(sts_target(sts_, getenv_), role_arn_, session,
                                                     t, who);
  }
  std::string describe() const override { return "web identity " + role_arn_; }

 private:
  GetEnv getenv_;
  StsSettings sts_;
  std::string session_name_;
  std::string role_arn_;
};

class ContainerSource : public Source {
 public:
  ContainerSource(GetEnv getenv, std::chrono::milliseconds timeout)
      : getenv_(std::move(getenv)), timeout_(timeout) {}
  Result<Credentials> fetch() override {
    return detail::fetch_container_credentials(getenv_, timeout_, describe());
  }
  std::string describe() const override { return "container"; }

 private:
  GetEnv getenv_;
  std::chrono::milliseconds timeout_;
};

class ImdsSource : public Source {
 public:
  ImdsSource(GetEnv getenv, std::chrono::milliseconds timeout)
      : getenv_(std::move(getenv)), timeout_(timeout) {}
  Result<Credentials> fetch() override {
    return detail::fetch_imds_credentials(getenv_, timeout_, describe());
  }
  std::string describe() const override { return "imds"; }

 private:
  GetEnv getenv_;
  std::chrono::milliseconds timeout_;
};

// Caches what a Source gives and refreshes it as the header describes.
// One fetch at a time: while it runs, other callers get the old credentials
// if still valid, else wait for its outcome.
class CachingProvider : public CredentialProvider {
 public:
  CachingProvider(std::unique_ptr<Source> source, std::function<TimePoint()> now)
      : source_(std::move(source)), now_(std::move(now)) {}

  Result<Credentials> get() override {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      TimePoint now = now_();
      if (cached_ && fresh(*cached_, now)) return *cached_;
      bool usable = cached_ && valid(*cached_, now);
      if (fetching_) {
        if (usable) return *cached_;
        std::uint64_t generation = generation_;
        cv_.wait(lock, [&] { return generation_ != generation; });
        if (!last_error_.is_ok()) return last_error_;
        continue;
      }
      if (usable && now < next_fetch_) return *cached_;
      fetching_ = true;
      lock.unlock();
      Result<Credentials> r = source_->fetch();
      lock.lock();
      fetching_ = false;
      ++generation_;
      cv_.notify_all();
      now = now_();
      if (r) {
        last_error_ = Status::ok();
        cached_ = std::move(r).value();
        // Credentials given already inside the margin are used, not refetched at every call.
        if (!fresh(*cached_, now)) next_fetch_ = now + kRefetchPause;
        return *cached_;
      }
      last_error_ = r.status();
      next_fetch_ = now + kRefetchPause;
      if (cached_ && valid(*cached_, now)) return *cached_;
      cached_.reset();
      return last_error_;
    }
  }

  void invalidate() override {
    std::lock_guard<std::mutex> lock(mu_);
    cached_.reset();
    next_fetch_ = TimePoint();
    source_->invalidate();
  }

  std::string describe() const override { return source_->describe(); }

 private:
  const std::unique_ptr<Source> source_;
  const std::function<TimePoint()> now_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<Credentials> cached_;
  bool fetching_ = false;
  std::uint64_t generation_ = 0;
  Status last_error_;
  TimePoint next_fetch_;
};

// STS AssumeRole with the credentials of another (cached) provider.
class AssumeRoleSource : public Source {
 public:
  AssumeRoleSource(std::shared_ptr<CredentialProvider> base, GetEnv getenv, StsSettings sts,
                   std::string role_arn, std::string external_id, std::string session_name)
      : base_(std::move(base)),
        getenv_(std::move(getenv)),
        sts_(std::move(sts)),
        role_arn_(std::move(role_arn)),
        external_id_(std::move(external_id)),
        session_name_(std::move(session_name)) {}
  Result<Credentials> fetch() override {
    auto source = base_->get();
    if (!source) return source.status();
    return detail::sts_assume_role(sts_target(sts_, getenv_), *source, role_arn_, session_name_,
                                   external_id_, describe());
  }
  std::string describe() const override {
    return base_->describe() + " then assume_role " + role_arn_;
  }
  void invalidate() override { base_->invalidate(); }

 private:
  std::shared_ptr<CredentialProvider> base_;
  GetEnv getenv_;
  StsSettings sts_;
  std::string role_arn_;
  std::string external_id_;
  std::string session_name_;
};

// The chain: picks the first configured source at get() time and keeps it
// once it has answered (until then every get() looks again, so a file or
// variable put in place later is found).
class ChainProvider : public CredentialProvider {
 public:
  explicit ChainProvider(CredentialOptions o) : o_(std::move(o)) {}

  Result<Credentials> get() override {
    std::shared_ptr<CredentialProvider> provider;
    {
      std::lock_guard<std::mutex> lock(mu_);
      provider = chosen_;
    }
    if (provider) return provider->get();
    // Until a provider has answered, one caller at a time picks and asks.
    std::lock_guard<std::mutex> picking(pick_mu_);
    {
      std::lock_guard<std::mutex> lock(mu_);
      provider = chosen_;
    }
    if (provider) return provider->get();
    auto candidate = pick();
    if (!candidate) return candidate.status();
    provider = wrap(std::move(candidate).value());
    auto r = provider->get();
    std::lock_guard<std::mutex> lock(mu_);
    tried_ = provider->describe();
    if (r) chosen_ = provider;
    return r;
  }

  void invalidate() override {
    std::shared_ptr<CredentialProvider> provider;
    {
      std::lock_guard<std::mutex> lock(mu_);
      provider = chosen_;
    }
    if (provider) provider->invalidate();
  }

  std::string describe() const override {
    std::lock_guard<std::mutex> lock(mu_);
    if (chosen_) return chosen_->describe();
    if (!tried_.empty()) return "none yet (" + tried_ + " has not answered)";
    return "none yet";
  }

 private:
  StsSettings sts() const { return {o_.sts_endpoint, o_.region, o_.timeout}; }

  std::shared_ptr<CredentialProvider> wrap(std::unique_ptr<Source> source) const {
    auto base = std::make_shared<CachingProvider>(std::move(source), o_.now);
    if (o_.assume_role.empty()) return base;
    return std::make_shared<CachingProvider>(
        std::make_unique<AssumeRoleSource>(base, o_.getenv, sts(), o_.assume_role, o_.external_id,
                                           o_.role_session_name),
        o_.now);
  }

  // The first configured source, or why none is.
  Result<std::unique_ptr<Source>> pick() const {
    const GetEnv& getenv = o_.getenv;
    if (!o_.access_key_id.empty()) {
      Credentials c{o_.access_key_id, o_.secret_access_key, o_.session_token, std::nullopt};
      return std::unique_ptr<Source>(std::make_unique<FixedSource>(std::move(c), "settings"));
    }
    std::vector<std::string> tried = {"settings (no access_key_id)"};
    if (env(getenv, "AWS_ACCESS_KEY_ID").empty()) {
      tried.push_back("environment (no AWS_ACCESS_KEY_ID)");
    } else if (!o_.profile.empty()) {
      // A profile the sink names is an explicit choice (as a profile chosen
      // in code is to the AWS SDKs): keys in the environment do not override it.
      tried.push_back("environment (skipped: the sink names a profile)");
    } else {
      return std::unique_ptr<Source>(std::make_unique<EnvironmentSource>(getenv));
    }

    std::string file = env(getenv, "AWS_SHARED_CREDENTIALS_FILE");
    std::string home = env(getenv, "HOME");
    if (file.rfind("~/", 0) == 0 && !home.empty()) file = home + file.substr(1);
    if (file.empty() && !home.empty()) file = home + "/.aws/credentials";
    std::string profile = o_.profile;
    std::string profile_from = "the sink's profile setting";
    if (profile.empty()) {
      profile = env(getenv, "AWS_PROFILE");
      profile_from = "AWS_PROFILE";
    }
    bool named = !profile.empty();
    if (!named) profile = "default";
    if (file.empty()) {
      if (named) {
        return Status::PermissionDenied("profile " + profile + " (from " + profile_from +
                                        "): no credentials file (neither "
                                        "AWS_SHARED_CREDENTIALS_FILE nor HOME is set)");
      }
      tried.push_back("shared credentials file (neither AWS_SHARED_CREDENTIALS_FILE nor HOME)");
    } else if (!file_exists(file)) {
      if (named) {
        return Status::PermissionDenied("profile " + profile + " (from " + profile_from +
                                        "): " + file + " does not exist");
      }
      tried.push_back("shared credentials file (" + file + " does not exist)");
    } else {
      auto text = read_small_file(file, "profile " + profile);
      if (!text) return text.status();
      if (parse_ini(*text).count(profile) != 0) {
        return std::unique_ptr<Source>(std::make_unique<ProfileSource>(file, profile));
      }
      if (named) {
        return Status::PermissionDenied("profile " + profile + " (from " + profile_from +
                                        "): no profile " + in_quotes(profile) + " in " + file);
      }
      tried.push_back("shared credentials file (no profile \"default\" in " + file + ")");
    }

    std::string token_file = env(getenv, "AWS_WEB_IDENTITY_TOKEN_FILE");
    std::string role_arn = env(getenv, "AWS_ROLE_ARN");
    if (!token_file.empty() && !role_arn.empty()) {
      return std::unique_ptr<Source>(
          std::make_unique<WebIdentitySource>(getenv, sts(), o_.role_session_name));
    }
    tried.push_back(token_file.empty() ? "web identity (no AWS_WEB_IDENTITY_TOKEN_FILE)"
                                       : "web identity (no AWS_ROLE_ARN)");

    if (!env(getenv, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI").empty() ||
        !env(getenv, "AWS_CONTAINER_CREDENTIALS_FULL_URI").empty()) {
      return std::unique_ptr<Source>(std::make_unique<ContainerSource>(getenv, o_.timeout));
    }
    tried.push_back("container (no AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or _FULL_URI)");

    if (lower(trim(env(getenv, "AWS_EC2_METADATA_DISABLED"))) != "true") {
      return std::unique_ptr<Source>(std::make_unique<ImdsSource>(getenv, o_.timeout));
    }
    tried.push_back("imds (AWS_EC2_METADATA_DISABLED=true)");

    std::string text = "no AWS credentials found; tried: ";
    for (std::size_t i = 0; i < tried.size(); ++i) text += (i ? ", " : "") + tried[i];
    return Status::PermissionDenied(std::move(text));
  }

  const CredentialOptions o_;
  std::mutex pick_mu_;
  mutable std::mutex mu_;
  std::shared_ptr<CredentialProvider> chosen_;
  std::string tried_;
};

class StaticProvider : public CredentialProvider {
 public:
  explicit StaticProvider(Credentials c) : c_(std::move(c)) {}
  Result<Credentials> get() override { return c_; }
  void invalidate() override {}
  std::string describe() const override { return "static"; }

 private:
  const Credentials c_;
};

}  // namespace

Result<std::shared_ptr<CredentialProvider>> make_credential_chain(CredentialOptions options) {
  if (options.access_key_id.empty() &&
      (!options.secret_access_key.empty() || !options.session_token.empty())) {
    return Status::InvalidArgument(
        "secret_access_key and session_token need access_key_id in the same sink");
  }
  if (!options.access_key_id.empty() && options.secret_access_key.empty()) {
    return Status::InvalidArgument("access_key_id needs secret_access_key in the same sink");
  }
  if (!options.external_id.empty() && options.assume_role.empty()) {
    return Status::InvalidArgument("external_id needs assume_role");
  }
  if (options.role_session_name.size() > 64) {
    return Status::InvalidArgument("role_session_name is longer than 64 characters");
  }
  if (options.timeout.count() <= 0) {
    return Status::InvalidArgument("the credential providers' timeout must be positive");
  }
  if (options.role_session_name.empty()) options.role_session_name = "tern-relay";
  if (!options.getenv) options.getenv = [](const char* name) { return std::getenv(name); };
  if (!options.now) options.now = [] { return SysClock::now(); };
  return std::shared_ptr<CredentialProvider>(std::make_shared<ChainProvider>(std::move(options)));
}

std::shared_ptr<CredentialProvider> make_static_credentials(Credentials credentials) {
  return std::make_shared<StaticProvider>(std::move(credentials));
}

}  // namespace tern::relay::s3
