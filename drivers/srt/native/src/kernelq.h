// What the kernel holds for a UDP port that nobody has read yet.
//
// The silence watchdog asks libsrt whether packets arrived (its receive worker counts them as it takes them off the
// UDP socket). But libsrt's workers can themselves stand still: closing connections and freeing their multiplexers
// happen under libsrt's global lock, and with many connections closing at once (12 of 16 callers cut), the workers of
// the other, healthy connections stopped taking packets for up to ~150 ms (measured: the kernel's receive queues of
// those ports grew to tens of kilobytes meanwhile, while tcpdump saw no gap on the wire). A silence judged then is
// false. Datagrams waiting in the kernel for the receiver's port prove the stream did not stop: the watchdog looks
// here before it reports silence, and waits for libsrt to catch up instead.
#pragma once

#include <cstdint>

namespace sigpath {

// Bytes queued for reading on the UDP sockets bound to local port `port` (family AF_INET or AF_INET6), from
// /proc/net/udp or /proc/net/udp6; -1 when that cannot be read (no procfs, a sandbox).
int64_t KernelRxQueuedBytes(int family, int port);

}  // namespace sigpath
