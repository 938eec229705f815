// The worker side of RankGroup (rank_group.h): each test worker ends by
// printing one line the test parses,
//   RESULT rank=R code=OK|<ErrorCode> t_ms=<epoch ms> msg=<text on one line>
#pragma once

#include <chrono>
#include <cstdio>
#include <string>

namespace weft::test {

inline long long now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Prints the RESULT line; returns the worker's exit code (0 when ok).
inline int report(int rank, const char* code, const std::string& msg, bool ok) {
  std::string one_line = msg;
  for (auto& c : one_line)
    if (c == '\n') c = ' ';
  std::printf("RESULT rank=%d code=%s t_ms=%lld msg=%s\n", rank, code, now_ms(), one_line.c_str());
  std::fflush(stdout);
  return ok ? 0 : 1;
}

}  // namespace weft::test
