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
  Napi::Value Counters(const Napi::CallbackInfo& info);

  void Run();
  void Post(Event* e);
  bool WaitConnected(SRTSOCKET s);
  SRTSOCKET WaitAccept();
  void SendLoop(SRTSOCKET s, const std::string& peer);
  void FillDatagram(uint8_t* buf, int packets);

  SrtOptions opt_;
  int pid_ = 0x100;
  std::atomic<int64_t> bitrate_{5000000};
  std::atomic<bool> paused_{false};
  std::atomic<bool> stopping_{false};

  std::atomic<int64_t> datagrams_{0};
  std::atomic<int64_t> tsPackets_{0};
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
