#include "kernelq.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <string>

namespace sigpath {

// /proc/net/udp lines (Documentation/networking/proc_net_udp.rst):
//   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ...
//    0: 0100007F:9C40 00000000:0000 07 00000000:00000000 00 00000000 00000000 ...
// local_address is ADDR:PORT and tx_queue:rx_queue two hex numbers (bytes). The whole file is read with plain read()s:
// the watchdog calls this only at a deadline with no arrival counted, and the file is small (one line per socket).
int64_t KernelRxQueuedBytes(int family, int port) {
  const char* path = family == AF_INET6 ? "/proc/net/udp6" : "/proc/net/udp";
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  std::string text;
  char buf[16384];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0) {
      close(fd);
      return -1;
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  int64_t total = 0;
  size_t pos = text.find('\n');  // past the header line
  while (pos != std::string::npos && pos + 1 < text.size()) {
    size_t next = text.find('\n', pos + 1);
    unsigned localPort = 0;
    unsigned long long rxQueue = 0;
    // sl: local_address (ADDR:PORT, the ADDR part skipped) rem_address st tx_queue:rx_queue
    if (std::sscanf(text.c_str() + pos + 1, " %*[^:]: %*[0-9A-Fa-f]:%x %*s %*s %*[0-9A-Fa-f]:%llx", &localPort,
                    &rxQueue) == 2 &&
        static_cast<int>(localPort) == port)
      total += static_cast<int64_t>(rxQueue);
    pos = next;
  }
  return total;
}

}  // namespace sigpath
