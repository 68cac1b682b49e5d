// sigpath's own libsrt binding (Node-API through node-addon-api), built against Debian's libsrt-openssl-dev.
// Exports: Receiver, Sender, setLogHandler(fn, level), clearLogHandler(), monotonicMs(), rejectReasonText(code),
// kernelRxQueued(family, port), srtVersion.
#include <mutex>

#include "common.h"
#include "kernelq.h"
#include "receiver.h"
#include "sender.h"

namespace sigpath {

namespace {

struct LogLine {
  int level;
  std::string area;
  std::string message;
};

// libsrt has one process-wide log handler; its lines go to JS through one thread-safe function.
std::mutex gLogMutex;
Napi::ThreadSafeFunction gLogTsfn;
bool gLogActive = false;

void OnSrtLog(void* /*opaque*/, int level, const char* /*file*/, int /*line*/, const char* area, const char* message) {
  // Called on libsrt's own threads. Non-blocking: a slow JS thread loses log lines, never stalls the network thread.
  std::lock_guard<std::mutex> lock(gLogMutex);
  if (!gLogActive) return;
  auto* l = new LogLine{level, area != nullptr ? area : "", message != nullptr ? message : ""};
  napi_status st = gLogTsfn.NonBlockingCall(l, [](Napi::Env env, Napi::Function fn, LogLine* line) {
    if (env != nullptr && fn != nullptr) {
      fn.Call({Napi::Number::New(env, line->level), Napi::String::New(env, line->area),
               Napi::String::New(env, line->message)});
    }
    delete line;
  });
  if (st != napi_ok) delete l;
}

void StopLogging() {
  srt_setloghandler(nullptr, nullptr);
  std::lock_guard<std::mutex> lock(gLogMutex);
  if (gLogActive) {
    gLogActive = false;
    gLogTsfn.Release();
  }
}

// setLogHandler(fn(level, area, message), level): level is syslog's (3 error, 4 warning, 5 notice, 6 info, 7 debug).
Napi::Value SetLogHandler(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsFunction() || !info[1].IsNumber())
    throw Napi::TypeError::New(env, "setLogHandler(fn, level)");
  EnsureSrtStarted();
  StopLogging();
  {
    std::lock_guard<std::mutex> lock(gLogMutex);
    gLogTsfn = Napi::ThreadSafeFunction::New(env, info[0].As<Napi::Function>(), "sigpath-srt-log", 256, 1);
    gLogTsfn.Unref(env);  // logging alone never keeps the process alive
    gLogActive = true;
  }
  srt_setloglevel(info[1].As<Napi::Number>().Int32Value());
  srt_setlogflags(SRT_LOGF_DISABLE_TIME | SRT_LOGF_DISABLE_THREADNAME | SRT_LOGF_DISABLE_SEVERITY |
                  SRT_LOGF_DISABLE_EOL);
  srt_setloghandler(nullptr, &OnSrtLog);
  return env.Undefined();
}

Napi::Value ClearLogHandler(const Napi::CallbackInfo& info) {
  StopLogging();
  return info.Env().Undefined();
}

Napi::Value MonotonicMsJs(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), NsToMs(MonotonicNs()));
}

Napi::Value RejectReasonText(const Napi::CallbackInfo& info) {
  int code = info.Length() > 0 ? info[0].ToNumber().Int32Value() : 0;
  return Napi::String::New(info.Env(), srt_rejectreason_str(code));
}

}  // namespace

// kernelRxQueued(6 | 4, port): the bytes the kernel holds unread for a local UDP port, -1 if unknown (kernelq.h); for
// the tests
Napi::Value KernelRxQueuedJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber())
    throw Napi::TypeError::New(env, "kernelRxQueued(family 4 or 6, port)");
  int family = info[0].ToNumber().Int32Value() == 6 ? AF_INET6 : AF_INET;
  return Napi::Number::New(env, static_cast<double>(KernelRxQueuedBytes(family, info[1].ToNumber().Int32Value())));
}

Napi::Object InitAll(Napi::Env env, Napi::Object exports) {
  exports.Set("Receiver", Receiver::Init(env));
  exports.Set("Sender", Sender::Init(env));
  exports.Set("setLogHandler", Napi::Function::New(env, SetLogHandler));
  exports.Set("clearLogHandler", Napi::Function::New(env, ClearLogHandler));
  exports.Set("monotonicMs", Napi::Function::New(env, MonotonicMsJs));
  exports.Set("kernelRxQueued", Napi::Function::New(env, KernelRxQueuedJs));
  exports.Set("rejectReasonText", Napi::Function::New(env, RejectReasonText));
  uint32_t v = srt_getversion();
  exports.Set("srtVersion", std::to_string(v >> 16) + "." + std::to_string((v >> 8) & 0xFF) + "." + std::to_string(v & 0xFF));
  env.AddCleanupHook([] { StopLogging(); });
  return exports;
}

}  // namespace sigpath

static Napi::Object Init(Napi::Env env, Napi::Object exports) { return sigpath::InitAll(env, exports); }

NODE_API_MODULE(sigpath_srt, Init)
