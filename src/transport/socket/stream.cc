#include "transport/socket/stream.h"

#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>

namespace weft::transport {

Stream::Flush Stream::flush(std::vector<RequestPtr>& finished, int* err) {
  while (!queue.empty()) {
    // Gather up to 15 queued items (head + payload each) into one sendmsg.
    iovec iov[32];
    int niov = 0;
    for (auto it = queue.begin(); it != queue.end() && niov < 30; ++it) {
      size_t w = it->written;
      if (w < it->head_len) {
        iov[niov++] = {it->head + w, it->head_len - w};
        w = it->head_len;
      }
      size_t pw = w - it->head_len;
      if (pw < it->payload_len)
        iov[niov++] = {const_cast<char*>(it->payload) + pw, it->payload_len - pw};
    }
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = static_cast<size_t>(niov);
    ssize_t n = ::sendmsg(fd(), &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return Flush::blocked;
      *err = errno;
      return Flush::error;
    }
    size_t left = static_cast<size_t>(n);
    while (left > 0) {  // every item has a header, so none is empty
      SendItem& item = queue.front();
      size_t take = std::min(left, item.total() - item.written);
      item.written += take;
      left -= take;
      if (item.written < item.total()) break;
      if (item.group && item.group->remaining.fetch_sub(1) == 1)
        finished.push_back(item.group->request);
      queue.pop_front();
    }
  }
  return Flush::empty;
}

}  // namespace weft::transport
