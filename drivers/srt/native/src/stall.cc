// The host-stall heartbeat (stall.h). Our own code: no library measures "time this process could not run" in a
// form a watchdog can subtract (steal time in /proc/stat is per CPU, in 10 ms ticks, and misses starvation).
#include "stall.h"

#include <pthread.h>
#include <sched.h>
#include <time.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <mutex>
#include <thread>

#include "common.h"

namespace sigpath {
namespace {

constexpr int64_t kBeatNs = 1000000;   // the heartbeat's period
constexpr int64_t kStallNs = 2000000;  // a wake-up this late past its deadline is a stall (scheduler noise is less)
constexpr size_t kKept = 512;          // stalls remembered: far more than one silence window can hold
// An overdue heartbeat counts as a stall in progress only this long: a heartbeat that has not beaten for a second
// while the watchdog runs is not a host stall but a heartbeat that is broken, and must never hold a down back.
constexpr int64_t kOpenMaxNs = 1000000000;

struct Span {
  int64_t from = 0;
  int64_t to = 0;
};

std::mutex mu;                // the fields below
int holders = 0;
bool stopping = false;
std::thread beat;
std::array<Span, kKept> spans;  // a ring of the last stalls, oldest overwritten
size_t next = 0;
size_t count = 0;
std::atomic<int64_t> lastBeatNs{0};
std::atomic<bool> realtime{false};

void Heartbeat() {
  sched_param sp{};
  sp.sched_priority = 1;
  realtime.store(pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp) == 0);
  int64_t deadline = MonotonicNs() + kBeatNs;
  lastBeatNs.store(MonotonicNs(), std::memory_order_release);
  for (;;) {
    timespec ts{static_cast<time_t>(deadline / 1000000000), static_cast<long>(deadline % 1000000000)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) != 0) {
    }
    int64_t now = MonotonicNs();
    {
      std::lock_guard<std::mutex> lock(mu);
      if (stopping) return;
      if (now - deadline > kStallNs) {
        spans[next] = Span{deadline, now};
        next = (next + 1) % kKept;
        count = std::min(count + 1, kKept);
      }
      // under the lock with the span: a reader never counts one stall both as recorded and as overdue
      lastBeatNs.store(now, std::memory_order_release);
    }
    deadline = now + kBeatNs;
  }
}

int64_t Overlap(int64_t a0, int64_t a1, int64_t b0, int64_t b1) {
  int64_t lo = std::max(a0, b0), hi = std::min(a1, b1);
  return hi > lo ? hi - lo : 0;
}

}  // namespace

void StallClockAcquire() {
  std::lock_guard<std::mutex> lock(mu);
  if (holders++ > 0) return;
  stopping = false;
  beat = std::thread(Heartbeat);
}

void StallClockRelease() {
  std::thread done;
  {
    std::lock_guard<std::mutex> lock(mu);
    if (holders == 0 || --holders > 0) return;
    stopping = true;
    done = std::move(beat);
  }
  // It sees `stopping` within one period.
  if (done.joinable()) done.join();
}

int64_t StalledNs(int64_t from, int64_t to) {
  if (to <= from) return 0;
  int64_t total = 0;
  std::lock_guard<std::mutex> lock(mu);
  if (holders == 0) return 0;
  for (size_t i = 0; i < count; i++) total += Overlap(spans[i].from, spans[i].to, from, to);
  // A stall not yet recorded: the heartbeat is overdue right now (the machine has just resumed, and this thread ran
  // first), from its missed deadline on.
  int64_t missed = lastBeatNs.load(std::memory_order_acquire) + kBeatNs;
  if (to - missed > kStallNs && to - missed < kOpenMaxNs) total += Overlap(missed, to, from, to);
  return total;
}

bool StallClockRealtime() { return realtime.load(); }

}  // namespace sigpath
