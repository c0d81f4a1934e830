#include "relay_process.h"

#include <cstdlib>
#include <fstream>

namespace tern::testing {

std::string RelayProcess::default_binary() { return TERN_RELAY_BIN; }

bool RelayProcess::start(const std::vector<std::string>& args,
                         const std::filesystem::path& log_file,
                         const std::vector<std::string>& env) {
  address_.clear();
  port_ = 0;
  admin_address_.clear();
  other_lines_.clear();
  error_.clear();
  std::vector<std::string> argv{binary_};
  argv.insert(argv.end(), args.begin(), args.end());
  ChildProcess::Options options;
  options.log_file = log_file.string();
  options.pipe_stdout = true;
  options.env = env;
  options.cwd = working_dir_;
  if (!process_.start(argv, options)) {
    error_ = process_.error();
    return false;
  }
  if (!read_listening_address(process_, kStartTimeout, log_file.string(), &address_, &error_))
    return false;
  port_ = static_cast<uint16_t>(std::atoi(address_.c_str() + address_.rfind(':') + 1));
  return true;
}

bool RelayProcess::start_with_config(const std::filesystem::path& config_file,
                                     const std::string& toml,
                                     const std::filesystem::path& log_file) {
  std::ofstream out(config_file, std::ios::trunc);
  out << toml;
  out.close();
  if (!out) {
    error_ = "cannot write " + config_file.string();
    return false;
  }
  return start({"--config", config_file.string()}, log_file);
}

bool RelayProcess::read_admin_address(std::chrono::milliseconds timeout) {
  static const std::string kPrefix = "admin listening on ";
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string line;
  while (std::chrono::steady_clock::now() < deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (!process_.read_line(left, &line)) break;
    if (line.rfind(kPrefix, 0) == 0) {
      admin_address_ = line.substr(kPrefix.size());
      return true;
    }
    other_lines_.push_back(line);
  }
  error_ = "no admin listening line (last read: '" + line + "')";
  return false;
}

bool read_listening_address(ChildProcess& child, std::chrono::milliseconds timeout,
                            const std::string& log_file, std::string* address, std::string* error) {
  static const std::string kPrefix = "listening on ";
  std::string line;
  if (!child.read_line(timeout, &line) || line.rfind(kPrefix, 0) != 0) {
    *error = "no listening line (got '" + line + "'); see " + log_file;
    return false;
  }
  *address = line.substr(kPrefix.size());
  return true;
}

}  // namespace tern::testing
