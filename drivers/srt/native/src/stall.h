// Host stalls: the spans in which this process's threads could not run at all.
//
// A receiver judges "no packet for silenceMs" by watching the clock. But the clock runs on while the machine does
// not: a virtual machine whose vCPUs the hypervisor deschedules (steal time), or a process starved of every core,
// stops for tens of milliseconds and then goes on as if that time had been watched. Measured on the 2-vCPU VM this
// project is tested on, a SCHED_FIFO 99 thread asking for a 1 ms sleep came back up to 54 ms late, with the
// hypervisor's steal counter rising: nothing inside the machine ran meanwhile, neither our threads, nor the kernel's
// network stack, nor any sender on the same host. A silence that spans such a stall was not observed: the packets
// that would have ended it may not exist yet only because the whole machine stopped (a sender on the same host), or
// sit unread in the socket buffer.
//
// So silence is judged on observed time: the watchdog adds the stalled time inside a silence to its deadline
// (Receiver::Watchdog). The stalls are measured by one heartbeat thread per process, at the receive threads'
// priority, sleeping to absolute 1 ms deadlines on CLOCK_MONOTONIC: a wake-up later than kStallNs past its deadline
// is a stall from the deadline to the wake-up. A real stop of the stream is still reported silenceMs of observed
// time after its last packet: later only by the time the machine was not running, when nothing could have acted.
#pragma once

#include <cstdint>

namespace sigpath {

// The heartbeat runs while at least one receiver holds it.
void StallClockAcquire();
void StallClockRelease();

// Stalled nanoseconds within [from, to] (CLOCK_MONOTONIC), counting a stall still in progress (the heartbeat
// overdue at `to`).
int64_t StalledNs(int64_t from, int64_t to);

// Whether the heartbeat got real-time priority (SCHED_FIFO 1), as the receive threads do where allowed.
bool StallClockRealtime();

}  // namespace sigpath
