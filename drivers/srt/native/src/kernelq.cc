#include "kernelq.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
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
  size_t pos = text.find('\n');  // the header line
  while (pos != std::string::npos && pos + 1 < text.size()) {
    size_t end = text.find('\n', pos + 1);
    std::string line = text.substr(pos + 1, end == std::string::npos ? std::string::npos : end - pos - 1);
    pos = end;
    // fields: "sl:" local rem st queues ...
    size_t colon = line.find(':');  // after sl
    if (colon == std::string::npos) continue;
    size_t la = line.find_first_not_of(' ', colon + 1);
    size_t laEnd = line.find(' ', la);
    if (la == std::string::npos || laEnd == std::string::npos) continue;
    size_t portSep = line.rfind(':', laEnd);
    if (portSep == std::string::npos || portSep < la) continue;
    long localPort = std::strtol(line.substr(portSep + 1, laEnd - portSep - 1).c_str(), nullptr, 16);
    if (localPort != port) continue;
    // skip rem_address and st, then tx_queue:rx_queue
    size_t rem = line.find_first_not_of(' ', laEnd);
    size_t remEnd = rem == std::string::npos ? rem : line.find(' ', rem);
    size_t st = remEnd == std::string::npos ? remEnd : line.find_first_not_of(' ', remEnd);
    size_t stEnd = st == std::string::npos ? st : line.find(' ', st);
    size_t q = stEnd == std::string::npos ? stEnd : line.find_first_not_of(' ', stEnd);
    if (q == std::string::npos) continue;
    size_t qSep = line.find(':', q);
    if (qSep == std::string::npos) continue;
    total += std::strtoll(line.c_str() + qSep + 1, nullptr, 16);
  }
  return total;
}

}  // namespace sigpath
