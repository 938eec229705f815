// Worker output: the agent reads each worker's stdout and stderr through pipes
// and writes every line to the launcher's own stdout/stderr prefixed "[R]:"
// (R = global rank), to per-rank log files with --log-dir, and keeps the last
// lines of stderr to quote when the worker fails.
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace weftrun {

// Cuts a byte stream into lines. Bytes after the last '\n' wait for the next
// chunk; a line longer than max_line is cut there so memory stays bounded.
class LineSplitter {
 public:
  explicit LineSplitter(size_t max_line = 64 * 1024) : max_line_(max_line) {}
  // Calls emit(line) (without the '\n') for each complete line in data.
  void feed(std::string_view data, const std::function<void(std::string_view)>& emit);
  // End of stream: emits an unterminated last line, if any.
  void finish(const std::function<void(std::string_view)>& emit);

 private:
  size_t max_line_;
  std::string pending_;
};

// Writes all of `data` to fd, retrying on EINTR/partial writes; errors (a
// closed console) are ignored: losing output must not kill the job.
void write_fully(int fd, std::string_view data);

// One stream (stdout or stderr) of one worker.
class StreamSink {
 public:
  // console_fd: where prefixed lines go (-1: nowhere, --redirects);
  // log_path: raw copy of the stream ("" for none); tail_lines: how many
  // last lines to remember (for failure reports).
  StreamSink(std::string prefix, int console_fd, const std::string& log_path, size_t tail_lines);
  ~StreamSink();
  StreamSink(const StreamSink&) = delete;
  StreamSink& operator=(const StreamSink&) = delete;

  void write(std::string_view data);
  void finish();  // end of stream
  std::vector<std::string> tail() const { return {tail_.begin(), tail_.end()}; }

 private:
  void line(std::string_view text);
  std::string prefix_;
  int console_fd_;
  int log_fd_ = -1;
  size_t tail_lines_;
  LineSplitter splitter_;
  std::deque<std::string> tail_;
};

}  // namespace weftrun
