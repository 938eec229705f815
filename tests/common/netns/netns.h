// NetnsGroup: N fake hosts joined by a private network, for multi-host tests.
//
//   if (auto why = NetnsGroup::unavailable_reason(); !why.empty()) GTEST_SKIP() << why;
//   NetnsGroup hosts = NetnsGroup::create(3);
//   hosts.address(0);                        // "10.213.0.1"
//   hosts.exec(1, {"weftrun", ...});         // {"ip","netns","exec","<ns1>","weftrun",...}
//   // ~NetnsGroup deletes every namespace, also when the test fails
//
// Each host is a network namespace with loopback up and eth0 on a bridge that
// sits in one more namespace of its own (layout in netns.sh, which does the
// work). Names carry this process's pid and a random part, so parallel test
// runs never collide; create() first garbage-collects namespaces whose owner
// process is gone (a run killed before its destructors ran). Needs root.
#pragma once

#include <string>
#include <vector>

namespace weft::test {

class NetnsGroup {
 public:
  // "" when namespaces work here (checked by creating one), else why not.
  static std::string unavailable_reason();
  // Creates `hosts` namespaces; throws std::runtime_error with the script's error.
  static NetnsGroup create(int hosts);

  NetnsGroup(NetnsGroup&& other) noexcept;
  NetnsGroup& operator=(NetnsGroup&&) = delete;
  NetnsGroup(const NetnsGroup&) = delete;
  ~NetnsGroup();

  int size() const { return static_cast<int>(names_.size()); }
  const std::string& tag() const { return tag_; }
  const std::string& name(int host) const { return names_.at(static_cast<size_t>(host)); }
  const std::string& address(int host) const { return addresses_.at(static_cast<size_t>(host)); }
  // argv that runs `argv` inside host `host`.
  std::vector<std::string> exec(int host, const std::vector<std::string>& argv) const;

  // The script (for shell-level tests): tests/common/netns/netns.sh.
  static std::string script();

 private:
  NetnsGroup() = default;
  std::string tag_;
  std::vector<std::string> names_;
  std::vector<std::string> addresses_;
};

}  // namespace weft::test
