// One libsrt multiplexer shared by the caller sockets of a process.
//
// libsrt gives each caller socket a multiplexer of its own (a UDP port and two worker threads) and destroys it in its
// garbage collector 1 to 2 s after the socket closed, joining those threads while it holds its global lock, which
// srt_sendmsg, srt_recvmsg, srt_epoll_uwait and srt_bstats of every socket of the process wait for. One teardown
// costs a few milliseconds; many at once (a venue losing every path, callers retrying towards a venue not up yet)
// stall every stream of the process. Measured on loopback with tcpdump: cutting 16 simulated callers left the next 16
// streams of that process without a packet on the wire for 110 ms, and 12 of 16 receiver callers closing held the
// relayed output of the 4 others for up to 160 ms. Callers bound to one port share one multiplexer (libsrt reuses a
// multiplexer for a socket bound to its port with SO_REUSEADDR, as a listener's accepted connections do), kept open
// by an anchor socket that never connects, while some caller holds it: closing a caller then frees a socket only.
#pragma once

#include <string>

#include "common.h"

namespace sigpath {

class SharedMux {
 public:
  // Separate multiplexers: the simulator's senders, and sigpath's receivers (whose multiplexer threads are made by
  // a real-time thread, Receiver::Start, and must not be the simulator's normal ones).
  enum Pool { kSimulator = 0, kReceiver = 1 };
  // Takes a share of the pool's anchor for the family (AF_INET or AF_INET6), making it if it is the first.
  SharedMux(int family, Pool pool);
  ~SharedMux();
  SharedMux(const SharedMux&) = delete;
  SharedMux& operator=(const SharedMux&) = delete;
  // Binds s to the shared port: "" when done, or when there is no anchor (s then gets a multiplexer of its own, as
  // libsrt would give it); an error text when the bind failed.
  std::string Bind(SRTSOCKET s);

 private:
  int family_;
  Pool pool_;
  bool held_ = false;
};

}  // namespace sigpath
