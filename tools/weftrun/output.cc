#include "output.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "weft/error.h"

namespace weftrun {

void LineSplitter::feed(std::string_view data, const std::function<void(std::string_view)>& emit) {
  while (!data.empty()) {
    size_t newline = data.find('\n');
    size_t take = std::min(newline == std::string_view::npos ? data.size() : newline, max_line_ - pending_.size());
    pending_.append(data.substr(0, take));
    data.remove_prefix(take);
    bool full = pending_.size() >= max_line_;  // a runaway line: cut it here
    if (full || (!data.empty() && data.front() == '\n')) {
      emit(pending_);
      pending_.clear();
      if (!data.empty() && data.front() == '\n') data.remove_prefix(1);
    }
  }
}

void LineSplitter::finish(const std::function<void(std::string_view)>& emit) {
  if (!pending_.empty()) emit(pending_);
  pending_.clear();
}

void write_fully(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    data.remove_prefix(static_cast<size_t>(n));
  }
}

StreamSink::StreamSink(std::string prefix, int console_fd, const std::string& log_path, size_t tail_lines)
    : prefix_(std::move(prefix)), console_fd_(console_fd), tail_lines_(tail_lines) {
  if (!log_path.empty()) {
    log_fd_ = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (log_fd_ < 0) weft::throw_errno(weft::str("weftrun: cannot create log file ", log_path));
  }
}

StreamSink::~StreamSink() {
  if (log_fd_ >= 0) ::close(log_fd_);
}

void StreamSink::write(std::string_view data) {
  if (log_fd_ >= 0) write_fully(log_fd_, data);
  splitter_.feed(data, [this](std::string_view text) { line(text); });
}

void StreamSink::finish() {
  splitter_.finish([this](std::string_view text) { line(text); });
}

void StreamSink::line(std::string_view text) {
  if (console_fd_ >= 0) {
    // One write per line keeps lines of different workers from interleaving.
    std::string out;
    out.reserve(prefix_.size() + text.size() + 1);
    out.append(prefix_).append(text).push_back('\n');
    write_fully(console_fd_, out);
  }
  if (tail_lines_ > 0) {
    tail_.emplace_back(text);
    if (tail_.size() > tail_lines_) tail_.pop_front();
  }
}

}  // namespace weftrun
