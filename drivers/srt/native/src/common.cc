#include "common.h"

#include <arpa/inet.h>
#include <time.h>

#include <cstring>
#include <mutex>

namespace sigpath {

int64_t MonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

void EnsureSrtStarted() {
  static std::once_flag once;
  // srt_startup starts libsrt's garbage-collector thread, which lives for the whole process.
  std::call_once(once, [] { srt_startup(); });
}

static int IntKey(const Napi::Object& o, const char* key, int def, int min, int max) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return def;
  if (!v.IsNumber()) throw Napi::TypeError::New(o.Env(), std::string("option ") + key + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= min && d <= max) || d != static_cast<int>(d))
    throw Napi::RangeError::New(o.Env(), std::string("option ") + key + " must be an integer from " +
                                             std::to_string(min) + " to " + std::to_string(max));
  return static_cast<int>(d);
}

static bool StrKey(const Napi::Object& o, const char* key, std::string* out) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return false;
  if (!v.IsString()) throw Napi::TypeError::New(o.Env(), std::string("option ") + key + " must be a string");
  *out = v.As<Napi::String>().Utf8Value();
  return true;
}

SrtOptions ReadSrtOptions(const Napi::Object& o) {
  SrtOptions r;
  std::string mode = "listener";
  StrKey(o, "mode", &mode);
  if (mode != "listener" && mode != "caller")
    throw Napi::TypeError::New(o.Env(), "option mode must be \"listener\" or \"caller\"");
  r.listener = mode == "listener";
  if (!StrKey(o, "host", &r.host)) r.host = r.listener ? "0.0.0.0" : "";
  r.port = IntKey(o, "port", -1, 0, 65535);
  if (r.port < 0) throw Napi::TypeError::New(o.Env(), "option port is required");
  if (!r.listener && r.port == 0) throw Napi::RangeError::New(o.Env(), "a caller needs a port from 1 to 65535");
  r.latencyMs = IntKey(o, "latencyMs", 120, 0, 60000);
  r.hasStreamId = StrKey(o, "streamId", &r.streamId);
  if (r.streamId.size() > 512) throw Napi::RangeError::New(o.Env(), "option streamId is longer than 512 bytes");
  StrKey(o, "passphrase", &r.passphrase);
  if (!r.passphrase.empty() && (r.passphrase.size() < 10 || r.passphrase.size() > 79))
    throw Napi::RangeError::New(o.Env(), "an SRT passphrase is 10 to 79 characters");
  r.pbkeylen = IntKey(o, "pbkeylen", 16, 16, 32);
  if (r.pbkeylen != 16 && r.pbkeylen != 24 && r.pbkeylen != 32)
    throw Napi::RangeError::New(o.Env(), "option pbkeylen must be 16, 24 or 32");
  r.payloadSize = IntKey(o, "payloadSize", 1316, 188, 1456);
  r.connectTimeoutMs = IntKey(o, "connectTimeoutMs", 3000, 100, 60000);
  return r;
}

bool MakeSockaddr(const std::string& host, int port, sockaddr_storage* out, socklen_t* len) {
  std::memset(out, 0, sizeof(*out));
  auto* v4 = reinterpret_cast<sockaddr_in*>(out);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    *len = sizeof(sockaddr_in);
    return true;
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(out);
  std::string h = host;
  if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  if (inet_pton(AF_INET6, h.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    *len = sizeof(sockaddr_in6);
    return true;
  }
  return false;
}

int LocalPort(SRTSOCKET s, int* family) {
  sockaddr_storage bound;
  int len = sizeof bound;
  if (srt_getsockname(s, reinterpret_cast<sockaddr*>(&bound), &len) != 0) return 0;
  if (family != nullptr) *family = bound.ss_family;
  return ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                           : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
}

std::string FormatPeer(const sockaddr* sa) {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (sa == nullptr) return "";
  if (sa->sa_family == AF_INET) {
    auto* v4 = reinterpret_cast<const sockaddr_in*>(sa);
    inet_ntop(AF_INET, &v4->sin_addr, buf, sizeof(buf));
    return std::string(buf) + ":" + std::to_string(ntohs(v4->sin_port));
  }
  if (sa->sa_family == AF_INET6) {
    auto* v6 = reinterpret_cast<const sockaddr_in6*>(sa);
    inet_ntop(AF_INET6, &v6->sin6_addr, buf, sizeof(buf));
    return "[" + std::string(buf) + "]:" + std::to_string(ntohs(v6->sin6_port));
  }
  return "";
}

std::string SrtLastError(const char* what) {
  return std::string(what) + ": " + srt_getlasterror_str();
}

std::string ApplySrtOptions(SRTSOCKET s, const SrtOptions& o, bool setStreamId) {
  // Live mode (the default transtype) is what broadcast contribution uses: TSBPD, too-late packet drop,
  // one message per UDP payload.
  SRT_TRANSTYPE tt = SRTT_LIVE;
  bool no = false;
  if (srt_setsockflag(s, SRTO_TRANSTYPE, &tt, sizeof tt) != 0) return SrtLastError("SRTO_TRANSTYPE");
  if (srt_setsockflag(s, SRTO_RCVSYN, &no, sizeof no) != 0) return SrtLastError("SRTO_RCVSYN");
  if (srt_setsockflag(s, SRTO_SNDSYN, &no, sizeof no) != 0) return SrtLastError("SRTO_SNDSYN");
  if (srt_setsockflag(s, SRTO_LATENCY, &o.latencyMs, sizeof o.latencyMs) != 0) return SrtLastError("SRTO_LATENCY");
  if (srt_setsockflag(s, SRTO_PAYLOADSIZE, &o.payloadSize, sizeof o.payloadSize) != 0)
    return SrtLastError("SRTO_PAYLOADSIZE");
  if (srt_setsockflag(s, SRTO_CONNTIMEO, &o.connectTimeoutMs, sizeof o.connectTimeoutMs) != 0)
    return SrtLastError("SRTO_CONNTIMEO");
  if (!o.passphrase.empty()) {
    if (srt_setsockflag(s, SRTO_PBKEYLEN, &o.pbkeylen, sizeof o.pbkeylen) != 0) return SrtLastError("SRTO_PBKEYLEN");
    if (srt_setsockflag(s, SRTO_PASSPHRASE, o.passphrase.data(), static_cast<int>(o.passphrase.size())) != 0)
      return "SRTO_PASSPHRASE: rejected by libsrt";  // never echo the passphrase
  }
  if (setStreamId && o.hasStreamId) {
    if (srt_setsockflag(s, SRTO_STREAMID, o.streamId.data(), static_cast<int>(o.streamId.size())) != 0)
      return SrtLastError("SRTO_STREAMID");
  }
  return "";
}

bool ReadConnStats(SRTSOCKET s, ConnStats* c, bool clear) {
  SRT_TRACEBSTATS st;
  // clear = 1: the interval figures restart at each stats tick; the *Total fields keep counting.
  if (srt_bistats(s, &st, clear ? 1 : 0, 1) != 0) return false;
  c->rttMs = st.msRTT;
  c->mbpsRecvRate = st.mbpsRecvRate;
  c->mbpsSendRate = st.mbpsSendRate;
  c->pktRecv = st.pktRecv;
  c->pktRcvLoss = st.pktRcvLoss;
  c->pktRcvDrop = st.pktRcvDrop;
  c->pktRcvRetrans = st.pktRcvRetrans;
  c->byteRecv = static_cast<int64_t>(st.byteRecv);
  c->pktRecvTotal = st.pktRecvTotal;
  c->pktRcvLossTotal = st.pktRcvLossTotal;
  c->pktRcvDropTotal = st.pktRcvDropTotal;
  c->byteRecvTotal = static_cast<int64_t>(st.byteRecvTotal);
  c->pktSent = st.pktSent;
  c->pktSndLoss = st.pktSndLoss;
  c->pktRetrans = st.pktRetrans;
  c->pktSndDrop = st.pktSndDrop;
  c->pktSentTotal = st.pktSentTotal;
  c->pktSndLossTotal = st.pktSndLossTotal;
  c->pktRetransTotal = st.pktRetransTotal;
  c->pktSndDropTotal = st.pktSndDropTotal;
  c->msRcvBuf = st.msRcvBuf;
  c->msRcvTsbPdDelay = st.msRcvTsbPdDelay;
  return true;
}

Napi::Object StatsObject(Napi::Env env, const ConnStats& c) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("id", Napi::Number::New(env, static_cast<double>(c.id)));
  o.Set("peer", c.peer);
  o.Set("streamId", c.streamId);
  o.Set("rttMs", c.rttMs);
  o.Set("mbpsRecvRate", c.mbpsRecvRate);
  o.Set("mbpsSendRate", c.mbpsSendRate);
  auto n = [&](const char* k, int64_t v) { o.Set(k, Napi::Number::New(env, static_cast<double>(v))); };
  n("pktRecv", c.pktRecv);
  n("pktRcvLoss", c.pktRcvLoss);
  n("pktRcvDrop", c.pktRcvDrop);
  n("pktRcvRetrans", c.pktRcvRetrans);
  n("byteRecv", c.byteRecv);
  n("pktRecvTotal", c.pktRecvTotal);
  n("pktRcvLossTotal", c.pktRcvLossTotal);
  n("pktRcvDropTotal", c.pktRcvDropTotal);
  n("byteRecvTotal", c.byteRecvTotal);
  n("pktSent", c.pktSent);
  n("pktSndLoss", c.pktSndLoss);
  n("pktRetrans", c.pktRetrans);
  n("pktSndDrop", c.pktSndDrop);
  n("pktSentTotal", c.pktSentTotal);
  n("pktSndLossTotal", c.pktSndLossTotal);
  n("pktRetransTotal", c.pktRetransTotal);
  n("pktSndDropTotal", c.pktSndDropTotal);
  o.Set("msRcvBuf", c.msRcvBuf);
  o.Set("msRcvTsbPdDelay", c.msRcvTsbPdDelay);
  n("relayed", c.relayed);
  n("relayErrors", c.relayErrors);
  n("tsPackets", c.ts.packets);
  n("tsSyncErrors", c.ts.syncErrors);
  n("tsCcErrors", c.ts.ccErrors);
  n("tsPatErrors", c.ts.patErrors);
  n("tsPmtErrors", c.ts.pmtErrors);
  return o;
}

void DeliverEvent(Napi::Env env, Napi::Function callback, Event* event) {
  if (env != nullptr && callback != nullptr) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("type", event->type);
    for (auto& kv : event->nums) o.Set(kv.first, kv.second);
    for (auto& kv : event->strs) o.Set(kv.first, kv.second);
    if (event->hasStats) {
      Napi::Array arr = Napi::Array::New(env, event->stats.size());
      for (size_t i = 0; i < event->stats.size(); i++) arr.Set(static_cast<uint32_t>(i), StatsObject(env, event->stats[i]));
      o.Set("connections", arr);
    }
    // An exception thrown by the JS handler surfaces as an uncaught exception, as it would from any emitter.
    callback.Call({o});
  }
  delete event;
}

}  // namespace sigpath
