// The receiver's connections: accepting callers (listener), the caller's own connection, reading a connection's
// packets (relay, then the transport-stream check), and closing them with their final stats. Split from receiver.cc,
// which keeps the thread, the stats tick and the silence watchdog; both define members of the one Receiver class.
#include "receiver.h"
#include "stall.h"

#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "srt/access_control.h"

namespace sigpath {

namespace {
constexpr int kBufSize = 1500;  // one SRT live payload is at most 1456 bytes
}  // namespace

// A connection the thread now reads: its arrival counts start from zero, and JS hears it is connected.
void Receiver::AddConn(SRTSOCKET s, const Conn& c, int64_t now) {
  conns_[s] = c;
  {
    std::lock_guard<std::mutex> lock(arrMutex_);
    arrivals_[s] = Arrivals{};
  }
  auto* e = new Event();
  e->type = "connected";
  e->Str("peer", c.peer).Str("streamId", c.streamId).Num("id", s).Num("at", NsToMs(now));
  Post(e);
}

void Receiver::AcceptAll(int64_t now) {
  // One accept per readiness report: SRT epoll is level-triggered, so another pending connection reports again
  // (a second srt_accept on an empty queue would only make libsrt log an error).
  sockaddr_storage sa;
  int len = sizeof sa;
  SRTSOCKET ns = srt_accept(sock_, reinterpret_cast<sockaddr*>(&sa), &len);
  if (ns == SRT_INVALID_SOCK) {
    // A queued connection whose caller closed before we took it (libsrt: "pending connection has unexpectedly
    // closed"); the next one is still accepted.
    auto* e = new Event();
    e->type = "error";
    e->Str("message", SrtLastError("srt_accept"));
    Post(e);
    return;
  }
  Conn c;
  c.sock = ns;
  c.peer = FormatPeer(reinterpret_cast<sockaddr*>(&sa));
  char sid[513] = {0};
  int sidlen = sizeof sid - 1;
  if (srt_getsockflag(ns, SRTO_STREAMID, sid, &sidlen) == 0) c.streamId.assign(sid, static_cast<size_t>(sidlen));
  c.connectedNs = now;
  bool no = false;
  srt_setsockflag(ns, SRTO_RCVSYN, &no, sizeof no);
  int ev = SRT_EPOLL_IN | SRT_EPOLL_ERR;
  if (srt_epoll_add_usock(eid_, ns, &ev) != 0) {
    auto* e = new Event();
    e->type = "error";
    e->Str("message", SrtLastError(("srt_epoll_add_usock for " + c.peer).c_str()));
    Post(e);
    srt_close(ns);
    return;
  }
  AddConn(ns, c, now);
  // A connection that broke while it waited in the accept queue (a caller that reconnects at once closes the one
  // before) gets no epoll event: libsrt raises SRT_EPOLL_ERR only to the epolls the socket was in when it broke, and
  // CUDT::addEPoll sets nothing on a socket no longer connected. Unseen, it would stay in conns_ for good.
  if (srt_getsockstate(ns) != SRTS_CONNECTED) CloseConn(ns, "peer", now);
}

void Receiver::CallerEvent(int events, int64_t now) {
  SRT_SOCKSTATUS st = srt_getsockstate(sock_);
  if (st == SRTS_CONNECTED) {
    callerConnected_ = true;
    Conn c;
    c.sock = sock_;
    c.peer = opt_.host + ":" + std::to_string(opt_.port);
    c.streamId = opt_.streamId;
    c.connectedNs = now;
    int ev = SRT_EPOLL_IN | SRT_EPOLL_ERR;
    srt_epoll_update_usock(eid_, sock_, &ev);
    AddConn(sock_, c, now);
    return;
  }
  if ((events & SRT_EPOLL_ERR) || st == SRTS_BROKEN || st == SRTS_CLOSED || st == SRTS_NONEXIST) {
    int reason = srt_getrejectreason(sock_);
    auto* e = new Event();
    e->type = "rejected";
    e->Str("peer", opt_.host + ":" + std::to_string(opt_.port))
        .Str("streamId", opt_.streamId)
        .Str("reasonText", srt_rejectreason_str(reason));
    e->Num("reasonCode", reason).Num("at", NsToMs(now));
    Post(e);
    srt_epoll_remove_usock(eid_, sock_);
    srt_close(sock_);
    sock_ = SRT_INVALID_SOCK;
    auto* c = new Event();
    c->type = "closed";
    c->Num("at", NsToMs(now));
    Post(c);
  }
}

bool Receiver::ReadConn(Conn& c) {
  char buf[kBufSize];
  // One message per readiness report. SRT's epoll is level-triggered, so a second ready message reports again;
  // reading until SRT_EASYNCRCV would cost an internal C++ exception in libsrt per packet (its error path).
  {
    SRT_MSGCTRL mc = srt_msgctrl_default;
    int n = srt_recvmsg2(c.sock, buf, sizeof buf, &mc);
    if (n <= 0) return srt_getlasterror(nullptr) == SRT_EASYNCRCV;  // false: the connection broke
    int64_t ts = MonotonicNs();  // its delivery: one TSBPD latency after it arrived, later if a thread was starved
    if (relayFd_ >= 0) {
      if (send(relayFd_, buf, static_cast<size_t>(n), MSG_DONTWAIT) == n)
        c.relayed++;
      else
        c.relayErrors++;  // nobody listening yet (ECONNREFUSED) or a full buffer: the packet is gone either way
    }
    c.lastPacketNs = ts;
    // After the relay send: the check never delays the output (a few integer operations per TS packet).
    c.ts.Push(reinterpret_cast<const uint8_t*>(buf), n, ts);
    c.packets++;
    c.bytes += n;
  }
  return true;
}

void Receiver::CloseConn(SRTSOCKET s, const char* cause, int64_t now) {
  auto it = conns_.find(s);
  if (it == conns_.end()) return;
  Conn c = it->second;
  ConnStats st;
  st.id = s;
  st.peer = c.peer;
  st.streamId = c.streamId;
  st.relayed = c.relayed;
  st.relayErrors = c.relayErrors;
  st.ts = c.ts.TakeInterval(now);
  // Once the peer has closed, libsrt may have no stats left for the socket: our own counts then stand in.
  bool haveStats = ReadConnStats(s, &st);
  int64_t lastArrival = 0, arrived = 0;
  {
    std::lock_guard<std::mutex> lock(arrMutex_);
    auto a = arrivals_.find(s);
    if (a != arrivals_.end()) {
      lastArrival = a->second.lastNs;
      arrived = a->second.total;
    }
    arrivals_.erase(s);
  }
  int reason = srt_getrejectreason(s);
  srt_epoll_remove_usock(eid_, s);
  srt_close(s);
  conns_.erase(it);
  if (s == sock_) sock_ = SRT_INVALID_SOCK;
  auto* e = new Event();
  e->type = "disconnected";
  e->Str("peer", c.peer).Str("streamId", c.streamId).Str("cause", cause).Str("reasonText", srt_rejectreason_str(reason));
  e->Num("id", s).Num("at", NsToMs(now)).Num("lastPacketAt", lastArrival ? NsToMs(lastArrival) : -1);
  e->Num("packets", static_cast<double>(c.packets)).Num("bytes", static_cast<double>(c.bytes));
  e->Num("relayed", static_cast<double>(c.relayed)).Num("arrived", static_cast<double>(arrived));
  if (haveStats) {
    e->hasStats = true;
    e->stats.push_back(st);
  }
  Post(e);
  if (conns_.empty()) {
    // The last connection is gone: the stream stopped at its last packet, not when the socket noticed.
    std::lock_guard<std::mutex> lock(sigMutex_);
    if (signal_ == Signal::Up) SignalDown(std::min(lastArrivalNs_.load(), now), now, "disconnected");
    armed_ = false;
  }
}

void Receiver::StatsTick(int64_t now) {
  auto* e = new Event();
  e->type = "stats";
  e->hasStats = true;
  for (auto& kv : conns_) {
    ConnStats st;
    st.id = kv.first;
    st.peer = kv.second.peer;
    st.streamId = kv.second.streamId;
    st.relayed = kv.second.relayed;
    st.relayErrors = kv.second.relayErrors;
    // The interval's TS figures, judged now (PAT/PMT overdue), beside libsrt's figures of the same interval.
    st.ts = kv.second.ts.TakeInterval(now);
    if (ReadConnStats(kv.first, &st)) e->stats.push_back(st);
  }
  e->Num("at", NsToMs(now)).Num("intervalMs", statsIntervalMs_);
  // the time the host stood still in this interval (stall.h): a figure for the operator, not a judgement
  e->Num("stalledMs", NsToMs(StalledNs(now - static_cast<int64_t>(statsIntervalMs_) * 1000000, now)));
  Post(e);
}

void Receiver::CloseAll() {
  for (auto& kv : conns_) {
    // stop() hands these to JS: the totals since the last stats tick would otherwise be lost.
    ConnStats st;
    st.id = kv.first;
    st.peer = kv.second.peer;
    st.streamId = kv.second.streamId;
    st.relayed = kv.second.relayed;
    st.relayErrors = kv.second.relayErrors;
    st.ts = kv.second.ts.TakeInterval(MonotonicNs());
    if (ReadConnStats(kv.first, &st)) finalStats_.push_back(st);
    srt_epoll_remove_usock(eid_, kv.first);
    srt_close(kv.first);
    if (kv.first == sock_) sock_ = SRT_INVALID_SOCK;
  }
  conns_.clear();
  {
    std::lock_guard<std::mutex> lock(arrMutex_);
    arrivals_.clear();
  }
  if (sock_ != SRT_INVALID_SOCK) {
    {
      // No listen callback may post once stop() starts releasing the thread-safe function.
      std::lock_guard<std::mutex> lock(cbMutex_);
      cbOpen_ = false;
    }
    srt_close(sock_);
    sock_ = SRT_INVALID_SOCK;
  }
  {
    std::lock_guard<std::mutex> lock(cbMutex_);
    cbOpen_ = false;
  }
  if (eid_ >= 0) srt_epoll_release(eid_);
  eid_ = -1;
  if (relayFd_ >= 0) close(relayFd_);
  relayFd_ = -1;
}

}  // namespace sigpath
