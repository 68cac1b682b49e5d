#include "receiver.h"

#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cstring>

#include "srt/access_control.h"

namespace sigpath {

namespace {
constexpr int kMaxWaitMs = 10;  // the longest epoll wait: how soon the thread sees stop()
constexpr int kMaxEvents = 64;
constexpr int kBufSize = 1500;  // one SRT live payload is at most 1456 bytes
}  // namespace

Napi::Function Receiver::Init(Napi::Env env) {
  return DefineClass(env, "Receiver",
                     {InstanceMethod("start", &Receiver::Start), InstanceMethod("stop", &Receiver::Stop)});
}

// new Receiver(options, onEvent): options as ReadSrtOptions plus silenceMs, statsIntervalMs, relayHost, relayPort,
// relayTtl. Nothing is opened until start().
Receiver::Receiver(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Receiver>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsFunction())
    throw Napi::TypeError::New(env, "new Receiver(options, onEvent)");
  Napi::Object o = info[0].As<Napi::Object>();
  opt_ = ReadSrtOptions(o);
  if (!opt_.listener && opt_.host.empty()) throw Napi::TypeError::New(env, "a caller needs host");
  auto num = [&](const char* k, int def, int min, int max) {
    Napi::Value v = o.Get(k);
    if (v.IsUndefined()) return def;
    double d = v.ToNumber().DoubleValue();
    if (!(d >= min && d <= max)) throw Napi::RangeError::New(env, std::string("option ") + k + " out of range");
    return static_cast<int>(d);
  };
  silenceMs_ = num("silenceMs", 50, 1, 3600000);
  statsIntervalMs_ = num("statsIntervalMs", 1000, 10, 3600000);
  relayTtl_ = num("relayTtl", 1, 0, 255);
  Napi::Value rh = o.Get("relayHost");
  if (!rh.IsUndefined()) {
    int rp = num("relayPort", 0, 1, 65535);
    if (!MakeSockaddr(rh.ToString().Utf8Value(), rp, &relayAddr_, &relayLen_))
      throw Napi::TypeError::New(env, "relayHost must be a numeric IPv4 or IPv6 address");
    hasRelay_ = true;
  }
  if (!opt_.listener || opt_.host != "0.0.0.0") {
    sockaddr_storage tmp;
    socklen_t len;
    if (!MakeSockaddr(opt_.host, opt_.port, &tmp, &len))
      throw Napi::TypeError::New(env, "host must be a numeric IPv4 or IPv6 address (resolve names first)");
  }
  onEvent_ = Napi::Persistent(info[1].As<Napi::Function>());
}

Receiver::~Receiver() {
  // A receiver collected while running (its owner forgot stop()): stop the thread without calling JS.
  if (started_ && !joined_) {
    StopThreads();
    tsfn_.Abort();
  }
}

void Receiver::StopThreads() {
  {
    std::lock_guard<std::mutex> lock(sigMutex_);
    stopping_ = true;
    sigCv_.notify_all();
  }
  if (watchdog_.joinable()) watchdog_.join();
  if (thread_.joinable()) thread_.join();
  joined_ = true;
}

void Receiver::Post(Event* e) {
  if (tsfn_.NonBlockingCall(e, DeliverEvent) != napi_ok) delete e;
}

// start(): binds (listener) or starts connecting (caller), then runs the receive thread. Returns { port }: the bound
// local port. Throws when the socket cannot be set up (port in use, bad address): a listener is reachable once bound.
Napi::Value Receiver::Start(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (started_) throw Napi::Error::New(env, "Receiver.start(): already started");
  EnsureSrtStarted();
  auto fail = [&](const std::string& msg) {
    if (sock_ != SRT_INVALID_SOCK) srt_close(sock_);
    sock_ = SRT_INVALID_SOCK;
    if (eid_ >= 0) srt_epoll_release(eid_);
    eid_ = -1;
    if (relayFd_ >= 0) close(relayFd_);
    relayFd_ = -1;
    throw Napi::Error::New(env, msg);
  };

  if (hasRelay_) {
    relayFd_ = socket(relayAddr_.ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (relayFd_ < 0) fail(std::string("relay socket: ") + strerror(errno));
    if (relayAddr_.ss_family == AF_INET) {
      auto* a = reinterpret_cast<sockaddr_in*>(&relayAddr_);
      if (IN_MULTICAST(ntohl(a->sin_addr.s_addr))) {
        unsigned char ttl = static_cast<unsigned char>(relayTtl_), loop = 1;
        setsockopt(relayFd_, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof ttl);
        setsockopt(relayFd_, IPPROTO_IP, IP_MULTICAST_LOOP, &loop, sizeof loop);
      }
    } else {
      auto* a = reinterpret_cast<sockaddr_in6*>(&relayAddr_);
      if (IN6_IS_ADDR_MULTICAST(&a->sin6_addr)) {
        int hops = relayTtl_, loop = 1;
        setsockopt(relayFd_, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof hops);
        setsockopt(relayFd_, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &loop, sizeof loop);
      }
    }
    // Room for a burst: after a stall TSBPD can release many packets at once (capped by net.core.wmem_max).
    int sndbuf = 4 * 1024 * 1024;
    setsockopt(relayFd_, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    // connect() fixes the destination, so each relayed packet is one send() with no address lookup.
    if (connect(relayFd_, reinterpret_cast<sockaddr*>(&relayAddr_), relayLen_) != 0)
      fail(std::string("relay connect: ") + strerror(errno));
  }

  eid_ = srt_epoll_create();
  if (eid_ < 0) fail(SrtLastError("srt_epoll_create"));
  srt_epoll_set(eid_, SRT_EPOLL_ENABLE_EMPTY);
  sock_ = srt_create_socket();
  if (sock_ == SRT_INVALID_SOCK) fail(SrtLastError("srt_create_socket"));
  std::string err = ApplySrtOptions(sock_, opt_, !opt_.listener);
  if (!err.empty()) fail(err);

  int localPort = 0;
  sockaddr_storage sa;
  socklen_t salen = 0;
  MakeSockaddr(opt_.host, opt_.port, &sa, &salen);
  if (opt_.listener) {
    // No SO_REUSEADDR for a listener: libsrt sets it by default, which lets a second process (a `sigpath probe`
    // beside the daemon) bind the same port and silently take part of a live feed. Here that bind fails instead.
    bool reuse = false;
    if (srt_setsockflag(sock_, SRTO_REUSEADDR, &reuse, sizeof reuse) != 0) fail(SrtLastError("SRTO_REUSEADDR"));
    if (srt_bind(sock_, reinterpret_cast<sockaddr*>(&sa), static_cast<int>(salen)) != 0)
      fail(SrtLastError(("srt_bind " + opt_.host + ":" + std::to_string(opt_.port)).c_str()));
    if (srt_listen_callback(sock_, &Receiver::OnListen, this) != 0) fail(SrtLastError("srt_listen_callback"));
    if (srt_listen(sock_, 16) != 0) fail(SrtLastError("srt_listen"));
    sockaddr_storage bound;
    int blen = sizeof bound;
    if (srt_getsockname(sock_, reinterpret_cast<sockaddr*>(&bound), &blen) == 0)
      localPort = ntohs(bound.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&bound)->sin_port
                                                   : reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
    int ev = SRT_EPOLL_IN | SRT_EPOLL_ERR;
    if (srt_epoll_add_usock(eid_, sock_, &ev) != 0) fail(SrtLastError("srt_epoll_add_usock"));
  } else {
    int ev = SRT_EPOLL_OUT | SRT_EPOLL_ERR;
    if (srt_epoll_add_usock(eid_, sock_, &ev) != 0) fail(SrtLastError("srt_epoll_add_usock"));
    // Non-blocking connect: the handshake runs in libsrt; the thread sees OUT (connected) or ERR (rejected or timed
    // out after SRTO_CONNTIMEO) through epoll and can be stopped at any moment.
    if (srt_connect(sock_, reinterpret_cast<sockaddr*>(&sa), static_cast<int>(salen)) == SRT_ERROR)
      fail(SrtLastError(("srt_connect " + opt_.host + ":" + std::to_string(opt_.port)).c_str()));
  }

  tsfn_ = Napi::ThreadSafeFunction::New(env, onEvent_.Value(), "sigpath-srt-receiver", 0, 1);
  {
    std::lock_guard<std::mutex> lock(cbMutex_);
    cbOpen_ = true;
  }
  started_ = true;
  thread_ = std::thread(&Receiver::Run, this);
  watchdog_ = std::thread(&Receiver::Watchdog, this);
  Napi::Object r = Napi::Object::New(env);
  r.Set("port", localPort);
  return r;
}

// stop(): ends the thread, closes every socket (connections, listener, relay) and releases the callback.
Napi::Value Receiver::Stop(const Napi::CallbackInfo& info) {
  if (!started_ || joined_) return Napi::Array::New(info.Env(), 0);
  StopThreads();
  tsfn_.Release();
  Napi::Array arr = Napi::Array::New(info.Env(), finalStats_.size());
  for (size_t i = 0; i < finalStats_.size(); i++) arr.Set(static_cast<uint32_t>(i), StatsObject(info.Env(), finalStats_[i]));
  return arr;
}

int Receiver::OnListen(void* opaque, SRTSOCKET ns, int hsversion, const sockaddr* peer, const char* streamid) {
  // Runs in libsrt's receiving thread during the handshake, before the connection exists (srt.h
  // srt_listen_callback): the place to refuse an unknown stream id, with a reason the caller can read.
  auto* self = static_cast<Receiver*>(opaque);
  std::string sid = streamid != nullptr ? streamid : "";
  std::lock_guard<std::mutex> lock(self->cbMutex_);
  if (!self->opt_.hasStreamId || sid == self->opt_.streamId) {
    // Accepted here, the handshake may still fail later (a wrong passphrase is found after this callback and
    // libsrt only logs it): JS keeps the socket id with its peer to name such a rejection.
    if (self->cbOpen_) {
      auto* e = new Event();
      e->type = "handshake";
      e->Str("peer", FormatPeer(peer)).Str("streamId", sid).Num("id", ns).Num("at", NsToMs(MonotonicNs()));
      self->Post(e);
    }
    return 0;
  }
  srt_setrejectreason(ns, SRT_REJX_NOTFOUND);
  if (self->cbOpen_) {
    auto* e = new Event();
    e->type = "rejected";
    e->Str("peer", FormatPeer(peer)).Str("streamId", sid).Str("reasonText", "unknown stream id");
    e->Num("reasonCode", SRT_REJX_NOTFOUND).Num("at", NsToMs(MonotonicNs()));
    self->Post(e);
  }
  return -1;
}

void Receiver::ArmFirstPacket(int64_t now) {
  // A new connection with no packet yet: the first packet leaves libsrt one TSBPD latency after it was sent, so
  // silence is counted from the connection's start plus that latency.
  std::lock_guard<std::mutex> lock(sigMutex_);
  if (signal_ != Signal::None || armed_) return;
  watchNs_ = now + static_cast<int64_t>(opt_.latencyMs) * 1000000;
  armed_ = true;
  sigCv_.notify_all();
}

void Receiver::SignalUp(int64_t at, const char* cause) {
  signal_ = Signal::Up;
  auto* e = new Event();
  e->type = "signal";
  e->Str("signal", "up").Str("cause", cause).Num("at", NsToMs(at)).Num("detectedAt", NsToMs(MonotonicNs()));
  Post(e);
}

void Receiver::SignalDown(int64_t at, int64_t now, const char* cause) {
  signal_ = Signal::Down;
  armed_ = false;
  auto* e = new Event();
  e->type = "signal";
  e->Str("signal", "down").Str("cause", cause).Num("at", NsToMs(at)).Num("detectedAt", NsToMs(now));
  Post(e);
}

void Receiver::AcceptAll(int64_t now) {
  // One accept per readiness report: SRT epoll is level-triggered, so another pending connection reports again
  // (a second srt_accept on an empty queue would only make libsrt log an error).
  {
    sockaddr_storage sa;
    int len = sizeof sa;
    SRTSOCKET ns = srt_accept(sock_, reinterpret_cast<sockaddr*>(&sa), &len);
    if (ns == SRT_INVALID_SOCK) return;
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
      srt_close(ns);
      return;
    }
    conns_[ns] = c;
    auto* e = new Event();
    e->type = "connected";
    e->Str("peer", c.peer).Str("streamId", c.streamId).Num("id", ns).Num("at", NsToMs(now));
    Post(e);
    ArmFirstPacket(now);
  }
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
    conns_[sock_] = c;
    auto* e = new Event();
    e->type = "connected";
    e->Str("peer", c.peer).Str("streamId", c.streamId).Num("id", sock_).Num("at", NsToMs(now));
    Post(e);
    ArmFirstPacket(now);
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
    int64_t ts = MonotonicNs();  // every packet's own arrival instant
    if (relayFd_ >= 0) {
      if (send(relayFd_, buf, static_cast<size_t>(n), MSG_DONTWAIT) == n)
        c.relayed++;
      else
        c.relayErrors++;  // nobody listening yet (ECONNREFUSED) or a full buffer: the packet is gone either way
    }
    c.lastPacketNs = ts;
    c.packets++;
    c.bytes += n;
    lastPacketNs_.store(ts, std::memory_order_relaxed);
    watchNs_.store(ts, std::memory_order_release);
    if (signal_.load(std::memory_order_acquire) != Signal::Up) {
      std::lock_guard<std::mutex> lock(sigMutex_);
      if (signal_ != Signal::Up) SignalUp(ts, "packets");
      armed_ = true;
      sigCv_.notify_all();
    }
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
  // Once the peer has closed, libsrt may have no stats left for the socket: our own counts then stand in.
  bool haveStats = ReadConnStats(s, &st);
  int reason = srt_getrejectreason(s);
  srt_epoll_remove_usock(eid_, s);
  srt_close(s);
  conns_.erase(it);
  if (s == sock_) sock_ = SRT_INVALID_SOCK;
  auto* e = new Event();
  e->type = "disconnected";
  e->Str("peer", c.peer).Str("streamId", c.streamId).Str("cause", cause).Str("reasonText", srt_rejectreason_str(reason));
  e->Num("id", s).Num("at", NsToMs(now)).Num("lastPacketAt", c.lastPacketNs ? NsToMs(c.lastPacketNs) : -1);
  e->Num("packets", static_cast<double>(c.packets)).Num("bytes", static_cast<double>(c.bytes));
  e->Num("relayed", static_cast<double>(c.relayed));
  if (haveStats) {
    e->hasStats = true;
    e->stats.push_back(st);
  }
  Post(e);
  if (conns_.empty()) {
    // The last connection is gone: the stream stopped at its last packet, not when the socket noticed.
    std::lock_guard<std::mutex> lock(sigMutex_);
    if (signal_ == Signal::Up) SignalDown(lastPacketNs_.load(), now, "disconnected");
    else if (armed_) SignalDown(std::min(watchNs_.load(), now), now, "disconnected");
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
    if (ReadConnStats(kv.first, &st)) e->stats.push_back(st);
  }
  e->Num("at", NsToMs(now)).Num("intervalMs", statsIntervalMs_);
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
    if (ReadConnStats(kv.first, &st)) finalStats_.push_back(st);
    srt_epoll_remove_usock(eid_, kv.first);
    srt_close(kv.first);
    if (kv.first == sock_) sock_ = SRT_INVALID_SOCK;
  }
  conns_.clear();
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

void Receiver::Watchdog() {
  // The watchdog wakes once per silence period and does almost nothing, so it may run SCHED_FIFO (priority 1) where
  // allowed (root, CAP_SYS_NICE, or systemd's LimitRTPRIO=1): on a loaded machine a failover then waits for the
  // clock, not for the scheduler. Without the right it runs as a normal thread; JS is told which.
  sched_param sp{};
  sp.sched_priority = 1;
  bool realtime = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp) == 0;
  {
    auto* e = new Event();
    e->type = "watchdog";
    e->Num("realtime", realtime ? 1 : 0).Num("at", NsToMs(MonotonicNs()));
    Post(e);
  }
  const int64_t silenceNs = static_cast<int64_t>(silenceMs_) * 1000000;
  const auto epoch = std::chrono::steady_clock::time_point();  // steady_clock is CLOCK_MONOTONIC on Linux
  std::unique_lock<std::mutex> lock(sigMutex_);
  while (!stopping_) {
    if (!armed_) {
      sigCv_.wait(lock);
      continue;
    }
    int64_t deadline = watchNs_.load(std::memory_order_acquire) + silenceNs;
    int64_t now = MonotonicNs();
    if (now < deadline) {
      // Packets keep moving the deadline on; the watchdog wakes once per silence period while they flow.
      sigCv_.wait_until(lock, epoch + std::chrono::nanoseconds(deadline));
      continue;
    }
    int64_t at = watchNs_.load(std::memory_order_acquire);
    if (at + silenceNs > now) continue;  // a packet came as we woke
    SignalDown(at, now, signal_ == Signal::Up ? "silence" : "no-packets");
  }
}

void Receiver::Run() {
  SRT_EPOLL_EVENT evs[kMaxEvents];
  const int64_t statsNs = static_cast<int64_t>(statsIntervalMs_) * 1000000;
  int64_t nextStats = MonotonicNs() + statsNs;
  bool callerDone = false;

  while (!stopping_) {
    int64_t now = MonotonicNs();
    // The wait ends at the stats tick or after kMaxWaitMs (to see stop()); silence is the watchdog's job.
    int64_t until = std::min(now + static_cast<int64_t>(kMaxWaitMs) * 1000000, nextStats);
    if (callerDone) {
      usleep(static_cast<useconds_t>(kMaxWaitMs) * 1000);
      continue;
    }
    int64_t waitMs = until > now ? (until - now + 999999) / 1000000 : 0;
    int n = srt_epoll_uwait(eid_, evs, kMaxEvents, waitMs);
    if (n < 0 && srt_getlasterror(nullptr) != SRT_ETIMEOUT) {
      // Not expected with SRT_EPOLL_ENABLE_EMPTY; never spin on a failing wait.
      usleep(1000);
      n = 0;
    }
    now = MonotonicNs();
    for (int i = 0; i < n; i++) {
      SRTSOCKET s = evs[i].fd;
      int events = evs[i].events;
      if (opt_.listener && s == sock_) {
        AcceptAll(now);
        continue;
      }
      if (!opt_.listener && s == sock_ && !callerConnected_) {
        CallerEvent(events, now);
        if (sock_ == SRT_INVALID_SOCK) callerDone = true;
        continue;
      }
      auto it = conns_.find(s);
      if (it == conns_.end()) continue;
      bool ok = (events & SRT_EPOLL_IN) ? ReadConn(it->second) : true;
      if (!ok || (events & SRT_EPOLL_ERR)) {
        CloseConn(s, "peer", MonotonicNs());
        if (!opt_.listener) {
          auto* c = new Event();
          c->type = "closed";
          c->Num("at", NsToMs(MonotonicNs()));
          Post(c);
          callerDone = true;
        }
      }
    }
    now = MonotonicNs();
    if (now >= nextStats) {
      StatsTick(now);
      nextStats += statsNs;
      if (nextStats <= now) nextStats = now + statsNs;
    }
  }
  CloseAll();
}

}  // namespace sigpath
