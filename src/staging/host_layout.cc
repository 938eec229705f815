#include "staging/host_layout.h"

#include <map>

#include "weft/error.h"

namespace weft::staging {

int HostLayout::uniform_local_size() const {
  if (ranks_of.empty()) return 0;
  const size_t n = ranks_of.front().size();
  for (const auto& h : ranks_of)
    if (h.size() != n) return 0;
  return static_cast<int>(n);
}

std::string HostLayout::describe() const {
  if (int l = uniform_local_size()) return str(hosts(), " hosts x ", l, " ranks");
  std::string s = str(hosts(), " hosts (");
  for (size_t h = 0; h < ranks_of.size(); ++h) s += str(h ? ", " : "", ranks_of[h].size());
  return s + " ranks)";
}

HostLayout HostLayout::from_host_ids(const std::vector<std::string>& ids) {
  HostLayout layout;
  std::map<std::string, int> index;
  for (size_t r = 0; r < ids.size(); ++r) {
    auto [it, added] = index.emplace(ids[r], static_cast<int>(layout.ranks_of.size()));
    if (added) layout.ranks_of.emplace_back();
    auto& ranks = layout.ranks_of[static_cast<size_t>(it->second)];
    layout.host_of.push_back(it->second);
    layout.local_of.push_back(static_cast<int>(ranks.size()));
    ranks.push_back(static_cast<int>(r));
  }
  return layout;
}

}  // namespace weft::staging
