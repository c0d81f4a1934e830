// What the files of libtern_jni share (tern_jni.cc: threads, errors,
// options, client, events and JNI_OnLoad; tern_jni_strings.cc: UTF-8 <->
// UTF-16; tern_jni_lifecycle.cc: the lifecycle, session and flushAsync
// natives). Internal to the library: it is built with hidden visibility and
// its version script exports only JNI_OnLoad/JNI_OnUnload.
#pragma once

#include <jni.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "tern/tern.h"

namespace tern::jni {

// Set by JNI_OnLoad.
extern jclass g_bridge;  // dev.tern.NativeBridge (global ref)
extern jmethodID g_dispatch_flushed;

// The JNIEnv of the calling thread, attaching it (as a daemon, detached at
// thread exit) when it is a native thread the JVM does not know yet.
JNIEnv* callback_env();

// Java UTF-16 -> UTF-8. Returns false (with `error` set) for a lone surrogate
// or, when `allow_nul` is false, an embedded U+0000 (C strings cannot carry it).
bool to_utf8(JNIEnv* env, jstring s, std::string& out, const char*& error, bool allow_nul);

// UTF-8 -> Java string; malformed bytes become U+FFFD. Null on OOM (with a
// pending OutOfMemoryError).
jstring from_utf8(JNIEnv* env, const char* s, std::size_t len);

// Throws for a non-OK status with the client's (or the thread's) last error.
bool check(JNIEnv* env, tern_status status, const tern_client* client);

inline tern_client* as_client(jlong h) {
  return reinterpret_cast<tern_client*>(static_cast<intptr_t>(h));
}

// A text argument of an event call as UTF-8, without throwing: a string that
// cannot cross (a lone surrogate, a NUL) leaves `error` set for the caller.
struct EventArg {
  std::string text;
  bool present = false;
  EventArg(JNIEnv* env, jstring s, const char* what, std::string& error) {
    if (s == nullptr || !error.empty()) return;
    const char* why = nullptr;
    if (!to_utf8(env, s, text, why, /*allow_nul=*/false)) {
      error = std::string(what) + " " + why;
      return;
    }
    present = true;
  }
  const char* c_str() const { return present ? text.c_str() : nullptr; }
};

// The message of this thread's last event refused by the glue itself (see
// kGlueRefused); read by NativeBridge.glueError right after the call.
extern thread_local std::string g_glue_error;

// Added to a status an event native returns when the glue refused the event
// before the C API saw it (so the C API did not count it).
constexpr jint kGlueRefused = 0x100;

#define NATIVE(name, sig, fn) \
  { const_cast<char*>(name), const_cast<char*>(sig), reinterpret_cast<void*>(fn) }

// Registers tern_jni_lifecycle.cc's natives on `bridge` (JNI_OnLoad calls it
// after its own RegisterNatives). Returns RegisterNatives' result.
jint register_lifecycle_natives(JNIEnv* env, jclass bridge);

}  // namespace tern::jni
