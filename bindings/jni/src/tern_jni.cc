// libtern_jni: the JNI glue between dev.tern.* and the C API (tern/tern.h).
//
// It uses only the C API, so libtern.so stays the one ABI. Design points:
// - Natives are registered in JNI_OnLoad (RegisterNatives), so only
//   JNI_OnLoad/JNI_OnUnload are exported.
// - Strings cross as real UTF-8 (converted from/to UTF-16 here), not JNI's
//   "modified UTF-8", so emoji and U+0000 are handled correctly; a lone
//   surrogate or an embedded NUL in a name is INVALID_ARGUMENT.
// - Host callbacks (logger, transport, context provider) run on the client's
//   worker thread. That thread is attached to the JVM as a daemon on first
//   use and detached when it exits, by the destructor of a pthread key.
//   Each callback runs inside Push/PopLocalFrame: the worker never returns
//   to Java, so local references would otherwise pile up.
// - Java objects given to the SDK are held as global refs, released by the
//   C API's free_state when the last options/client holding them is gone.
//   A flushAsync callback is held as a global ref from the moment
//   tern_client_flush_async accepts it until the one call of its C callback,
//   which releases it (on the worker thread); a refused one is released at once.
// - Event and control natives (events, flush, shutdown, reset, the consent
//   and opt-out setters) return the tern_status instead of throwing: whether
//   a refusal throws is the Java layer's choice (its strict option). Other
//   failures throw dev.tern.TernException(status, message).
#include <jni.h>
#include <pthread.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "tern/tern.h"
#include "tern_jni_internal.h"

#if defined(__GNUC__)
#define TERN_JNI_EXPORT __attribute__((visibility("default")))
#else
#define TERN_JNI_EXPORT
#endif

namespace tern::jni {

jclass g_bridge = nullptr;  // dev.tern.NativeBridge (global ref)
jmethodID g_dispatch_flushed = nullptr;
thread_local std::string g_glue_error;

JavaVM* g_vm = nullptr;
pthread_key_t g_detach_key;
bool g_detach_key_made = false;
jclass g_exception = nullptr;  // dev.tern.TernException (global ref)
jmethodID g_exception_ctor = nullptr;
jmethodID g_dispatch_log = nullptr;
jmethodID g_dispatch_send = nullptr;
jmethodID g_dispatch_context = nullptr;
std::atomic<int> g_live_clients{0};

constexpr jint kJniVersion = JNI_VERSION_1_6;

// --- Threads ----------------------------------------------------------------

void detach_thread(void* vm) { static_cast<JavaVM*>(vm)->DetachCurrentThread(); }

// The JNIEnv of the calling thread, attaching it (as a daemon, detached at
// thread exit) when it is a native thread the JVM does not know yet.
JNIEnv* callback_env() {
  if (g_vm == nullptr) return nullptr;
  JNIEnv* env = nullptr;
  jint rc = g_vm->GetEnv(reinterpret_cast<void**>(&env), kJniVersion);
  if (rc == JNI_OK) return env;
  if (rc != JNI_EDETACHED) return nullptr;
  JavaVMAttachArgs args;
  args.version = kJniVersion;
  args.name = const_cast<char*>("tern-worker");
  args.group = nullptr;
#if defined(__ANDROID__)
  using EnvOut = JNIEnv**;
#else
  using EnvOut = void**;
#endif
  if (g_vm->AttachCurrentThreadAsDaemon(reinterpret_cast<EnvOut>(&env), &args) != JNI_OK) {
    return nullptr;
  }
  if (g_detach_key_made) pthread_setspecific(g_detach_key, g_vm);
  return env;
}

// --- Errors -----------------------------------------------------------------

void throw_tern(JNIEnv* env, tern_status status, const char* message) {
  if (env->ExceptionCheck()) return;  // keep the first (e.g. OutOfMemoryError)
  jstring text = from_utf8(env, message, std::strlen(message));
  if (text == nullptr) return;
  auto exc = static_cast<jthrowable>(
      env->NewObject(g_exception, g_exception_ctor, static_cast<jint>(status), text));
  if (exc != nullptr) env->Throw(exc);
}

// Throws for a non-OK status with the client's (or the thread's) last error.
bool check(JNIEnv* env, tern_status status, const tern_client* client) {
  if (status == TERN_OK) return true;
  throw_tern(env, status, tern_client_last_error(client));
  return false;
}

tern_options* as_options(jlong h) {
  return reinterpret_cast<tern_options*>(static_cast<intptr_t>(h));
}

// A Java string argument as UTF-8 (or absent when null). Throws
// INVALID_ARGUMENT naming `what` when it cannot be converted.
struct Utf8Arg {
  std::string text;
  bool present = false;
  bool ok = true;
  Utf8Arg(JNIEnv* env, jstring s, const char* what, bool allow_nul = false) {
    if (s == nullptr) return;
    const char* error = nullptr;
    if (!to_utf8(env, s, text, error, allow_nul)) {
      ok = false;
      if (!env->ExceptionCheck()) {
        std::string message = std::string(what) + " " + error;
        throw_tern(env, TERN_INVALID_ARGUMENT, message.c_str());
      }
      return;
    }
    present = true;
  }
  const char* c_str() const { return present ? text.c_str() : nullptr; }
};

// --- Host callbacks ---------------------------------------------------------

// The `state` of every vtable made here: one global ref to the Java object.
struct JavaHook {
  jobject object;
};

void hook_free(void* state) {
  auto* hook = static_cast<JavaHook*>(state);
  if (JNIEnv* env = callback_env()) env->DeleteGlobalRef(hook->object);
  delete hook;
}

void log_callback(void* state, tern_log_level level, const char* message, size_t length) {
  JNIEnv* env = callback_env();
  if (env == nullptr || env->PushLocalFrame(4) != JNI_OK) {
    if (env != nullptr) env->ExceptionClear();
    return;
  }
  jstring text = from_utf8(env, message, length);
  if (text != nullptr) {
    env->CallStaticVoidMethod(g_bridge, g_dispatch_log, static_cast<JavaHook*>(state)->object,
                              static_cast<jint>(level), text);
  }
  if (env->ExceptionCheck()) env->ExceptionClear();
  env->PopLocalFrame(nullptr);
}

void send_callback(void* state, const tern_http_request* request, tern_http_response* response) {
  JNIEnv* env = callback_env();
  if (env == nullptr) {
    tern_http_response_set_error(response, "cannot attach the worker thread to the JVM");
    return;
  }
  if (env->PushLocalFrame(10) != JNI_OK) {
    env->ExceptionClear();
    tern_http_response_set_error(response, "out of JVM local references");
    return;
  }
  // method and if_none_match were appended to tern_http_request: read them
  // only when the library's struct has them.
  const bool has_method =
      request->struct_size >= offsetof(tern_http_request, method) + sizeof request->method;
  const bool has_if_none_match =
      request->struct_size >=
      offsetof(tern_http_request, if_none_match) + sizeof request->if_none_match;
  const char* method_text = has_method && request->method != nullptr ? request->method : "POST";
  const char* if_none_match_text =
      has_if_none_match ? request->if_none_match : nullptr;  // NULL: none
  jstring url = from_utf8(env, request->url, std::strlen(request->url));
  jstring key = url ? from_utf8(env, request->write_key, std::strlen(request->write_key)) : nullptr;
  jstring type =
      key ? from_utf8(env, request->content_type, std::strlen(request->content_type)) : nullptr;
  jstring method = type ? from_utf8(env, method_text, std::strlen(method_text)) : nullptr;
  jstring if_none_match = nullptr;
  bool strings_ok = method != nullptr;
  if (strings_ok && if_none_match_text != nullptr) {
    if_none_match = from_utf8(env, if_none_match_text, std::strlen(if_none_match_text));
    strings_ok = if_none_match != nullptr;
  }
  jbyteArray body =
      strings_ok ? env->NewByteArray(static_cast<jsize>(request->body_length)) : nullptr;
  if (body != nullptr) {
    if (request->body_length > 0) {
      env->SetByteArrayRegion(body, 0, static_cast<jsize>(request->body_length),
                              static_cast<const jbyte*>(request->body));
    }
    env->CallStaticVoidMethod(g_bridge, g_dispatch_send, static_cast<JavaHook*>(state)->object,
                              static_cast<jlong>(reinterpret_cast<intptr_t>(response)), method, url,
                              key, body, static_cast<jboolean>(request->gzip != 0), type,
                              if_none_match);
  }
  if (env->ExceptionCheck()) {
    env->ExceptionClear();
    tern_http_response_set_status(response, 0);
    tern_http_response_set_error(response, "Java exception in the transport");
  } else if (body == nullptr) {
    tern_http_response_set_error(response, "out of JVM memory for the request");
  }
  env->PopLocalFrame(nullptr);
}

const char* context_callback(void* state) {
  // Valid until the library copies it, which it does before the next call on
  // this thread.
  thread_local std::string text;
  JNIEnv* env = callback_env();
  if (env == nullptr || env->PushLocalFrame(4) != JNI_OK) {
    if (env != nullptr) env->ExceptionClear();
    return nullptr;
  }
  auto json = static_cast<jstring>(env->CallStaticObjectMethod(
      g_bridge, g_dispatch_context, static_cast<JavaHook*>(state)->object));
  const char* result = nullptr;
  if (!env->ExceptionCheck() && json != nullptr) {
    const char* error = nullptr;
    if (to_utf8(env, json, text, error, /*allow_nul=*/false)) result = text.c_str();
  }
  if (env->ExceptionCheck()) env->ExceptionClear();
  env->PopLocalFrame(nullptr);
  return result;
}

JavaHook* new_hook(JNIEnv* env, jobject object) {
  jobject ref = env->NewGlobalRef(object);
  if (ref == nullptr) return nullptr;
  return new JavaHook{ref};
}

// --- Natives: options --------------------------------------------------------

jstring n_version(JNIEnv* env, jclass) { return env->NewStringUTF(tern_version()); }

jint n_live_clients(JNIEnv*, jclass) { return g_live_clients.load(); }

jlong n_options_new(JNIEnv* env, jclass) {
  tern_options* o = tern_options_new();
  if (o == nullptr) throw_tern(env, TERN_INTERNAL, "out of memory");
  return static_cast<jlong>(reinterpret_cast<intptr_t>(o));
}

void n_options_free(JNIEnv*, jclass, jlong h) { tern_options_free(as_options(h)); }

void n_options_set_string(JNIEnv* env, jclass, jlong h, jint key, jstring value) {
  Utf8Arg v(env, value, "option value");
  if (!v.ok) return;
  if (!v.present) {
    throw_tern(env, TERN_INVALID_ARGUMENT, "option value is null");
    return;
  }
  tern_options* o = as_options(h);
  const char* s = v.c_str();
  tern_status st;
  switch (key) {  // keys: NativeBridge.S_*
    case 0:
      st = tern_options_set_endpoint(o, s);
      break;
    case 1:
      st = tern_options_set_write_key(o, s);
      break;
    case 2:
      st = tern_options_set_storage_path(o, s);
      break;
    case 3:
      st = tern_options_set_library_name(o, s);
      break;
    case 4:
      st = tern_options_set_library_version(o, s);
      break;
    case 5:
      st = tern_options_set_http_ca_bundle(o, s);
      break;
    case 6:
      st = tern_options_set_http_user_agent(o, s);
      break;
    case 7:
      st = tern_options_set_settings_endpoint(o, s);
      break;
    default:
      throw_tern(env, TERN_INTERNAL, "unknown string option key");
      return;
  }
  check(env, st, nullptr);
}

void n_options_set_long(JNIEnv* env, jclass, jlong h, jint key, jlong value) {
  tern_options* o = as_options(h);
  const int64_t v = value;
  // Counts are unsigned in C: a negative Java value is invalid, not huge.
  const uint64_t count = v < 0 ? 0 : static_cast<uint64_t>(v);
  tern_status st;
  switch (key) {  // keys: NativeBridge.N_*
    case 0:
      st = tern_options_set_flush_at(o, count);
      break;
    case 1:
      st = tern_options_set_flush_interval_ms(o, v);
      break;
    case 2:
      st = tern_options_set_max_event_bytes(o, count);
      break;
    case 3:
      st = tern_options_set_max_batch_bytes(o, count);
      break;
    case 4:
      st = tern_options_set_max_batch_events(o, count);
      break;
    case 5:
      st = tern_options_set_max_queue_events(o, count);
      break;
    case 6:
      st = tern_options_set_max_queue_bytes(o, count);
      break;
    case 7:
      st = tern_options_set_max_event_age_s(o, v);
      break;
    case 8:
      st = tern_options_set_durability(o, static_cast<tern_durability>(v));
      break;
    case 9:
      st = tern_options_set_commit_window_ms(o, v);
      break;
    case 10:
      st = tern_options_set_commit_max_events(o, count);
      break;
    case 11:
      st = tern_options_set_max_pending_events(o, count);
      break;
    case 12:
      st = tern_options_set_backoff_base_ms(o, v);
      break;
    case 13:
      st = tern_options_set_backoff_max_ms(o, v);
      break;
    case 14:
      st = tern_options_set_max_batch_age_s(o, v);
      break;
    case 15:
      st = v > INT32_MAX ? TERN_INVALID_ARGUMENT
                         : tern_options_set_max_attempts(o, static_cast<int32_t>(v));
      if (v > INT32_MAX) {
        throw_tern(env, st, "max_attempts is too large");
        return;
      }
      break;
    case 16:
      st = tern_options_set_gzip(o, v != 0);
      break;
    case 17:
      st = tern_options_set_default_consent(o, static_cast<tern_consent>(v));
      break;
    case 18:
      st = tern_options_set_http_connect_timeout_ms(o, v);
      break;
    case 19:
      st = tern_options_set_http_request_timeout_ms(o, v);
      break;
    case 20:
      st = tern_options_set_http_verify_tls(o, v != 0);
      break;
    case 21:
      st = tern_options_set_track_sessions(o, v != 0);
      break;
    case 22:
      st = tern_options_set_session_timeout_ms(o, v);
      break;
    case 23:
      st = tern_options_set_session_events(o, v != 0);
      break;
    case 24:
      st = tern_options_set_fetch_settings(o, v != 0);
      break;
    default:
      throw_tern(env, TERN_INTERNAL, "unknown numeric option key");
      return;
  }
  check(env, st, nullptr);
}

void n_options_set_logger(JNIEnv* env, jclass, jlong h, jobject logger, jint min_level) {
  if (logger == nullptr) {
    throw_tern(env, TERN_INVALID_ARGUMENT, "logger is null");
    return;
  }
  JavaHook* hook = new_hook(env, logger);
  if (hook == nullptr) return;
  tern_logger v;
  std::memset(&v, 0, sizeof v);
  v.version = TERN_LOGGER_VERSION;
  v.state = hook;
  v.free_state = hook_free;
  v.log = log_callback;
  tern_status st =
      tern_options_set_logger(as_options(h), &v, static_cast<tern_log_level>(min_level));
  if (st != TERN_OK) hook_free(hook);  // not taken: still ours
  check(env, st, nullptr);
}

void n_options_set_transport(JNIEnv* env, jclass, jlong h, jobject transport) {
  if (transport == nullptr) {
    throw_tern(env, TERN_INVALID_ARGUMENT, "transport is null");
    return;
  }
  JavaHook* hook = new_hook(env, transport);
  if (hook == nullptr) return;
  tern_transport v;
  std::memset(&v, 0, sizeof v);
  v.version = TERN_TRANSPORT_VERSION;
  v.state = hook;
  v.free_state = hook_free;
  v.send = send_callback;
  tern_status st = tern_options_set_transport(as_options(h), &v);
  if (st != TERN_OK) hook_free(hook);
  check(env, st, nullptr);
}

void n_options_set_context_provider(JNIEnv* env, jclass, jlong h, jobject provider) {
  if (provider == nullptr) {
    throw_tern(env, TERN_INVALID_ARGUMENT, "context provider is null");
    return;
  }
  JavaHook* hook = new_hook(env, provider);
  if (hook == nullptr) return;
  tern_context_provider v;
  std::memset(&v, 0, sizeof v);
  v.version = TERN_CONTEXT_PROVIDER_VERSION;
  v.state = hook;
  v.free_state = hook_free;
  v.context_json = context_callback;
  tern_status st = tern_options_set_context_provider(as_options(h), &v);
  if (st != TERN_OK) hook_free(hook);
  check(env, st, nullptr);
}

// --- Natives: client ----------------------------------------------------------

jlong n_client_create(JNIEnv* env, jclass, jlong options) {
  tern_client* c = nullptr;
  if (!check(env, tern_client_create(as_options(options), &c), nullptr)) return 0;
  g_live_clients.fetch_add(1);
  return static_cast<jlong>(reinterpret_cast<intptr_t>(c));
}

void n_client_destroy(JNIEnv*, jclass, jlong h) {
  if (h == 0) return;
  tern_client_destroy(as_client(h));
  g_live_clients.fetch_sub(1);
}

// Event natives return the tern_status (0: accepted) instead of throwing: a
// refused event is an ordinary outcome the Java layer decides about.
jint n_event(JNIEnv* env, jclass, jobject /*owner*/, jlong h, jint type, jstring subject,
             jstring json, jstring user_id, jstring anonymous_id, jstring context_json,
             jstring integrations_json, jlong timestamp_ms) {
  std::string error;
  EventArg s(env, subject,
             type == 5 || type == 1 ? "user id"
             : type == 4            ? "group id"
                                    : "name",
             error);
  EventArg j(env, json, "properties/traits JSON", error);
  EventArg uid(env, user_id, "user id override", error);
  EventArg aid(env, anonymous_id, "anonymous id override", error);
  EventArg ctx(env, context_json, "context JSON", error);
  EventArg integ(env, integrations_json, "integrations JSON", error);
  if (env->ExceptionCheck()) return kGlueRefused | TERN_INTERNAL;  // e.g. OutOfMemoryError
  if (!error.empty()) {
    g_glue_error = error;
    return kGlueRefused | TERN_INVALID_ARGUMENT;
  }

  tern_event_options eo;
  std::memset(&eo, 0, sizeof eo);
  eo.struct_size = sizeof eo;
  eo.user_id = uid.c_str();
  eo.anonymous_id = aid.c_str();
  eo.context_json = ctx.c_str();
  eo.integrations_json = integ.c_str();
  eo.timestamp_ms = timestamp_ms;
  const bool any = uid.present || aid.present || ctx.present || integ.present || timestamp_ms != 0;
  const tern_event_options* opts = any ? &eo : nullptr;

  tern_client* c = as_client(h);
  tern_status st;
  switch (type) {  // NativeBridge.TRACK ... ALIAS
    case 0:
      st = tern_client_track(c, s.c_str(), j.c_str(), opts);
      break;
    case 1:
      st = tern_client_identify(c, s.c_str(), j.c_str(), opts);
      break;
    case 2:
      st = tern_client_screen(c, s.c_str(), j.c_str(), opts);
      break;
    case 3:
      st = tern_client_page(c, s.c_str(), j.c_str(), opts);
      break;
    case 4:
      st = tern_client_group(c, s.c_str(), j.c_str(), opts);
      break;
    case 5:
      st = tern_client_alias(c, s.c_str(), opts);
      break;
    default:
      g_glue_error = "unknown event type";
      return kGlueRefused | TERN_INTERNAL;
  }
  return static_cast<jint>(st);
}

jstring n_glue_error(JNIEnv* env, jclass) {
  return from_utf8(env, g_glue_error.data(), g_glue_error.size());
}

jstring n_last_error(JNIEnv* env, jclass, jobject, jlong h) {
  const char* text = tern_client_last_error(as_client(h));
  return from_utf8(env, text, std::strlen(text));
}

// Control natives also return the status; the Java layer reads lastError.
jint n_flush(JNIEnv*, jclass, jobject, jlong h, jlong timeout_ms) {
  return tern_client_flush(as_client(h), timeout_ms);
}

jint n_reset(JNIEnv*, jclass, jobject, jlong h) { return tern_client_reset(as_client(h)); }

jint n_shutdown(JNIEnv*, jclass, jobject, jlong h, jlong timeout_ms) {
  return tern_client_shutdown(as_client(h), timeout_ms);
}

jint n_set_consent(JNIEnv*, jclass, jobject, jlong h, jint consent) {
  return tern_client_set_consent(as_client(h), static_cast<tern_consent>(consent));
}

jint n_consent(JNIEnv* env, jclass, jobject, jlong h) {
  tern_consent out = TERN_CONSENT_UNKNOWN;
  check(env, tern_client_consent(as_client(h), &out), as_client(h));
  return static_cast<jint>(out);
}

jint n_set_opt_out(JNIEnv*, jclass, jobject, jlong h, jboolean opted_out) {
  return tern_client_set_opt_out(as_client(h), opted_out ? 1 : 0);
}

jboolean n_opted_out(JNIEnv* env, jclass, jobject, jlong h) {
  int out = 0;
  check(env, tern_client_opted_out(as_client(h), &out), as_client(h));
  return out != 0 ? JNI_TRUE : JNI_FALSE;
}

using IdGetter = tern_status (*)(const tern_client*, char*, size_t, size_t*);

jstring get_id(JNIEnv* env, jlong h, IdGetter getter) {
  tern_client* c = as_client(h);
  char small[128];
  size_t len = 0;
  if (!check(env, getter(c, small, sizeof small, &len), c)) return nullptr;
  if (len < sizeof small) return from_utf8(env, small, len);
  std::vector<char> big(len + 1);
  if (!check(env, getter(c, big.data(), big.size(), &len), c)) return nullptr;
  return from_utf8(env, big.data(), len < big.size() ? len : big.size() - 1);
}

jstring n_anonymous_id(JNIEnv* env, jclass, jobject, jlong h) {
  return get_id(env, h, tern_client_anonymous_id);
}

jstring n_user_id(JNIEnv* env, jclass, jobject, jlong h) {
  return get_id(env, h, tern_client_user_id);
}

jlongArray n_stats(JNIEnv* env, jclass, jobject, jlong h) {
  tern_stats s;
  std::memset(&s, 0, sizeof s);
  s.struct_size = sizeof s;
  if (!check(env, tern_client_stats(as_client(h), &s), as_client(h))) return nullptr;
  // Layout: dev.tern.Stats(long[]) — 12 fields, the drop reasons, then the
  // 10 lifecycle counters.
  constexpr int kLifecycle = 12 + TERN_DROP_REASON_SLOTS;
  constexpr int kLength = kLifecycle + 10;
  jlong v[kLength];
  const uint64_t fields[12] = {
      s.enqueued, s.stored,      s.sent,        s.retried, s.attempts,   s.batches_sent,
      s.dropped,  s.queue_depth, s.queue_bytes, s.pending, s.bytes_sent, s.corrupt_db_recoveries};
  for (int i = 0; i < 12; ++i) v[i] = static_cast<jlong>(fields[i]);
  for (int i = 0; i < TERN_DROP_REASON_SLOTS; ++i)
    v[12 + i] = static_cast<jlong>(s.dropped_by_reason[i]);
  const uint64_t lifecycle[10] = {s.lifecycle_events,
                                  s.sessions_started,
                                  s.settings_fetched,
                                  s.settings_not_modified,
                                  s.settings_failed,
                                  s.sampled_out,
                                  s.kill_switch_refused,
                                  s.background_flushes_sent,
                                  s.background_flushes_timed_out,
                                  s.background_flushes_cancelled};
  for (int i = 0; i < 10; ++i) v[kLifecycle + i] = static_cast<jlong>(lifecycle[i]);
  jlongArray out = env->NewLongArray(kLength);
  if (out != nullptr) env->SetLongArrayRegion(out, 0, kLength, v);
  return out;
}

void n_response_set(JNIEnv* env, jclass, jlong h, jint status, jstring retry_after, jbyteArray body,
                    jstring error, jstring etag) {
  auto* response = reinterpret_cast<tern_http_response*>(static_cast<intptr_t>(h));
  if (tern_http_response_set_status(response, status) != TERN_OK) {
    tern_http_response_set_error(response, "transport reported an invalid HTTP status");
    return;
  }
  if (retry_after != nullptr) {
    Utf8Arg v(env, retry_after, "Retry-After");
    if (!v.ok) {
      env->ExceptionClear();  // an unreadable header is ignored, as the C API does
    } else {
      tern_http_response_set_retry_after_header(response, v.c_str());
    }
  }
  if (body != nullptr) {
    const jsize n = env->GetArrayLength(body);
    std::vector<char> bytes(static_cast<std::size_t>(n));
    if (n > 0) env->GetByteArrayRegion(body, 0, n, reinterpret_cast<jbyte*>(bytes.data()));
    tern_http_response_set_body(response, bytes.data(), bytes.size());
  }
  if (error != nullptr) {
    Utf8Arg v(env, error, "error", /*allow_nul=*/false);
    if (!v.ok) {
      env->ExceptionClear();
      tern_http_response_set_error(response, "transport error (unprintable)");
    } else {
      tern_http_response_set_error(response, v.c_str());
    }
  }
  if (etag != nullptr) {
    Utf8Arg v(env, etag, "ETag");
    if (!v.ok) {
      env->ExceptionClear();  // an unreadable ETag is as good as none
    } else {
      tern_http_response_set_etag(response, v.c_str());
    }
  }
}

const JNINativeMethod kMethods[] = {
    NATIVE("version", "()Ljava/lang/String;", n_version),
    NATIVE("liveClients", "()I", n_live_clients),
    NATIVE("optionsNew", "()J", n_options_new),
    NATIVE("optionsFree", "(J)V", n_options_free),
    NATIVE("optionsSetString", "(JILjava/lang/String;)V", n_options_set_string),
    NATIVE("optionsSetLong", "(JIJ)V", n_options_set_long),
    NATIVE("optionsSetLogger", "(JLdev/tern/Logger;I)V", n_options_set_logger),
    NATIVE("optionsSetTransport", "(JLdev/tern/Transport;)V", n_options_set_transport),
    NATIVE("optionsSetContextProvider", "(JLdev/tern/ContextProvider;)V",
           n_options_set_context_provider),
    NATIVE("clientCreate", "(J)J", n_client_create),
    NATIVE("clientDestroy", "(J)V", n_client_destroy),
    NATIVE("event",
           "(Ljava/lang/Object;JILjava/lang/String;Ljava/lang/String;Ljava/lang/String;"
           "Ljava/lang/String;Ljava/lang/String;Ljava/lang/String;J)I",
           n_event),
    NATIVE("glueError", "()Ljava/lang/String;", n_glue_error),
    NATIVE("lastError", "(Ljava/lang/Object;J)Ljava/lang/String;", n_last_error),
    NATIVE("flush", "(Ljava/lang/Object;JJ)I", n_flush),
    NATIVE("reset", "(Ljava/lang/Object;J)I", n_reset),
    NATIVE("shutdown", "(Ljava/lang/Object;JJ)I", n_shutdown),
    NATIVE("setConsent", "(Ljava/lang/Object;JI)I", n_set_consent),
    NATIVE("consent", "(Ljava/lang/Object;J)I", n_consent),
    NATIVE("setOptOut", "(Ljava/lang/Object;JZ)I", n_set_opt_out),
    NATIVE("optedOut", "(Ljava/lang/Object;J)Z", n_opted_out),
    NATIVE("anonymousId", "(Ljava/lang/Object;J)Ljava/lang/String;", n_anonymous_id),
    NATIVE("userId", "(Ljava/lang/Object;J)Ljava/lang/String;", n_user_id),
    NATIVE("stats", "(Ljava/lang/Object;J)[J", n_stats),
    NATIVE("responseSet", "(JILjava/lang/String;[BLjava/lang/String;Ljava/lang/String;)V",
           n_response_set),
};

jclass global_class(JNIEnv* env, const char* name) {
  jclass local = env->FindClass(name);
  if (local == nullptr) return nullptr;
  auto global = static_cast<jclass>(env->NewGlobalRef(local));
  env->DeleteLocalRef(local);
  return global;
}

}  // namespace tern::jni

using namespace tern::jni;

extern "C" TERN_JNI_EXPORT jint JNI_OnLoad(JavaVM* vm, void*) {
  JNIEnv* env = nullptr;
  if (vm->GetEnv(reinterpret_cast<void**>(&env), kJniVersion) != JNI_OK) return JNI_ERR;
  g_vm = vm;
  if (!g_detach_key_made) g_detach_key_made = pthread_key_create(&g_detach_key, detach_thread) == 0;
  g_bridge = global_class(env, "dev/tern/NativeBridge");
  g_exception = global_class(env, "dev/tern/TernException");
  if (g_bridge == nullptr || g_exception == nullptr) return JNI_ERR;
  g_exception_ctor = env->GetMethodID(g_exception, "<init>", "(ILjava/lang/String;)V");
  g_dispatch_log =
      env->GetStaticMethodID(g_bridge, "dispatchLog", "(Ldev/tern/Logger;ILjava/lang/String;)V");
  g_dispatch_send = env->GetStaticMethodID(g_bridge, "dispatchSend",
                                           "(Ldev/tern/Transport;JLjava/lang/String;"
                                           "Ljava/lang/String;Ljava/lang/String;[BZ"
                                           "Ljava/lang/String;Ljava/lang/String;)V");
  g_dispatch_flushed =
      env->GetStaticMethodID(g_bridge, "dispatchFlushed", "(Ldev/tern/FlushCallback;I)V");
  g_dispatch_context = env->GetStaticMethodID(g_bridge, "dispatchContext",
                                              "(Ldev/tern/ContextProvider;)Ljava/lang/String;");
  if (g_exception_ctor == nullptr || g_dispatch_log == nullptr || g_dispatch_send == nullptr ||
      g_dispatch_context == nullptr || g_dispatch_flushed == nullptr) {
    return JNI_ERR;
  }
  if (env->RegisterNatives(g_bridge, kMethods,
                           static_cast<jint>(sizeof kMethods / sizeof kMethods[0])) != JNI_OK ||
      register_lifecycle_natives(env, g_bridge) != JNI_OK) {
    return JNI_ERR;
  }
  return kJniVersion;
}

extern "C" TERN_JNI_EXPORT void JNI_OnUnload(JavaVM* vm, void*) {
  JNIEnv* env = nullptr;
  if (vm->GetEnv(reinterpret_cast<void**>(&env), kJniVersion) == JNI_OK) {
    if (g_bridge != nullptr) env->DeleteGlobalRef(g_bridge);
    if (g_exception != nullptr) env->DeleteGlobalRef(g_exception);
  }
  g_bridge = nullptr;
  g_exception = nullptr;
  // The detach key stays: attached worker threads still run its destructor.
}
