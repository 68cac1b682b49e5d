// Shared pieces of the sigpath libsrt binding: options read from JS, socket setup, the monotonic clock and the
// event record that native threads hand to JS through a thread-safe function.
#pragma once

#include <napi.h>
#include <srt/srt.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "tscheck.h"

namespace sigpath {

// CLOCK_MONOTONIC in nanoseconds: the clock of monotonicMs() in drivers/types.ts (libuv's hrtime reads the same
// clock on Linux), so a native packet timestamp compares directly with one taken in JS.
int64_t MonotonicNs();
inline double NsToMs(int64_t ns) { return static_cast<double>(ns) / 1e6; }

// The SRT socket options both ends share (docs/operations.md "SRT"; srt.h SRTO_*).
struct SrtOptions {
  bool listener = true;
  std::string host;  // numeric address: JS resolves names first
  int port = 0;
  int latencyMs = 120;
  std::string streamId;
  bool hasStreamId = false;
  std::string passphrase;  // never logged
  int pbkeylen = 16;
  int payloadSize = 1316;
  int connectTimeoutMs = 3000;
};

// Parses the common keys from the JS options object; throws a JS TypeError on a bad value.
SrtOptions ReadSrtOptions(const Napi::Object& o);

// A numeric host + port into a sockaddr; false if the host is not a numeric IPv4/IPv6 address.
bool MakeSockaddr(const std::string& host, int port, sockaddr_storage* out, socklen_t* len);
std::string FormatPeer(const sockaddr* sa);
// The local port an SRT socket is bound to (0 if it is not), and its address family when family is given.
int LocalPort(SRTSOCKET s, int* family = nullptr);

// Applies the pre-connect options to a fresh SRT socket; returns an error text or "" on success.
std::string ApplySrtOptions(SRTSOCKET s, const SrtOptions& o, bool setStreamId);

// libsrt's last error as text, for the Error thrown to JS.
std::string SrtLastError(const char* what);

// Per-connection statistics of one stats interval (srt_bistats with clear = 1), plus the running totals.
struct ConnStats {
  int64_t id = 0;
  std::string peer;
  std::string streamId;
  double rttMs = 0;
  double mbpsRecvRate = 0;
  double mbpsSendRate = 0;
  int64_t pktRecv = 0, pktRcvLoss = 0, pktRcvDrop = 0, pktRcvRetrans = 0, byteRecv = 0;
  int64_t pktRecvTotal = 0, pktRcvLossTotal = 0, pktRcvDropTotal = 0, byteRecvTotal = 0;
  int64_t pktSent = 0, pktSndLoss = 0, pktRetrans = 0, pktSndDrop = 0;
  int64_t pktSentTotal = 0, pktSndLossTotal = 0, pktRetransTotal = 0, pktSndDropTotal = 0;
  double msRcvBuf = 0, msRcvTsbPdDelay = 0;
  int64_t relayed = 0, relayErrors = 0;
  TsCounts ts;  // the receive path's transport stream check over the interval (tscheck.h)
};

bool ReadConnStats(SRTSOCKET s, ConnStats* out, bool clear = true);
Napi::Object StatsObject(Napi::Env env, const ConnStats& c);

// One event for JS: a type, numbers, strings and, for `stats`, the per-connection figures.
struct Event {
  std::string type;
  std::vector<std::pair<std::string, double>> nums;
  std::vector<std::pair<std::string, std::string>> strs;
  std::vector<ConnStats> stats;
  bool hasStats = false;
  Event& Num(const char* k, double v) {
    nums.emplace_back(k, v);
    return *this;
  }
  Event& Str(const char* k, std::string v) {
    strs.emplace_back(k, std::move(v));
    return *this;
  }
};

// Runs on the JS thread: turns an Event into a plain object and calls the user's callback with it.
void DeliverEvent(Napi::Env env, Napi::Function callback, Event* event);

// Makes sure srt_startup() ran once in this process.
void EnsureSrtStarted();

}  // namespace sigpath
