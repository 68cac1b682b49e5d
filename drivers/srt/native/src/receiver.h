// The SRT receiver: a listener (many connections) or a caller, received in one native thread
// (srt_epoll_uwait + srt_recvmsg2), relayed to UDP in native code, with silence detected in that thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "common.h"

namespace sigpath {

class Receiver : public Napi::ObjectWrap<Receiver> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit Receiver(const Napi::CallbackInfo& info);
  ~Receiver() override;

 private:
  struct Conn {
    SRTSOCKET sock = SRT_INVALID_SOCK;
    std::string peer;
    std::string streamId;
    int64_t connectedNs = 0;
    int64_t lastPacketNs = 0;  // the last packet read (delivered by TSBPD), not the last one that arrived
    int64_t relayed = 0;
    int64_t relayErrors = 0;
    int64_t packets = 0;  // our own count: libsrt's stats are gone once the peer closed the socket
    int64_t bytes = 0;
    TsCheck ts;  // TR 101 290 priority 1 over each stats interval (tscheck.h)
  };
  enum class Signal { None, Up, Down };

  Napi::Value Start(const Napi::CallbackInfo& info);
  Napi::Value Stop(const Napi::CallbackInfo& info);

  std::string SetupSocket(int* localPort);
  void Run();
  void StopThreads();
  void Post(Event* e);
  void AddConn(SRTSOCKET s, const Conn& c, int64_t now);
  void AcceptAll(int64_t now);
  void CallerEvent(int events, int64_t now);
  bool ReadConn(Conn& c);
  void CloseConn(SRTSOCKET s, const char* cause, int64_t now);
  void StatsTick(int64_t now);
  bool SampleArrivals(int64_t now);
  void OnArrivals(int64_t now);
  void SignalUp(int64_t at, const char* cause);
  void SignalDown(int64_t at, int64_t now, const char* cause);
  void CloseAll();
  static int OnListen(void* opaque, SRTSOCKET ns, int hsversion, const sockaddr* peer, const char* streamid);

  SrtOptions opt_;
  int silenceMs_ = 50;
  int statsIntervalMs_ = 1000;
  bool hasRelay_ = false;
  sockaddr_storage relayAddr_{};
  socklen_t relayLen_ = 0;
  int relayTtl_ = 1;

  Napi::FunctionReference onEvent_;
  Napi::ThreadSafeFunction tsfn_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  bool started_ = false;
  bool joined_ = false;

  // Guards the listen callback (a libsrt thread) against stop() releasing the thread-safe function.
  std::mutex cbMutex_;
  bool cbOpen_ = false;

  int eid_ = -1;
  SRTSOCKET sock_ = SRT_INVALID_SOCK;  // the listener, or the caller's socket
  bool callerConnected_ = false;
  int relayFd_ = -1;
  std::unordered_map<SRTSOCKET, Conn> conns_;
  std::vector<ConnStats> finalStats_;  // written by the thread as it ends, read by stop() after the join

  // Silence is timed on packet arrival as libsrt counts it, not on delivery. TSBPD hands a packet to srt_recvmsg2
  // one latency after it arrived, and only when libsrt's TSBPD thread and our receive thread get the CPU: a late
  // delivery is not a silence. libsrt's receiving thread counts every data packet as it takes it off the UDP socket
  // (SRT_TRACEBSTATS pktRecvTotal, read with srt_bistats(clear 0, instantaneous 1)); a silence is that count
  // standing still for silenceMs. The receive thread samples the counts as it runs (at most every kSampleMs); the
  // watchdog, a thread sleeping to the exact deadline (condition_variable on steady_clock, i.e. CLOCK_MONOTONIC:
  // libsrt's epoll timeout overshoots by milliseconds), samples them again itself before it reports anything.
  struct Arrivals {
    int64_t total = 0;   // pktRecvTotal last seen
    int64_t lastNs = 0;  // when a sample first saw it grow: the last arrival, to within one sampling step
  };
  void Watchdog();
  std::thread watchdog_;
  std::mutex sigMutex_;
  std::condition_variable sigCv_;
  std::atomic<Signal> signal_{Signal::None};
  bool armed_ = false;                  // silence detection running (under sigMutex_)
  std::atomic<int64_t> watchNs_{0};     // silence counts from here: the last arrival
  // the UDP port libsrt reads this receiver's packets from (the listener's, or the caller's own), its family
  std::atomic<int> localPort_{0};
  int family_ = AF_INET;
  std::mutex arrMutex_;                 // arrivals_ (both threads sample; the receive thread adds and removes)
  std::unordered_map<SRTSOCKET, Arrivals> arrivals_;
  std::atomic<int64_t> lastArrivalNs_{0};
  int64_t lastSampleNs_ = 0;            // receive thread only
  bool realtime_ = false;               // libsrt's threads for our sockets and ours run SCHED_FIFO (Start)
  bool stallHeld_ = false;              // this receiver holds the host-stall heartbeat (stall.h)
};

}  // namespace sigpath
