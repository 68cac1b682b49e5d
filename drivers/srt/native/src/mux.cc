#include "mux.h"

#include <mutex>

namespace sigpath {

namespace {
std::mutex gMuxMutex;
struct Anchor {
  SRTSOCKET sock = SRT_INVALID_SOCK;
  int port = 0;
  int users = 0;
};
Anchor gAnchors[2];  // AF_INET, AF_INET6

int AnchorIndex(int family) { return family == AF_INET6 ? 1 : 0; }

// the wildcard address of the family, on port
void Wildcard(int family, int port, sockaddr_storage* sa, socklen_t* len) {
  MakeSockaddr(family == AF_INET6 ? "::" : "0.0.0.0", port, sa, len);
}

// IPv6 sockets are v6-only, so that an IPv4 and an IPv6 anchor never claim one another's wildcard
std::string SetFamilyOptions(SRTSOCKET s, int family) {
  if (family != AF_INET6) return "";
  int one = 1;
  return srt_setsockflag(s, SRTO_IPV6ONLY, &one, sizeof one) == 0 ? "" : SrtLastError("SRTO_IPV6ONLY");
}
}  // namespace

SharedMux::SharedMux(int family) : family_(family == AF_INET6 ? AF_INET6 : AF_INET) {
  std::lock_guard<std::mutex> lock(gMuxMutex);
  Anchor& a = gAnchors[AnchorIndex(family_)];
  if (a.users == 0) {
    SRTSOCKET s = srt_create_socket();
    sockaddr_storage sa;
    socklen_t len;
    Wildcard(family_, 0, &sa, &len);
    bool ok = s != SRT_INVALID_SOCK && SetFamilyOptions(s, family_).empty() &&
              srt_bind(s, reinterpret_cast<sockaddr*>(&sa), static_cast<int>(len)) == 0;
    int port = ok ? LocalPort(s) : 0;
    if (port == 0) {
      if (s != SRT_INVALID_SOCK) srt_close(s);
      return;  // no anchor: this caller gets a multiplexer of its own, as libsrt would give it
    }
    a.sock = s;
    a.port = port;
  }
  a.users++;
  held_ = true;
}

SharedMux::~SharedMux() {
  if (!held_) return;
  std::lock_guard<std::mutex> lock(gMuxMutex);
  Anchor& a = gAnchors[AnchorIndex(family_)];
  if (--a.users == 0) {
    srt_close(a.sock);
    a.sock = SRT_INVALID_SOCK;
    a.port = 0;
  }
}

std::string SharedMux::Bind(SRTSOCKET s) {
  if (!held_) return "";
  int port;
  {
    std::lock_guard<std::mutex> lock(gMuxMutex);
    port = gAnchors[AnchorIndex(family_)].port;
  }
  std::string err = SetFamilyOptions(s, family_);
  if (!err.empty()) return err;
  sockaddr_storage sa;
  socklen_t len;
  Wildcard(family_, port, &sa, &len);
  if (srt_bind(s, reinterpret_cast<sockaddr*>(&sa), static_cast<int>(len)) != 0) return SrtLastError("srt_bind (shared)");
  return "";
}

}  // namespace sigpath
