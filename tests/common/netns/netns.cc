#include "netns.h"

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <sstream>
#include <stdexcept>

namespace weft::test {
namespace {

struct Result {
  int status = -1;
  std::string output;  // stdout and stderr together
};

// Runs the script with arguments (all generated here, no user text) via popen.
Result run_script(const std::string& args) {
  std::string command = "'" + NetnsGroup::script() + "' " + args + " 2>&1";
  Result result;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  std::array<char, 4096> buffer{};
  size_t n;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) result.output.append(buffer.data(), n);
  int raw = ::pclose(pipe);
  result.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return result;
}

}  // namespace

std::string NetnsGroup::script() { return WEFT_NETNS_SCRIPT; }

std::string NetnsGroup::unavailable_reason() {
  Result probe = run_script("probe");
  if (probe.status == 0) return "";
  return "network namespaces are not available here: " +
         (probe.output.empty() ? std::string("netns.sh probe failed") : probe.output);
}

NetnsGroup NetnsGroup::create(int hosts) {
  run_script("gc");
  NetnsGroup group;
  Result tag = run_script("tag " + std::to_string(::getpid()));
  if (tag.status != 0) throw std::runtime_error("netns.sh tag: " + tag.output);
  group.tag_ = tag.output.substr(0, tag.output.find('\n'));
  Result up = run_script("up " + group.tag_ + " " + std::to_string(hosts));
  if (up.status != 0) throw std::runtime_error("netns.sh up " + group.tag_ + " failed: " + up.output);
  std::istringstream lines(up.output);
  std::string name, address;
  while (lines >> name >> address) {
    group.names_.push_back(name);
    group.addresses_.push_back(address);
  }
  if (group.size() != hosts) throw std::runtime_error("netns.sh up printed: " + up.output);
  return group;
}

NetnsGroup::NetnsGroup(NetnsGroup&& other) noexcept
    : tag_(std::move(other.tag_)), names_(std::move(other.names_)), addresses_(std::move(other.addresses_)) {
  other.tag_.clear();
}

NetnsGroup::~NetnsGroup() {
  if (!tag_.empty()) run_script("down " + tag_);
}

std::vector<std::string> NetnsGroup::exec(int host, const std::vector<std::string>& argv) const {
  std::string ip = "ip";
  for (const char* candidate : {"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"})
    if (::access(candidate, X_OK) == 0) {
      ip = candidate;
      break;
    }
  std::vector<std::string> full = {ip, "netns", "exec", name(host)};
  full.insert(full.end(), argv.begin(), argv.end());
  return full;
}

}  // namespace weft::test
