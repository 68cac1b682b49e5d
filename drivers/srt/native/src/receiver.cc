#include "receiver.h"
#include "kernelq.h"
#include "stall.h"

#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <cerrno>
#include <cstring>

#include "srt/access_control.h"

namespace sigpath {

namespace {
constexpr int kMaxWaitMs = 10;  // the longest epoll wait: how soon the thread sees stop()
constexpr int kConnWaitMs = 5;  // the longest epoll wait while connected: how soon a first arrival is seen
constexpr int64_t kSampleNs = 1000000;   // the receive thread reads libsrt's arrival counts at most this often
constexpr int64_t kLateNs = 2000000;     // a watchdog wake-up later than this: the process was starved
constexpr int64_t kRecheckNs = 1000000;  // then it looks again after this, on time, before judging
// how long past its deadline a silence may wait for libsrt to read what the kernel holds for it (kernelq.h): a
// libsrt that stands still longer than this has failed in a way the operator must hear about
constexpr int64_t kKernelHoldNs = 1000000000;
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
  if (stallHeld_) {
    stallHeld_ = false;
    StallClockRelease();
  }
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

  // The socket is set up in a helper thread that first asks for SCHED_FIFO priority 1 (root, CAP_SYS_NICE, or
  // systemd's LimitRTPRIO=1). libsrt starts its receiving and sending threads for the UDP port (the multiplexer) in
  // srt_bind (listener) or srt_connect (caller), and the TSBPD thread of each connection from its receiving thread;
  // they are plain pthreads and inherit the creator's policy. So the threads that take packets off the socket, count
  // them and release them keep the priority of the watchdog that judges them: on a loaded machine (a browser
  // starting, a busy loop on a core) the watchdog no longer wakes on time to find the work it checks not done.
  // Without the right, everything runs as normal threads (and the watchdog double-checks a late look, Watchdog()).
  int localPort = 0;
  std::string err;
  std::thread setup([&] {
    sched_param sp{};
    sp.sched_priority = 1;
    realtime_ = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp) == 0;
    err = SetupSocket(&localPort);
  });
  setup.join();
  if (!err.empty()) fail(err);
  tsfn_ = Napi::ThreadSafeFunction::New(env, onEvent_.Value(), "sigpath-srt-receiver", 0, 1);
  {
    std::lock_guard<std::mutex> lock(cbMutex_);
    cbOpen_ = true;
  }
  started_ = true;
  StallClockAcquire();
  stallHeld_ = true;
  thread_ = std::thread(&Receiver::Run, this);
  watchdog_ = std::thread(&Receiver::Watchdog, this);
  Napi::Object r = Napi::Object::New(env);
  r.Set("port", localPort);
  return r;
}

// Creates, binds and listens (listener) or starts connecting (caller); runs in Start's helper thread. Returns an
// error text, or "" with the bound local port in *localPort.
std::string Receiver::SetupSocket(int* localPort) {
  sock_ = srt_create_socket();
  if (sock_ == SRT_INVALID_SOCK) return SrtLastError("srt_create_socket");
  std::string err = ApplySrtOptions(sock_, opt_, !opt_.listener);
  if (!err.empty()) return err;
  sockaddr_storage sa;
  socklen_t salen = 0;
  MakeSockaddr(opt_.host, opt_.port, &sa, &salen);
  if (opt_.listener) {
    // No SRTO_REUSEADDR for a listener. libsrt's default (true) lets a second socket of this process bound to the
    // same port join this listener's multiplexer (two receivers configured on one port would silently split a
    // feed); here that bind fails instead. Another process never could: libsrt's UDP sockets carry no kernel
    // SO_REUSEADDR (srtcore/channel.cpp), so the kernel refuses its bind (a `sigpath probe` beside the daemon).
    bool reuse = false;
    if (srt_setsockflag(sock_, SRTO_REUSEADDR, &reuse, sizeof reuse) != 0) return SrtLastError("SRTO_REUSEADDR");
    if (srt_bind(sock_, reinterpret_cast<sockaddr*>(&sa), static_cast<int>(salen)) != 0)
      return SrtLastError(("srt_bind " + opt_.host + ":" + std::to_string(opt_.port)).c_str());
    if (srt_listen_callback(sock_, &Receiver::OnListen, this) != 0) return SrtLastError("srt_listen_callback");
    if (srt_listen(sock_, 16) != 0) return SrtLastError("srt_listen");
    *localPort = LocalPort(sock_, &family_);
    localPort_ = *localPort;
    int ev = SRT_EPOLL_IN | SRT_EPOLL_ERR;
    if (srt_epoll_add_usock(eid_, sock_, &ev) != 0) return SrtLastError("srt_epoll_add_usock");
  } else {
    int ev = SRT_EPOLL_OUT | SRT_EPOLL_ERR;
    if (srt_epoll_add_usock(eid_, sock_, &ev) != 0) return SrtLastError("srt_epoll_add_usock");
    // Non-blocking connect: the handshake runs in libsrt; the thread sees OUT (connected) or ERR (rejected or timed
    // out after SRTO_CONNTIMEO) through epoll and can be stopped at any moment.
    if (srt_connect(sock_, reinterpret_cast<sockaddr*>(&sa), static_cast<int>(salen)) == SRT_ERROR)
      return SrtLastError(("srt_connect " + opt_.host + ":" + std::to_string(opt_.port)).c_str());
    // srt_connect bound the caller to a port of its own (its multiplexer): the one the kernel queues its packets on
    localPort_ = LocalPort(sock_, &family_);
  }
  return "";
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

// Reads libsrt's arrival count of every connection (either thread; libsrt's stats are under its own lock). True when
// a packet arrived since the last look, which is then dated now: the last arrival, to within the sampling step.
bool Receiver::SampleArrivals(int64_t now) {
  std::lock_guard<std::mutex> lock(arrMutex_);
  bool moved = false;
  for (auto& kv : arrivals_) {
    SRT_TRACEBSTATS st;
    // clear = 0 leaves the stats interval alone (StatsTick clears it); instantaneous = 1 reads the current state.
    // A socket libsrt already reports broken fails here: its closing is the receive thread's (CloseConn).
    if (srt_bistats(kv.first, &st, 0, 1) != 0) continue;
    if (st.pktRecvTotal > kv.second.total) {
      kv.second.total = st.pktRecvTotal;
      kv.second.lastNs = now;
      moved = true;
    }
  }
  if (moved) {
    lastArrivalNs_.store(now, std::memory_order_relaxed);
    watchNs_.store(now, std::memory_order_release);
  }
  return moved;
}

// The receive thread's look at the arrival counts: a first packet, or one after a silence, makes the signal up.
void Receiver::OnArrivals(int64_t now) {
  lastSampleNs_ = now;
  if (!SampleArrivals(now)) return;
  if (signal_.load(std::memory_order_acquire) == Signal::Up) return;
  std::lock_guard<std::mutex> lock(sigMutex_);
  if (signal_ != Signal::Up) SignalUp(now, "packets");
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

void Receiver::Watchdog() {
  // The watchdog wakes once per silence period and does little, so it runs SCHED_FIFO (priority 1) where allowed,
  // as do libsrt's threads for our sockets (Start): a failover then waits for the clock, not for the scheduler.
  // Without the right it runs as a normal thread; JS is told which.
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
  int64_t target = 0;  // the instant the last timed wait was for (0: woken by a notify, or not waited)
  auto sleepUntil = [&](int64_t t) {
    target = t;
    sigCv_.wait_until(lock, epoch + std::chrono::nanoseconds(t));
  };
  while (!stopping_) {
    if (!armed_) {
      target = 0;
      sigCv_.wait(lock);
      continue;
    }
    // Silence is counted in observed time: the spans in which the whole process could not run (a host stall, stall.h)
    // are not silence anyone saw, so they move the deadline on.
    int64_t from = watchNs_.load(std::memory_order_acquire);
    int64_t now = MonotonicNs();
    int64_t deadline = from + silenceNs + StalledNs(from, now);
    if (now < deadline) {
      // The receive thread moves the deadline on as it sees arrivals; the watchdog wakes once per silence period.
      sleepUntil(deadline);
      continue;
    }
    // The deadline passed with no arrival seen by the receive thread, which may simply not have run. Ask libsrt:
    // its receiving thread counts the packets it took off the socket whatever our threads did meanwhile.
    if (SampleArrivals(now)) {
      if (signal_ != Signal::Up) SignalUp(now, "packets");
      continue;
    }
    // Nothing counted. If this thread woke late it was starved, and so may libsrt's receiving thread have been, with
    // packets still unread in the kernel's socket buffer: judge only from a look taken on time. (Under SCHED_FIFO
    // both are on time and this never delays a report.)
    if (target != 0 && now - target > kLateNs) {
      sleepUntil(now + kRecheckNs);
      continue;
    }
    // Nothing counted, on time. Unless libsrt is itself behind: datagrams waiting in the kernel for our port arrived
    // and are not silence (kernelq.h). Judge once libsrt has taken them, or when it has stood still too long.
    int port = localPort_.load(std::memory_order_relaxed);
    if (port > 0 && now - deadline < kKernelHoldNs && KernelRxQueuedBytes(family_, port) > 0) {
      sleepUntil(now + kRecheckNs);
      continue;
    }
    if (signal_ == Signal::Up) SignalDown(from, now, "silence");
    armed_ = false;
    target = 0;
  }
}

void Receiver::Run() {
  if (realtime_) {
    // Same priority as libsrt's threads that feed it (Start): delivery is not starved behind ordinary work.
    sched_param sp{};
    sp.sched_priority = 1;
    pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
  }
  SRT_EPOLL_EVENT evs[kMaxEvents];
  const int64_t statsNs = static_cast<int64_t>(statsIntervalMs_) * 1000000;
  int64_t nextStats = MonotonicNs() + statsNs;
  bool callerDone = false;

  while (!stopping_) {
    int64_t now = MonotonicNs();
    // The wait ends at the stats tick or after kMaxWaitMs (to see stop()); silence is the watchdog's job.
    int64_t maxWait = static_cast<int64_t>(conns_.empty() ? kMaxWaitMs : kConnWaitMs) * 1000000;
    int64_t until = std::min(now + maxWait, nextStats);
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
    if (!conns_.empty() && now - lastSampleNs_ >= kSampleNs) OnArrivals(now);
    if (now >= nextStats) {
      StatsTick(now);
      nextStats += statsNs;
      if (nextStats <= now) nextStats = now + statsNs;
    }
  }
  CloseAll();
}

}  // namespace sigpath
