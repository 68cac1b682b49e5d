// One libsrt multiplexer shared by the simulator's caller sockets in a process.
//
// libsrt gives each caller socket a multiplexer of its own (a UDP port and two worker threads) and destroys it in its
// garbage collector 1 to 2 s after the socket closed, joining those threads while it holds its global lock, which
// srt_sendmsg of every socket of the process waits for. One teardown costs a few milliseconds; many at once stall
// every stream of the process: cutting 16 simulated callers left the next 16 streams of that process without a
// packet on the wire for 110 ms (tcpdump on loopback), silences the receivers rightly reported. Real venues' encoders
// are separate machines. Callers bound to one port share one multiplexer (libsrt reuses a multiplexer for a socket
// bound to its port with SO_REUSEADDR, as a listener's accepted connections do), kept open by an anchor socket that
// never connects, while some caller holds it: closing a caller then frees a socket only.
//
// sigpath's own receivers keep a multiplexer per caller: shared, one receive worker would carry every stream, and a
// stall of it (a connection being set up or closed) would stop them all at once (see kernelq.h for their defence).
#pragma once

#include <string>

#include "common.h"

namespace sigpath {

class SharedMux {
 public:
  // Takes a share of the anchor for the family (AF_INET or AF_INET6), making it if it is the first.
  explicit SharedMux(int family);
  ~SharedMux();
  SharedMux(const SharedMux&) = delete;
  SharedMux& operator=(const SharedMux&) = delete;
  // Binds s to the shared port: "" when done, or when there is no anchor (s then gets a multiplexer of its own, as
  // libsrt would give it); an error text when the bind failed.
  std::string Bind(SRTSOCKET s);

 private:
  int family_;
  bool held_ = false;
};

}  // namespace sigpath
