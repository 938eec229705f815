#include "devices.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string_view>

namespace weftrun {

int count_cuda_visible_devices(const std::string& value) {
  // The CUDA runtime stops at the first entry it cannot parse ("-1" hides
  // every device, "0,1,-1,2" exposes two). Entries are indices or GPU-/MIG- UUIDs.
  int count = 0;
  std::stringstream in(value);
  std::string entry;
  while (std::getline(in, entry, ',')) {
    size_t b = entry.find_first_not_of(" \t");
    size_t e = entry.find_last_not_of(" \t");
    if (b == std::string::npos) break;
    entry = entry.substr(b, e - b + 1);
    bool is_index = std::all_of(entry.begin(), entry.end(), [](unsigned char c) { return std::isdigit(c); });
    bool is_uuid = entry.starts_with("GPU-") || entry.starts_with("MIG-");
    if (!is_index && !is_uuid) break;
    ++count;
  }
  return count;
}

int visible_gpu_count() {
  if (const char* cvd = std::getenv("CUDA_VISIBLE_DEVICES")) return count_cuda_visible_devices(cvd);
  std::error_code ec;
  const std::filesystem::path proc("/proc/driver/nvidia/gpus");
  if (std::filesystem::is_directory(proc, ec)) {
    int count = 0;
    for (const auto& entry : std::filesystem::directory_iterator(proc, ec)) {
      (void)entry;
      ++count;
    }
    if (count > 0) return count;
  }
  // Last resort: nvidia-smi (absent on machines without the driver).
  FILE* pipe = popen("nvidia-smi -L 2>/dev/null", "r");
  if (pipe == nullptr) return 0;
  int count = 0;
  char line[512];
  while (std::fgets(line, sizeof line, pipe) != nullptr)
    if (std::string_view(line).starts_with("GPU ")) ++count;
  pclose(pipe);
  return count;
}

int usable_cpu_count() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    int count = CPU_COUNT(&set);
    if (count > 0) return count;
  }
  long online = sysconf(_SC_NPROCESSORS_ONLN);
  return online > 0 ? static_cast<int>(online) : 1;
}

}  // namespace weftrun
