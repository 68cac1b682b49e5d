// The transport stream checker of the receive path: ETSI TR 101 290 §5.2.1 (first priority) over each stats
// interval, on the datagrams as they are read (after the relay send). A few integer operations per 188-byte packet,
// no allocation after construction, state bounded by the PID space (one byte per PID) and kMaxPmt programs.
#pragma once

#include <array>
#include <cstdint>

namespace sigpath {

// One stats interval's figures (TR 101 290 §5.2.1 indicators 1.1/1.2, 1.3, 1.4 and 1.5).
struct TsCounts {
  int64_t packets = 0;     // 188-byte packets looked at
  int64_t syncErrors = 0;  // a packet without 0x47, or a datagram that is not whole 188-byte packets (1.1, 1.2)
  int64_t ccErrors = 0;    // continuity_counter errors (1.4)
  int64_t patErrors = 0;   // PID 0 absent for more than 0.5 s, or a section on it that is not a PAT (1.3)
  int64_t pmtErrors = 0;   // a program_map_PID of the PAT absent for more than 0.5 s (1.5)
};

class TsCheck {
 public:
  static constexpr int kMaxPmt = 16;  // programs followed; a PAT listing more is followed for its first 16

  // One datagram as read, at nowNs (CLOCK_MONOTONIC).
  void Push(const uint8_t* d, int n, int64_t nowNs);
  // The interval's figures, judged at nowNs (PAT and PMT overdue), and a new interval begun.
  TsCounts TakeInterval(int64_t nowNs);

 private:
  struct Pmt {
    uint16_t pid = 0;
    int64_t seenNs = 0;   // its last packet, or when the PAT first listed it
    bool overdue = false;  // already counted at a stats tick for this absence
  };
  void Packet(const uint8_t* p, int64_t nowNs);
  void OnPat(const uint8_t* p, int start, int64_t nowNs);

  // Per PID: bit 7 a counter seen, bit 6 its duplicate already taken, bits 0-3 the last continuity_counter.
  std::array<uint8_t, 8192> cc_{};
  TsCounts iv_;
  int64_t firstNs_ = 0;  // the connection's first packet: PAT and PMT are due 0.5 s after it
  int64_t patNs_ = 0;    // the last packet on PID 0
  bool patOverdue_ = false;
  std::array<Pmt, kMaxPmt> pmt_{};
  int nPmt_ = 0;
};

}  // namespace sigpath
