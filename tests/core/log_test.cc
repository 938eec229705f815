#include "weft/log.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

namespace weft {
namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(Log, FormatLevelSubsysAndFile) {
  std::string path = "/tmp/weft-log-test-" + std::to_string(getpid()) + ".log";
  std::remove(path.c_str());
  setenv("WEFT_DEBUG_FILE", path.c_str(), 1);
  setenv("WEFT_DEBUG", "INFO", 1);
  setenv("WEFT_DEBUG_SUBSYS", "store,^net", 1);
  log::reload_config();
  {
    log::ScopedRank rank(7);
    WEFT_INFO("store", "listening on ", 29500);
    WEFT_INFO("net", "hidden: excluded subsystem");
    WEFT_INFO("coll", "hidden: not in the include list");
    WEFT_TRACE("store", "hidden: above the level");
  }
  unsetenv("WEFT_DEBUG_FILE");
  unsetenv("WEFT_DEBUG");
  unsetenv("WEFT_DEBUG_SUBSYS");
  log::reload_config();
  std::string text = slurp(path);
  std::remove(path.c_str());
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  std::string expected = std::string("[") + host + ":" + std::to_string(getpid()) +
                         "] weft rank 7 INFO store: listening on 29500\n";
  EXPECT_EQ(text, expected);
}

}  // namespace
}  // namespace weft
