#include "sender.h"

#include "mux.h"

#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include <cstring>

namespace sigpath {

namespace {
constexpr int kTsPacket = 188;
constexpr int64_t kResyncNs = 100000000;  // more than 100 ms behind schedule: restart the schedule, no burst
}  // namespace

Napi::Function Sender::Init(Napi::Env env) {
  return DefineClass(env, "Sender",
                     {InstanceMethod("start", &Sender::Start), InstanceMethod("stop", &Sender::Stop),
                      InstanceMethod("setPaused", &Sender::SetPaused), InstanceMethod("setBitrate", &Sender::SetBitrate),
                      InstanceMethod("setCcErrors", &Sender::SetCcErrors),
                      InstanceMethod("counters", &Sender::Counters)});
}

// new Sender(options, onEvent): ReadSrtOptions keys plus bitrate (bits per second of TS) and pid.
Sender::Sender(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Sender>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsFunction())
    throw Napi::TypeError::New(env, "new Sender(options, onEvent)");
  Napi::Object o = info[0].As<Napi::Object>();
  opt_ = ReadSrtOptions(o);
  if (!opt_.listener && opt_.host.empty()) throw Napi::TypeError::New(env, "a caller needs host");
  if (opt_.payloadSize % kTsPacket != 0)
    throw Napi::RangeError::New(env, "the sender's payloadSize must be a multiple of 188 (whole TS packets)");
  Napi::Value b = o.Get("bitrate");
  if (!b.IsUndefined()) {
    double d = b.ToNumber().DoubleValue();
    if (!(d >= 10000 && d <= 1e9)) throw Napi::RangeError::New(env, "bitrate must be 10 kbit/s to 1 Gbit/s");
    bitrate_ = static_cast<int64_t>(d);
  }
  Napi::Value p = o.Get("pid");
  if (!p.IsUndefined()) {
    double d = p.ToNumber().DoubleValue();
    if (!(d >= 0x10 && d <= 0x1FFE)) throw Napi::RangeError::New(env, "pid must be 0x10 to 0x1FFE");
    pid_ = static_cast<int>(d);
  }
  psi_ = o.Get("psi").ToBoolean().Value();
  if (pid_ == pmtPid_) pmtPid_ = 0x1001;
  if (psi_) BuildPsi();
  onEvent_ = Napi::Persistent(info[1].As<Napi::Function>());
}

Sender::~Sender() {
  if (started_ && !joined_) {
    stopping_ = true;
    if (thread_.joinable()) thread_.join();
    joined_ = true;
    tsfn_.Abort();
  }
}

void Sender::Post(Event* e) {
  if (tsfn_.NonBlockingCall(e, DeliverEvent) != napi_ok) delete e;
}

Napi::Value Sender::Start(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (started_) throw Napi::Error::New(env, "Sender.start(): already started");
  EnsureSrtStarted();
  int localPort = 0;
  if (opt_.listener) {
    sockaddr_storage sa;
    socklen_t salen;
    if (!MakeSockaddr(opt_.host, opt_.port, &sa, &salen))
      throw Napi::TypeError::New(env, "bind must be a numeric IPv4 or IPv6 address");
    listener_ = srt_create_socket();
    std::string err = listener_ == SRT_INVALID_SOCK ? SrtLastError("srt_create_socket") : ApplySrtOptions(listener_, opt_, false);
    if (err.empty() && srt_bind(listener_, reinterpret_cast<sockaddr*>(&sa), static_cast<int>(salen)) != 0)
      err = SrtLastError(("srt_bind " + opt_.host + ":" + std::to_string(opt_.port)).c_str());
    if (err.empty() && srt_listen(listener_, 4) != 0) err = SrtLastError("srt_listen");
    if (!err.empty()) {
      if (listener_ != SRT_INVALID_SOCK) srt_close(listener_);
      listener_ = SRT_INVALID_SOCK;
      throw Napi::Error::New(env, err);
    }
    localPort = LocalPort(listener_);
  }
  eid_ = srt_epoll_create();
  srt_epoll_set(eid_, SRT_EPOLL_ENABLE_EMPTY);
  tsfn_ = Napi::ThreadSafeFunction::New(env, onEvent_.Value(), "sigpath-srt-sender", 0, 1);
  started_ = true;
  thread_ = std::thread(&Sender::Run, this);
  Napi::Object r = Napi::Object::New(env);
  r.Set("port", localPort);
  return r;
}

// stop(wait): asks the thread to stop. It joins only when the thread has already finished, or when wait is true:
// the send thread first wakes from its pacing sleep and closes its socket (a few ms), and a simulator holding many
// streams in a daemon's own process must not hold that process's event loop meanwhile. Returns whether it joined;
// if not, the "closed" event says when stop(true) will not wait.
Napi::Value Sender::Stop(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!started_ || joined_) return Napi::Boolean::New(env, true);
  stopping_ = true;
  bool wait = info.Length() > 0 && info[0].ToBoolean().Value();
  if (!wait && !finished_) return Napi::Boolean::New(env, false);
  if (thread_.joinable()) thread_.join();
  joined_ = true;
  tsfn_.Release();
  return Napi::Boolean::New(env, true);
}

Napi::Value Sender::SetPaused(const Napi::CallbackInfo& info) {
  paused_ = info.Length() > 0 && info[0].ToBoolean().Value();
  return info.Env().Undefined();
}

Napi::Value Sender::SetBitrate(const Napi::CallbackInfo& info) {
  double d = info.Length() > 0 ? info[0].ToNumber().DoubleValue() : 0;
  if (!(d >= 10000 && d <= 1e9)) throw Napi::RangeError::New(info.Env(), "bitrate must be 10 kbit/s to 1 Gbit/s");
  bitrate_ = static_cast<int64_t>(d);
  return info.Env().Undefined();
}

// setCcErrors(n): from now on one continuity_counter value of the payload PID is skipped every n packets (0: none),
// a continuity_count_error for the receiver (ETSI TR 101 290 §5.2.1 1.4) while the stream goes on.
Napi::Value Sender::SetCcErrors(const Napi::CallbackInfo& info) {
  double d = info.Length() > 0 ? info[0].ToNumber().DoubleValue() : 0;
  if (!(d >= 0 && d <= 1e9)) throw Napi::RangeError::New(info.Env(), "setCcErrors(n): n must be 0 or more");
  ccSkipEvery_ = static_cast<int>(d);
  return info.Env().Undefined();
}

namespace {
// CRC_32 of ISO/IEC 13818-1 Annex A (polynomial 0x04C11DB7, initial value all ones, no reflection, no final xor).
uint32_t Crc32Mpeg(const uint8_t* d, int n) {
  uint32_t crc = 0xFFFFFFFF;
  for (int i = 0; i < n; i++) {
    crc ^= static_cast<uint32_t>(d[i]) << 24;
    for (int b = 0; b < 8; b++) crc = (crc & 0x80000000) ? (crc << 1) ^ 0x04C11DB7 : crc << 1;
  }
  return crc;
}

// One PSI packet: header for pid (payload_unit_start_indicator set, payload only), pointer_field 0, the section
// (without its CRC), its CRC_32, stuffing 0xFF (§2.4.4.1).
void PsiPacket(uint8_t* t, int pid, const uint8_t* section, int len) {
  for (int i = 0; i < 188; i++) t[i] = 0xFF;
  t[0] = 0x47;
  t[1] = static_cast<uint8_t>(0x40 | ((pid >> 8) & 0x1F));
  t[2] = static_cast<uint8_t>(pid & 0xFF);
  t[3] = 0x10;
  t[4] = 0;
  for (int i = 0; i < len; i++) t[5 + i] = section[i];
  uint32_t crc = Crc32Mpeg(section, len);
  for (int i = 0; i < 4; i++) t[5 + len + i] = static_cast<uint8_t>(crc >> (24 - 8 * i));
}
}  // namespace

// The PAT (§2.4.4.3: one program, number 1, its PMT on pmtPid_) and the PMT (§2.4.4.8: PCR and one stream, type
// 0x06 private data, on pid_), built once; FillDatagram stamps their continuity counters.
void Sender::BuildPsi() {
  const uint8_t pat[] = {0x00, 0xB0, 0x0D, 0x00, 0x01, 0xC1, 0x00, 0x00, 0x00, 0x01,
                         static_cast<uint8_t>(0xE0 | (pmtPid_ >> 8)), static_cast<uint8_t>(pmtPid_ & 0xFF)};
  PsiPacket(pat_, 0, pat, sizeof pat);
  const uint8_t hi = static_cast<uint8_t>(0xE0 | (pid_ >> 8)), lo = static_cast<uint8_t>(pid_ & 0xFF);
  const uint8_t pmt[] = {0x02, 0xB0, 0x12, 0x00, 0x01, 0xC1, 0x00, 0x00, hi, lo, 0xF0, 0x00, 0x06, hi, lo, 0xF0, 0x00};
  PsiPacket(pmt_, pmtPid_, pmt, sizeof pmt);
}

// counters(): what was sent, and libsrt's own totals for the current connection (when there is one).
Napi::Value Sender::Counters(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  {
    std::lock_guard<std::mutex> sent(sentMutex_);
    o.Set("datagrams", Napi::Number::New(env, static_cast<double>(datagrams_)));
    o.Set("tsPackets", Napi::Number::New(env, static_cast<double>(tsSent_)));
  }
  o.Set("dropped", Napi::Number::New(env, static_cast<double>(dropped_.load())));
  int64_t last = lastSentNs_.load();
  o.Set("lastSentAt", last ? Napi::Value(Napi::Number::New(env, NsToMs(last))) : env.Null());
  o.Set("connected", connected_.load());
  std::lock_guard<std::mutex> lock(sockMutex_);
  ConnStats st;
  if (current_ != SRT_INVALID_SOCK && ReadConnStats(current_, &st, false)) o.Set("srt", StatsObject(env, st));
  return o;
}

// The synthetic transport stream (ISO/IEC 13818-1 §2.4.3.2): sync byte 0x47, no error/start/priority bits,
// the PID, adaptation_field_control '01' (payload only) and a continuity counter that counts every packet of the PID
// modulo 16. The payload carries the packet's index (64-bit big-endian) then bytes that derive from it, so a
// receiver can check order and content (test/drivers/srt uses the same generator from codec.ts). With psi, the
// first two packets of every kPsiEvery-th datagram are the PAT and the PMT instead (the payload PID's counter then
// counts only its own packets, as it must); setCcErrors makes that counter skip a value now and then.
void Sender::FillDatagram(uint8_t* buf, int packets) {
  constexpr int64_t kPsiEvery = 16;  // 34 ms at 5 Mbit/s: well within the 0.5 s of ETSI TR 101 290 1.3 and 1.5
  int p0 = 0;
  if (psi_ && packets >= 2 && filled_ % kPsiEvery == 0) {
    for (int i = 0; i < kTsPacket; i++) buf[i] = pat_[i], buf[kTsPacket + i] = pmt_[i];
    buf[3] = static_cast<uint8_t>(0x10 | patCc_);
    buf[kTsPacket + 3] = static_cast<uint8_t>(0x10 | pmtCc_);
    patCc_ = (patCc_ + 1) & 0x0F;
    pmtCc_ = (pmtCc_ + 1) & 0x0F;
    tsPackets_.fetch_add(2, std::memory_order_relaxed);
    p0 = 2;
  }
  filled_++;
  const int skipEvery = ccSkipEvery_.load(std::memory_order_relaxed);
  for (int p = p0; p < packets; p++) {
    uint64_t k = static_cast<uint64_t>(tsPackets_.load(std::memory_order_relaxed));
    uint8_t* t = buf + p * kTsPacket;
    if (skipEvery > 0 && ++esPackets_ % skipEvery == 0) esCc_ = (esCc_ + 1) & 0x0F;
    t[0] = 0x47;
    t[1] = static_cast<uint8_t>((pid_ >> 8) & 0x1F);
    t[2] = static_cast<uint8_t>(pid_ & 0xFF);
    t[3] = static_cast<uint8_t>(0x10 | esCc_);
    esCc_ = (esCc_ + 1) & 0x0F;
    for (int i = 0; i < 8; i++) t[4 + i] = static_cast<uint8_t>(k >> (56 - 8 * i));
    for (int j = 12; j < kTsPacket; j++) t[j] = static_cast<uint8_t>((k + static_cast<uint64_t>(j)) & 0xFF);
    tsPackets_.fetch_add(1, std::memory_order_relaxed);
  }
}

bool Sender::WaitConnected(SRTSOCKET s) {
  // The outcome of a non-blocking connect is read from epoll only: SRT_EPOLL_OUT once connected, SRT_EPOLL_ERR
  // once refused or timed out (srt.h, SRT_EPOLL_CONNECT). Polling srt_getsockstate() is not an answer: libsrt 1.5.1
  // clears the socket's "connecting" flag before it sets "connected" (CUDT::processConnectResponse), and
  // srt_getsockstate() reports SRTS_BROKEN in between, so a healthy connection could be taken for a failed one.
  // The socket was added to the epoll before srt_connect (Run), so neither event can be missed.
  SRT_EPOLL_EVENT evs[2];
  bool connected = false;
  while (!stopping_) {
    int n = srt_epoll_uwait(eid_, evs, 2, 10);
    if (n <= 0) continue;
    if (evs[0].events & SRT_EPOLL_ERR) {
      int reason = srt_getrejectreason(s);
      auto* e = new Event();
      e->type = "rejected";
      e->Str("peer", opt_.host + ":" + std::to_string(opt_.port)).Str("reasonText", srt_rejectreason_str(reason));
      e->Num("reasonCode", reason).Num("at", NsToMs(MonotonicNs()));
      Post(e);
      break;
    }
    if ((evs[0].events & SRT_EPOLL_OUT) && srt_getsockstate(s) == SRTS_CONNECTED) {
      connected = true;
      break;
    }
  }
  srt_epoll_remove_usock(eid_, s);
  return connected;
}

SRTSOCKET Sender::WaitAccept() {
  int ev = SRT_EPOLL_IN | SRT_EPOLL_ERR;
  srt_epoll_add_usock(eid_, listener_, &ev);
  SRT_EPOLL_EVENT evs[2];
  SRTSOCKET ns = SRT_INVALID_SOCK;
  while (!stopping_ && ns == SRT_INVALID_SOCK) {
    if (srt_epoll_uwait(eid_, evs, 2, 10) <= 0) continue;
    sockaddr_storage sa;
    int len = sizeof sa;
    ns = srt_accept(listener_, reinterpret_cast<sockaddr*>(&sa), &len);
  }
  srt_epoll_remove_usock(eid_, listener_);
  return ns;
}

void Sender::SendLoop(SRTSOCKET s, const std::string& peer) {
  const int packets = opt_.payloadSize / kTsPacket;
  const int bytes = packets * kTsPacket;
  uint8_t buf[1456];
  {
    std::lock_guard<std::mutex> lock(sockMutex_);
    current_ = s;
  }
  connected_ = true;
  auto* ce = new Event();
  ce->type = "connected";
  ce->Str("peer", peer).Num("at", NsToMs(MonotonicNs()));
  Post(ce);
  // Native pacing: at 50 Mbit/s a datagram leaves every 210 us, far below what a JS timer can hold; absolute
  // deadlines (TIMER_ABSTIME) keep the mean rate exact even when one wake-up is late.
  int64_t next = MonotonicNs();
  const char* cause = "stopped";
  while (!stopping_) {
    SRT_SOCKSTATUS st = srt_getsockstate(s);
    if (st != SRTS_CONNECTED) {
      cause = "peer";
      break;
    }
    if (paused_) {
      usleep(1000);
      next = MonotonicNs();
      continue;
    }
    timespec ts{static_cast<time_t>(next / 1000000000), static_cast<long>(next % 1000000000)};
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr);
    if (stopping_ || paused_) continue;
    FillDatagram(buf, packets);
    SRT_MSGCTRL mc = srt_msgctrl_default;
    int r = srt_sendmsg2(s, reinterpret_cast<const char*>(buf), bytes, &mc);
    if (r == SRT_ERROR) {
      if (srt_getlasterror(nullptr) == SRT_EASYNCSND) {
        dropped_++;  // send buffer full: live mode drops rather than queues
      } else {
        cause = "peer";
        break;
      }
    } else {
      std::lock_guard<std::mutex> sent(sentMutex_);
      datagrams_++;
      tsSent_ += packets;
      lastSentNs_ = MonotonicNs();
    }
    int64_t interval = static_cast<int64_t>(bytes) * 8 * 1000000000LL / bitrate_.load();
    next += interval;
    int64_t now = MonotonicNs();
    if (now - next > kResyncNs) next = now;
  }
  connected_ = false;
  {
    std::lock_guard<std::mutex> lock(sockMutex_);
    current_ = SRT_INVALID_SOCK;
  }
  int reason = srt_getrejectreason(s);
  srt_close(s);
  auto* de = new Event();
  de->type = "disconnected";
  de->Str("peer", peer).Str("cause", cause).Str("reasonText", srt_rejectreason_str(reason));
  de->Num("at", NsToMs(MonotonicNs()));
  Post(de);
}

void Sender::Run() {
  if (opt_.listener) {
    while (!stopping_) {
      SRTSOCKET s = WaitAccept();
      if (s == SRT_INVALID_SOCK) break;
      sockaddr_storage sa;
      int len = sizeof sa;
      std::string peer;
      if (srt_getpeername(s, reinterpret_cast<sockaddr*>(&sa), &len) == 0) peer = FormatPeer(reinterpret_cast<sockaddr*>(&sa));
      SendLoop(s, peer);
    }
    srt_close(listener_);
    listener_ = SRT_INVALID_SOCK;
  } else {
    sockaddr_storage sa;
    socklen_t salen;
    SRTSOCKET s = srt_create_socket();
    std::string err;
    if (s == SRT_INVALID_SOCK) err = SrtLastError("srt_create_socket");
    if (err.empty()) err = ApplySrtOptions(s, opt_, true);
    if (err.empty() && !MakeSockaddr(opt_.host, opt_.port, &sa, &salen)) err = "host must be a numeric address";
    SharedMux mux(sa.ss_family);
    if (err.empty()) err = mux.Bind(s);
    int ev = SRT_EPOLL_OUT | SRT_EPOLL_ERR;
    if (err.empty() && srt_epoll_add_usock(eid_, s, &ev) != 0) err = SrtLastError("srt_epoll_add_usock");
    if (err.empty() && srt_connect(s, reinterpret_cast<sockaddr*>(&sa), static_cast<int>(salen)) == SRT_ERROR)
      err = SrtLastError("srt_connect");
    if (!err.empty()) {
      auto* e = new Event();
      e->type = "error";
      e->Str("message", err);
      Post(e);
      if (s != SRT_INVALID_SOCK) {
        srt_epoll_remove_usock(eid_, s);
        srt_close(s);
      }
    } else if (WaitConnected(s)) {
      SendLoop(s, opt_.host + ":" + std::to_string(opt_.port));
    } else {
      srt_close(s);
    }
  }
  srt_epoll_release(eid_);
  eid_ = -1;
  finished_ = true;
  auto* e = new Event();
  e->type = "closed";
  e->Num("at", NsToMs(MonotonicNs()));
  Post(e);
}

}  // namespace sigpath
