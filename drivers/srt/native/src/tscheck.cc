#include "tscheck.h"

#include "stall.h"

namespace sigpath {

namespace {
constexpr int kTs = 188;
constexpr uint8_t kSync = 0x47;
constexpr int kNullPid = 0x1FFF;
// ETSI TR 101 290 §5.2.1 indicators 1.3 and 1.5: PAT and each PMT at least every 0.5 s.
constexpr int64_t kPsiMaxGapNs = 500000000;
}  // namespace

void TsCheck::Push(const uint8_t* d, int n, int64_t nowNs) {
  if (firstNs_ == 0) firstNs_ = nowNs;
  // TR 101 290 §5.2.1 1.1: a datagram that is not whole packets has lost the packet boundary.
  if (n % kTs != 0) iv_.syncErrors++;
  for (int o = 0; o + kTs <= n; o += kTs) Packet(d + o, nowNs);
}

void TsCheck::Packet(const uint8_t* p, int64_t nowNs) {
  iv_.packets++;
  // ISO/IEC 13818-1 §2.4.3.2 sync_byte; TR 101 290 §5.2.1 1.2 Sync_byte_error.
  if (p[0] != kSync) {
    iv_.syncErrors++;
    return;
  }
  const int pid = ((p[1] & 0x1F) << 8) | p[2];
  if (pid == kNullPid) return;  // §2.4.3.3: the null packets' continuity_counter is undefined
  const int afc = (p[3] >> 4) & 0x3;
  if (pid == 0) {
    // TR 101 290 1.3 PAT_error: PID 0 absent for more than 0.5 s (a gap within one interval; a standing absence is
    // counted at the stats tick, TakeInterval, and not again here when it ends).
    const int64_t since = patNs_ != 0 ? patNs_ : firstNs_;
    if (!patOverdue_ && nowNs - since > kPsiMaxGapNs) iv_.patErrors++;
    patNs_ = nowNs;
    patOverdue_ = false;
    // A section starts here (payload_unit_start_indicator): read the program list (§2.4.4.3).
    if ((p[1] & 0x40) && (afc & 1)) OnPat(p, afc == 3 ? 5 + p[4] : 4, nowNs);
  } else {
    for (int i = 0; i < nPmt_; i++)
      if (pmt_[i].pid == pid) {
        if (!pmt_[i].overdue && nowNs - pmt_[i].seenNs > kPsiMaxGapNs) iv_.pmtErrors++;
        pmt_[i].seenNs = nowNs;
        pmt_[i].overdue = false;
      }
  }
  // ISO/IEC 13818-1 §2.4.3.3 continuity_counter: it counts the packets of a PID that carry a payload, modulo 16;
  // adaptation_field_control '00' and '10' (no payload) leave it alone. One duplicate packet (the same counter
  // again) is allowed, not two. A discontinuity_indicator in the adaptation field (§2.4.3.5) allows any value.
  if (!(afc & 1)) return;
  const uint8_t cc = p[3] & 0x0F;
  const uint8_t st = cc_[pid];
  if ((afc & 2) && p[4] > 0 && (p[5] & 0x80)) {
    cc_[pid] = static_cast<uint8_t>(0x80 | cc);
    return;
  }
  if (st & 0x80) {
    const uint8_t last = st & 0x0F;
    if (cc == last) {
      if (st & 0x40)
        iv_.ccErrors++;  // a second duplicate
      else
        cc_[pid] = static_cast<uint8_t>(st | 0x40);
      return;
    }
    if (cc != ((last + 1) & 0x0F)) iv_.ccErrors++;  // TR 101 290 §5.2.1 1.4 Continuity_count_error
  }
  cc_[pid] = static_cast<uint8_t>(0x80 | cc);
}

// ISO/IEC 13818-1 §2.4.4.3 program_association_section, read when it fits in this packet (a PAT of up to 42
// programs does); the PIDs it names are the PMTs that TR 101 290 1.5 watches. A section on PID 0 that is not a PAT
// (table_id other than 0x00) is a PAT_error (1.3).
void TsCheck::OnPat(const uint8_t* p, int start, int64_t nowNs) {
  if (start >= kTs) return;
  const int s = start + 1 + p[start];  // after the pointer_field
  if (s + 8 > kTs) return;
  if (p[s] != 0x00) {
    iv_.patErrors++;
    return;
  }
  const int len = ((p[s + 1] & 0x0F) << 8) | p[s + 2];
  if (len < 9 || s + 3 + len > kTs) return;  // spans packets: the programs already known stay
  if (!(p[s + 5] & 0x01)) return;             // current_next_indicator 0: not yet applicable
  std::array<Pmt, kMaxPmt> next{};
  int n = 0;
  for (int i = s + 8; i + 4 <= s + 3 + len - 4 && n < kMaxPmt; i += 4) {
    const int program = (p[i] << 8) | p[i + 1];
    if (program == 0) continue;  // the network PID (NIT), not a PMT
    const uint16_t pid = static_cast<uint16_t>(((p[i + 2] & 0x1F) << 8) | p[i + 3]);
    Pmt m;
    m.pid = pid;
    m.seenNs = nowNs;  // newly listed: due 0.5 s from now
    for (int j = 0; j < nPmt_; j++)
      if (pmt_[j].pid == pid) m = pmt_[j];
    next[n++] = m;
  }
  pmt_ = next;
  nPmt_ = n;
}

TsCounts TsCheck::TakeInterval(int64_t nowNs) {
  // PAT and PMT overdue at the end of an interval that carried packets (a stream that stopped is silence, the
  // watchdog's business, not missing tables). Counted once per interval while the absence lasts.
  // The gap is observed time, as silence is (stall.h): the time the host stood still inside it is not a gap anyone
  // saw, and the tables may sit unread behind it.
  if (iv_.packets > 0 && firstNs_ != 0) {
    const int64_t pat = patNs_ != 0 ? patNs_ : firstNs_;
    if (nowNs - pat - StalledNs(pat, nowNs) > kPsiMaxGapNs) {
      iv_.patErrors++;
      patOverdue_ = true;
    }
    for (int i = 0; i < nPmt_; i++)
      if (nowNs - pmt_[i].seenNs - StalledNs(pmt_[i].seenNs, nowNs) > kPsiMaxGapNs) {
        iv_.pmtErrors++;
        pmt_[i].overdue = true;
      }
  }
  TsCounts r = iv_;
  iv_ = TsCounts{};
  return r;
}

}  // namespace sigpath
