// libtern_jni's lifecycle natives: app launch, foreground and background,
// the session id, and flushAsync with its callback (see tern_jni.cc's top
// comment for the conventions they follow).
#include <jni.h>

#include <new>
#include <string>

#include "tern/tern.h"
#include "tern_jni_internal.h"

namespace tern::jni {
namespace {

// --- Natives: lifecycle ---------------------------------------------------------

// Lifecycle natives return the status like the event natives: a string that
// cannot cross is kGlueRefused | TERN_INVALID_ARGUMENT with g_glue_error set.
jint n_app_launched(JNIEnv* env, jclass, jobject, jlong h, jstring version, jstring build,
                    jstring url, jstring referrer) {
  std::string error;
  EventArg v(env, version, "version", error);
  EventArg b(env, build, "build", error);
  EventArg u(env, url, "url", error);
  EventArg r(env, referrer, "referrer", error);
  if (env->ExceptionCheck()) return kGlueRefused | TERN_INTERNAL;
  if (!error.empty()) {
    g_glue_error = error;
    return kGlueRefused | TERN_INVALID_ARGUMENT;
  }
  return tern_client_app_launched(as_client(h), v.c_str(), b.c_str(), u.c_str(), r.c_str());
}

jint n_app_foreground(JNIEnv*, jclass, jobject, jlong h) {
  return tern_client_app_foreground(as_client(h));
}

jint n_app_background(JNIEnv*, jclass, jobject, jlong h) {
  return tern_client_app_background(as_client(h));
}

jlong n_session_id(JNIEnv* env, jclass, jobject, jlong h) {
  int64_t id = 0;
  check(env, tern_client_session_id(as_client(h), &id), as_client(h));
  return static_cast<jlong>(id);
}

// The user_data of one flush_async: the Java FlushCallback, released by the
// one call of flushed_callback.
struct FlushHook {
  jobject callback;  // global ref
};

void flushed_callback(tern_flush_result result, void* user_data) {
  auto* hook = static_cast<FlushHook*>(user_data);
  JNIEnv* env = callback_env();
  if (env != nullptr) {
    if (env->PushLocalFrame(4) == JNI_OK) {
      env->CallStaticVoidMethod(g_bridge, g_dispatch_flushed, hook->callback,
                                static_cast<jint>(result));
      if (env->ExceptionCheck()) env->ExceptionClear();
      env->PopLocalFrame(nullptr);
    } else {
      env->ExceptionClear();
    }
    env->DeleteGlobalRef(hook->callback);
  }
  // Without a JNIEnv the thread cannot reach the JVM at all: the reference
  // is lost rather than released from a thread that may not touch it.
  delete hook;
}

jint n_flush_async(JNIEnv* env, jclass, jobject, jlong h, jlong deadline_ms, jobject callback) {
  if (callback == nullptr) return TERN_INVALID_ARGUMENT;  // NativeBridge's caller checks first
  jobject ref = env->NewGlobalRef(callback);
  auto* hook = ref != nullptr ? new (std::nothrow) FlushHook{ref} : nullptr;
  if (hook == nullptr) {
    if (ref != nullptr) env->DeleteGlobalRef(ref);
    g_glue_error = "out of memory for the callback";
    return kGlueRefused | TERN_INTERNAL;
  }
  tern_status st = tern_client_flush_async(as_client(h), deadline_ms, flushed_callback, hook);
  if (st != TERN_OK) {
    // Refused: the callback will never be called, so nothing else releases it.
    env->DeleteGlobalRef(ref);
    delete hook;
  }
  return static_cast<jint>(st);
}

const JNINativeMethod kLifecycleMethods[] = {
    NATIVE("appLaunched",
           "(Ljava/lang/Object;JLjava/lang/String;Ljava/lang/String;Ljava/lang/String;"
           "Ljava/lang/String;)I",
           n_app_launched),
    NATIVE("appForeground", "(Ljava/lang/Object;J)I", n_app_foreground),
    NATIVE("appBackground", "(Ljava/lang/Object;J)I", n_app_background),
    NATIVE("sessionId", "(Ljava/lang/Object;J)J", n_session_id),
    NATIVE("flushAsync", "(Ljava/lang/Object;JJLdev/tern/FlushCallback;)I", n_flush_async),
};

}  // namespace

jint register_lifecycle_natives(JNIEnv* env, jclass bridge) {
  return env->RegisterNatives(
      bridge, kLifecycleMethods,
      static_cast<jint>(sizeof kLifecycleMethods / sizeof kLifecycleMethods[0]));
}

}  // namespace tern::jni
