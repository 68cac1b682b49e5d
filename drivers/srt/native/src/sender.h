// The SRT sender of the simulator: synthetic MPEG-TS paced in a native thread (clock_nanosleep to absolute
// deadlines), as a caller or as a listener that serves one caller at a time.
#pragma once

#include <atomic>
#include <mutex>
#include <thread>

#include "common.h"

namespace sigpath {

class Sender : public Napi::ObjectWrap<Sender> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit Sender(const Napi::CallbackInfo& info);
  ~Sender() override;

 private:
  Napi::Value Start(const Napi::CallbackInfo& info);
  Napi::Value Stop(const Napi::CallbackInfo& info);
  Napi::Value SetPaused(const Napi::CallbackInfo& info);
  Napi::Value SetBitrate(const Napi::CallbackInfo& info);
  Napi::Value SetCcErrors(const Napi::CallbackInfo& info);
  Napi::Value Counters(const Napi::CallbackInfo& info);

  void Run();
  void Post(Event* e);
  bool WaitConnected(SRTSOCKET s);
  SRTSOCKET WaitAccept();
  void SendLoop(SRTSOCKET s, const std::string& peer);
  void FillDatagram(uint8_t* buf, int packets);
  void BuildPsi();

  SrtOptions opt_;
  int pid_ = 0x100;
  // With psi: a PAT (PID 0) naming one program whose PMT is on pmtPid_, and that PMT, in every kPsiEvery-th datagram.
  bool psi_ = false;
  int pmtPid_ = 0x1000;
  uint8_t pat_[188] = {};
  uint8_t pmt_[188] = {};
  // Continuity counters (send thread only): the payload PID's, the PAT's and the PMT's; ISO/IEC 13818-1 §2.4.3.3.
  uint8_t esCc_ = 0, patCc_ = 0, pmtCc_ = 0;
  int64_t esPackets_ = 0, filled_ = 0;
  std::atomic<int> ccSkipEvery_{0};  // skip one continuity_counter value every this many payload packets (0: never)
  std::atomic<int64_t> bitrate_{5000000};
  std::atomic<bool> paused_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<bool> finished_{false};  // Run has returned: a join is immediate

  std::atomic<int64_t> tsPackets_{0};  // TS packets made (continuity counters count on it), sent or dropped
  // what was sent, counted together so that counters() never sees a datagram half counted
  std::mutex sentMutex_;
  int64_t datagrams_ = 0;
  int64_t tsSent_ = 0;
  std::atomic<int64_t> dropped_{0};
  std::atomic<int64_t> lastSentNs_{0};
  std::atomic<bool> connected_{false};

  Napi::FunctionReference onEvent_;
  Napi::ThreadSafeFunction tsfn_;
  std::thread thread_;
  bool started_ = false;
  bool joined_ = false;

  std::mutex sockMutex_;  // guards current_ against counters() reading stats while the thread closes it
  SRTSOCKET listener_ = SRT_INVALID_SOCK;
  SRTSOCKET current_ = SRT_INVALID_SOCK;
  int eid_ = -1;
};

}  // namespace sigpath
