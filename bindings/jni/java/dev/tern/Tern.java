// One file on purpose (over 800 lines): Tern is the binding's whole public
// facade, and its Options and Options.Builder are nested classes whose names
// (Tern.Options.builder()) are the API apps are written against; moving them
// out would rename that API. The pieces that are not API live apart
// (NativeBridge, Refusals, Json).
package dev.tern;

import java.lang.ref.PhantomReference;
import java.lang.ref.ReferenceQueue;
import java.lang.ref.WeakReference;
import java.util.Collections;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * A Tern client: records Segment-spec events (track, identify, screen, page,
 * group, alias), stores them durably on the device and uploads them in
 * batches with retry and backoff from one background worker thread.
 *
 * <pre>{@code
 * Tern.Options options = Tern.Options.builder()
 *     .endpoint("https://relay.example.com")
 *     .writeKey("WRITE_KEY")
 *     .storagePath(new File(context.getFilesDir(), "tern.db").getPath())
 *     .build();
 * try (Tern tern = new Tern(options)) {
 *   Map<String, Object> props = new HashMap<>();
 *   props.put("total", 12.5);
 *   tern.track("Order Completed", props);
 * }
 * }</pre>
 *
 * <p>Threads: every method may be called from any thread. Event calls only
 * validate and hand the event to the worker; they never block on disk or
 * network (except with {@link Durability#IMMEDIATE}). {@link #flush} and
 * {@link #shutdown} block up to their timeout.
 *
 * <p>Errors: the event calls, {@link #reset}, {@link #setConsent} and
 * {@link #optOut} never throw; they return whether the call was accepted.
 * Opt-out and denied consent are not errors: the event is dropped and counted
 * under its reason. Any other refusal (a value that is not JSON, too large,
 * queue full, after close, a storage failure) is counted in {@link #stats()},
 * logged at most once per status per minute and passed to the
 * {@link Options.Builder#errorHandler error handler}. {@link #flush} and
 * {@link #shutdown} return their outcome as a {@link Status}. With
 * {@link Options.Builder#strict strict} on (for tests and debug builds) every
 * refusal throws a {@link TernException} instead. Construction fails loudly:
 * the constructor throws for a bad option or an unusable storage path.
 *
 * <p>App lifecycle: with {@link Options.Builder#appVersion} set and
 * {@link Options.Builder#trackLifecycle} on (the default), creating the client
 * records the launch ("Application Installed" or "Updated"), and
 * {@link #attachLifecycle} forwards the process's start/stop to
 * {@link #appForeground} ("Application Opened") and {@link #appBackground}
 * ("Application Backgrounded") plus a {@link #flushAsync}. Events carry
 * {@code context.sessionId}; the relay's settings are fetched at launch and
 * on foreground.
 *
 * <p>Lifetime: {@link #close()} shuts the client down (2 s deadline unless
 * {@link #shutdown} ran) and frees the native handle; what was not sent stays
 * on disk for the next client on the same storage path. A client that becomes
 * unreachable without being closed is closed by a background reaper after
 * garbage collection, but relying on that delays the release of the database.
 */
public final class Tern implements AutoCloseable {

  /** The native library's version, e.g. "0.1.0". */
  public static String version() {
    return NativeBridge.version();
  }

  // --- Native library loading ----------------------------------------------

  private static boolean loaded;

  /**
   * Loads libtern_jni (and libtern) from {@code java.library.path}; on Android
   * from the app's native library directory. Called automatically by the
   * first use, so hosts need it only to control when loading happens.
   */
  public static synchronized void loadLibrary() {
    if (loaded) return;
    // Set first: JNI_OnLoad initialises NativeBridge, whose static block
    // calls ensureLoaded() again on this thread.
    loaded = true;
    try {
      try {
        // On old Android versions the dependency must be loaded first;
        // elsewhere the loader finds it next to libtern_jni (RPATH $ORIGIN).
        System.loadLibrary("tern");
      } catch (UnsatisfiedLinkError ignored) {
        // Resolved through libtern_jni's own dependency lookup below.
      }
      System.loadLibrary("tern_jni");
    } catch (RuntimeException | Error e) {
      loaded = false;
      throw e;
    }
  }

  /**
   * Loads libtern_jni from an explicit file path (libtern.so must be in the
   * same directory or on the loader's search path). Call before any other use.
   */
  public static synchronized void loadLibrary(String path) {
    if (loaded) return;
    loaded = true;  // see loadLibrary()
    try {
      System.load(path);
    } catch (RuntimeException | Error e) {
      loaded = false;
      throw e;
    }
  }

  static synchronized void ensureLoaded() {
    if (!loaded) loadLibrary();
  }

  /**
   * The transport a client uses when its options name none: on Android (VM
   * "Dalvik", also ART's name) HttpURLConnection, since the Android build of
   * the native library has no libcurl; elsewhere null, the native default.
   */
  static Transport defaultTransport(String vmName) {
    return "Dalvik".equals(vmName) ? new HttpUrlConnectionTransport() : null;
  }

  // --- Options --------------------------------------------------------------

  /** Every knob of a client; immutable, made with {@link #builder()}. */
  public static final class Options {
    final String endpoint;
    final String writeKey;
    final String storagePath;
    final String libraryName;
    final String libraryVersion;
    final String httpCaBundle;
    final String httpUserAgent;
    final String settingsEndpoint;
    final boolean trackLifecycle;
    final String appVersion;
    final String appBuild;
    final long backgroundFlushMillis;
    final Map<Integer, Long> numbers;
    final Logger logger;
    final LogLevel logLevel;
    final Transport transport;
    final ContextProvider contextProvider;
    final ErrorHandler errorHandler;
    final boolean strict;
    final Refusals.Ticker ticker;

    private Options(Builder b) {
      endpoint = b.endpoint;
      writeKey = b.writeKey;
      storagePath = b.storagePath;
      libraryName = b.libraryName;
      libraryVersion = b.libraryVersion;
      httpCaBundle = b.httpCaBundle;
      httpUserAgent = b.httpUserAgent;
      settingsEndpoint = b.settingsEndpoint;
      trackLifecycle = b.trackLifecycle;
      appVersion = b.appVersion;
      appBuild = b.appBuild;
      backgroundFlushMillis = b.backgroundFlushMillis;
      numbers = Collections.unmodifiableMap(new java.util.TreeMap<Integer, Long>(b.numbers));
      logger = b.logger;
      logLevel = b.logLevel;
      transport = b.transport;
      contextProvider = b.contextProvider;
      errorHandler = b.errorHandler;
      strict = b.strict;
      ticker = b.ticker;
    }

    public static Builder builder() {
      return new Builder();
    }

    /**
     * Builds {@link Options}. Unset knobs keep the SDK's defaults (see the C
     * API's tern_options); values are validated by {@link Tern#Tern(Options)}.
     */
    public static final class Builder {
      private String endpoint;
      private String writeKey;
      private String storagePath;
      private String libraryName = "tern-java";
      private String libraryVersion;
      private String httpCaBundle;
      private String httpUserAgent;
      private String settingsEndpoint;
      private boolean trackLifecycle = true;
      private String appVersion;
      private String appBuild;
      private long backgroundFlushMillis = 10_000;
      private final Map<Integer, Long> numbers = new java.util.HashMap<Integer, Long>();
      private Logger logger;
      private LogLevel logLevel = LogLevel.WARN;
      private Transport transport;
      private ContextProvider contextProvider;
      private ErrorHandler errorHandler;
      private boolean strict;
      private Refusals.Ticker ticker;

      private Builder() {}

      private Builder number(int key, long value) {
        numbers.put(key, value);
        return this;
      }

      /** Segment-compatible base URL; events go to {@code <endpoint>/v1/batch}. */
      public Builder endpoint(String url) {
        endpoint = url;
        return this;
      }

      /** Required. Sent as the HTTP Basic user name. */
      public Builder writeKey(String key) {
        writeKey = key;
        return this;
      }

      /** Required. The SQLite database file; one process owns it at a time. */
      public Builder storagePath(String path) {
        storagePath = path;
        return this;
      }

      /** Upload when this many events are queued (default 20). */
      public Builder flushAt(long events) {
        return number(NativeBridge.N_FLUSH_AT, events);
      }

      /** ... or after this long (default 30 000 ms). */
      public Builder flushIntervalMillis(long ms) {
        return number(NativeBridge.N_FLUSH_INTERVAL_MS, ms);
      }

      public Builder maxEventBytes(long bytes) {
        return number(NativeBridge.N_MAX_EVENT_BYTES, bytes);
      }

      public Builder maxBatchBytes(long bytes) {
        return number(NativeBridge.N_MAX_BATCH_BYTES, bytes);
      }

      public Builder maxBatchEvents(long events) {
        return number(NativeBridge.N_MAX_BATCH_EVENTS, events);
      }

      /** Disk cap in events (default 10 000); past it the oldest are dropped. */
      public Builder maxQueueEvents(long events) {
        return number(NativeBridge.N_MAX_QUEUE_EVENTS, events);
      }

      /** Disk cap in bytes (default 10 MB). */
      public Builder maxQueueBytes(long bytes) {
        return number(NativeBridge.N_MAX_QUEUE_BYTES, bytes);
      }

      /** Disk cap in age (default 7 days). */
      public Builder maxEventAgeSeconds(long seconds) {
        return number(NativeBridge.N_MAX_EVENT_AGE_S, seconds);
      }

      public Builder durability(Durability durability) {
        return number(NativeBridge.N_DURABILITY, durability.ordinal());
      }

      public Builder commitWindowMillis(long ms) {
        return number(NativeBridge.N_COMMIT_WINDOW_MS, ms);
      }

      public Builder commitMaxEvents(long events) {
        return number(NativeBridge.N_COMMIT_MAX_EVENTS, events);
      }

      /** Bound of the caller-to-worker hand-off; past it events are refused (QUEUE_FULL). */
      public Builder maxPendingEvents(long events) {
        return number(NativeBridge.N_MAX_PENDING_EVENTS, events);
      }

      /** First retry delay (default 500 ms), doubling with full jitter. */
      public Builder backoffBaseMillis(long ms) {
        return number(NativeBridge.N_BACKOFF_BASE_MS, ms);
      }

      /** Longest retry delay (default 300 000 ms). */
      public Builder backoffMaxMillis(long ms) {
        return number(NativeBridge.N_BACKOFF_MAX_MS, ms);
      }

      /** A batch older than this is dropped (default 12 h). */
      public Builder maxBatchAgeSeconds(long seconds) {
        return number(NativeBridge.N_MAX_BATCH_AGE_S, seconds);
      }

      /** ... or after this many attempts (default 100). */
      public Builder maxAttempts(int attempts) {
        return number(NativeBridge.N_MAX_ATTEMPTS, attempts);
      }

      /** Gzip request bodies (default true). */
      public Builder gzip(boolean enabled) {
        return number(NativeBridge.N_GZIP, enabled ? 1 : 0);
      }

      /** Consent when none was persisted yet (default GRANTED). */
      public Builder defaultConsent(Consent consent) {
        return number(NativeBridge.N_DEFAULT_CONSENT, consent.ordinal());
      }

      /** context.library.name (default "tern-java"). */
      public Builder libraryName(String name) {
        libraryName = name;
        return this;
      }

      /** context.library.version (default the SDK's). */
      public Builder libraryVersion(String version) {
        libraryVersion = version;
        return this;
      }

      /** For the built-in libcurl transport (no effect with {@link #transport}). */
      public Builder httpConnectTimeoutMillis(long ms) {
        return number(NativeBridge.N_HTTP_CONNECT_TIMEOUT_MS, ms);
      }

      public Builder httpRequestTimeoutMillis(long ms) {
        return number(NativeBridge.N_HTTP_REQUEST_TIMEOUT_MS, ms);
      }

      public Builder httpVerifyTls(boolean verify) {
        return number(NativeBridge.N_HTTP_VERIFY_TLS, verify ? 1 : 0);
      }

      public Builder httpCaBundle(String path) {
        httpCaBundle = path;
        return this;
      }

      public Builder httpUserAgent(String userAgent) {
        httpUserAgent = userAgent;
        return this;
      }

      /**
       * Whether the client follows the app's lifecycle by itself (default
       * true): records the launch when created (with {@link #appVersion}) and
       * forwards the {@link LifecycleOwner} given to
       * {@link Tern#attachLifecycle}. Off: the app calls
       * {@link Tern#appLaunched}, {@link Tern#appForeground} and
       * {@link Tern#appBackground} itself, or not at all.
       */
      public Builder trackLifecycle(boolean enabled) {
        trackLifecycle = enabled;
        return this;
      }

      /**
       * The app's version and build (Android: versionName and versionCode),
       * compared with the stored ones at launch: "Application Installed" on
       * the first launch, "Application Updated" when the build changed.
       */
      public Builder appVersion(String version, String build) {
        appVersion = version;
        appBuild = build;
        return this;
      }

      /**
       * How long the upload started by going to the background may run
       * (default 10 000 ms); what is not sent by then stays queued.
       */
      public Builder backgroundFlushMillis(long ms) {
        backgroundFlushMillis = ms;
        return this;
      }

      /**
       * Sessions (default on): every event carries {@code context.sessionId}
       * (its start in ms since the epoch) and a session's first event
       * {@code context.sessionStart}.
       */
      public Builder trackSessions(boolean enabled) {
        return number(NativeBridge.N_TRACK_SESSIONS, enabled ? 1 : 0);
      }

      /** Time in the background or idle after which a new session starts (default 300 000 ms). */
      public Builder sessionTimeoutMillis(long ms) {
        return number(NativeBridge.N_SESSION_TIMEOUT_MS, ms);
      }

      /** Also record "Session Started" / "Session Ended" events (default off). */
      public Builder sessionEvents(boolean enabled) {
        return number(NativeBridge.N_SESSION_EVENTS, enabled ? 1 : 0);
      }

      /** Fetch the settings the relay serves at launch and on foreground (default on). */
      public Builder fetchSettings(boolean enabled) {
        return number(NativeBridge.N_FETCH_SETTINGS, enabled ? 1 : 0);
      }

      /** Base URL of the settings ({@code <url>/v1/projects/<writeKey>/settings}); default the endpoint. */
      public Builder settingsEndpoint(String url) {
        settingsEndpoint = url;
        return this;
      }

      /** Where log lines go (default: stderr, warnings and up), from {@code minLevel} up. */
      public Builder logger(Logger logger, LogLevel minLevel) {
        this.logger = logger;
        this.logLevel = minLevel != null ? minLevel : LogLevel.WARN;
        return this;
      }

      /**
       * Who performs HTTP requests. Default: on Android (whose native library
       * is built without libcurl) an {@link HttpUrlConnectionTransport}; elsewhere
       * the native libcurl transport.
       */
      public Builder transport(Transport transport) {
        this.transport = transport;
        return this;
      }

      /** Device/app/OS facts added to every event's context. */
      public Builder contextProvider(ContextProvider provider) {
        this.contextProvider = provider;
        return this;
      }

      /**
       * Hears about every refused call that is an error (not opt-out or denied
       * consent), on a background thread; see {@link ErrorHandler}.
       */
      public Builder errorHandler(ErrorHandler handler) {
        this.errorHandler = handler;
        return this;
      }

      /**
       * Strict mode (default off), for tests and debug builds: every refused
       * call, opt-out and denied consent included, throws a
       * {@link TernException} instead of returning false. Leave it off in
       * production, where a refused event must never crash the app.
       */
      public Builder strict(boolean strict) {
        this.strict = strict;
        return this;
      }

      /** The clock of the log throttle (tests). */
      Builder ticker(Refusals.Ticker ticker) {
        this.ticker = ticker;
        return this;
      }

      public Options build() {
        return new Options(this);
      }
    }
  }

  // --- Handle ownership -------------------------------------------------------

  /** Owns one native handle; destroys it on close() or after the Tern is collected. */
  private static final class HandleRef extends PhantomReference<Tern> {
    final AtomicLong handle;

    HandleRef(Tern owner, long handle) {
      super(owner, Reaper.QUEUE);
      this.handle = new AtomicLong(handle);
    }

    void destroy() {
      long h = handle.getAndSet(0);
      if (h != 0) NativeBridge.clientDestroy(h);
      Reaper.LIVE.remove(this);
    }
  }

  /** Destroys the handles of clients collected without close(). */
  private static final class Reaper implements Runnable {
    static final ReferenceQueue<Tern> QUEUE = new ReferenceQueue<Tern>();
    static final Set<HandleRef> LIVE = Collections.synchronizedSet(new HashSet<HandleRef>());
    private static Thread thread;

    static synchronized void start() {
      if (thread != null) return;
      thread = new Thread(new Reaper(), "tern-reaper");
      thread.setDaemon(true);
      thread.start();
    }

    @Override
    public void run() {
      while (true) {
        try {
          ((HandleRef) QUEUE.remove()).destroy();
        } catch (InterruptedException e) {
          return;
        } catch (Throwable ignored) {
          // Keep reaping: one failed destroy must not leak every later handle.
        }
      }
    }
  }

  private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
  private final HandleRef ref;
  private final Refusals refusals;
  private final boolean trackLifecycle;
  private final long backgroundFlushMillis;
  /** The native counters as of close(), so stats() still answers after it. */
  private volatile long[] finalStats;

  /**
   * Opens (or creates) the store at the options' storage path and starts the
   * client. Throws {@link TernException}: INVALID_ARGUMENT (missing write key or
   * storage path, bad values), LOCKED (another client owns the database),
   * STORAGE (cannot open it); the message says which setting to fix.
   */
  public Tern(Options options) {
    if (options == null) throw new TernException(Status.INVALID_ARGUMENT, "options is null");
    if (options.endpoint != null && !isHttpUrl(options.endpoint)) {
      throw new TernException(Status.INVALID_ARGUMENT, "endpoint \"" + options.endpoint
          + "\" is not an http:// or https:// URL with a host"
          + " (for example \"https://relay.example.com\")");
    }
    long o = NativeBridge.optionsNew();
    long h;
    try {
      setString(o, NativeBridge.S_ENDPOINT, options.endpoint);
      setString(o, NativeBridge.S_WRITE_KEY, options.writeKey);
      setString(o, NativeBridge.S_STORAGE_PATH, options.storagePath);
      setString(o, NativeBridge.S_LIBRARY_NAME, options.libraryName);
      setString(o, NativeBridge.S_LIBRARY_VERSION, options.libraryVersion);
      setString(o, NativeBridge.S_HTTP_CA_BUNDLE, options.httpCaBundle);
      setString(o, NativeBridge.S_HTTP_USER_AGENT, options.httpUserAgent);
      setString(o, NativeBridge.S_SETTINGS_ENDPOINT, options.settingsEndpoint);
      for (Map.Entry<Integer, Long> e : options.numbers.entrySet()) {
        NativeBridge.optionsSetLong(o, e.getKey(), e.getValue());
      }
      if (options.logger != null) {
        NativeBridge.optionsSetLogger(o, options.logger, options.logLevel.ordinal());
      }
      Transport transport =
          options.transport != null ? options.transport : defaultTransport(System.getProperty("java.vm.name"));
      if (transport != null) NativeBridge.optionsSetTransport(o, transport);
      if (options.contextProvider != null) {
        NativeBridge.optionsSetContextProvider(o, options.contextProvider);
      }
      h = NativeBridge.clientCreate(o);
    } finally {
      NativeBridge.optionsFree(o);
    }
    refusals = new Refusals(options.strict, options.errorHandler, options.logger,
        options.logger != null ? options.logLevel : LogLevel.WARN, options.ticker);
    ref = new HandleRef(this, h);
    Reaper.LIVE.add(ref);
    Reaper.start();
    trackLifecycle = options.trackLifecycle;
    backgroundFlushMillis = options.backgroundFlushMillis;
    if (trackLifecycle && options.appVersion != null) {
      appLaunched(options.appVersion, options.appBuild != null ? options.appBuild : "");
    }
  }

  // A wrong endpoint is a configuration error found here, not a stream of
  // failed uploads later.
  static boolean isHttpUrl(String url) {
    String lower = url.toLowerCase(java.util.Locale.ROOT);
    int start = lower.startsWith("http://") ? 7 : lower.startsWith("https://") ? 8 : -1;
    if (start < 0 || start >= url.length()) return false;
    char first = url.charAt(start);
    if (first == '/' || first == '?' || first == '#') return false;
    for (int i = 0; i < url.length(); i++) {
      if (Character.isWhitespace(url.charAt(i))) return false;
    }
    return true;
  }

  /** Same as {@code new Tern(options)}. */
  public static Tern create(Options options) {
    return new Tern(options);
  }

  private static void setString(long o, int key, String value) {
    if (value != null) NativeBridge.optionsSetString(o, key, value);
  }

  // Takes the read lock and returns the live handle, or throws SHUTDOWN when closed.
  private long acquire() {
    lock.readLock().lock();
    long h = ref.handle.get();
    if (h == 0) {
      lock.readLock().unlock();
      throw new TernException(Status.SHUTDOWN, "the client is closed");
    }
    return h;
  }

  // The same for calls that must not wait or throw: 0 when the client is
  // closed or being closed (then the read lock is not held).
  private long tryAcquire() {
    if (!lock.readLock().tryLock()) return 0;  // close() holds the write lock
    long h = ref.handle.get();
    if (h == 0) lock.readLock().unlock();
    return h;
  }

  private void release() {
    lock.readLock().unlock();
  }

  private static final String[] EVENT_NAMES = {
      "track", "identify", "screen", "page", "group", "alias"};

  private boolean event(int type, String subject, Map<String, ?> json, EventOptions options) {
    String what = EVENT_NAMES[type];
    String jsonText;
    String contextText = null;
    String integrationsText = null;
    try {
      jsonText = json == null ? null : Json.write(json);
      if (options != null) {
        if (options.context != null) contextText = Json.write(options.context);
        if (options.integrations != null) integrationsText = Json.write(options.integrations);
      }
    } catch (RuntimeException e) {
      // IllegalArgumentException from Json, or a map that fails while read
      // (a concurrent modification, a throwing toString).
      return refusals.refuse(Status.INVALID_ARGUMENT, what + ": " + e.getMessage(),
          DropReason.INVALID);
    }
    long h = tryAcquire();
    if (h == 0) {
      return refusals.refuse(Status.SHUTDOWN, what + ": the client is closed", DropReason.SHUTDOWN);
    }
    int code;
    String message = null;
    try {
      code = NativeBridge.event(this, h, type, subject, jsonText,
          options == null ? null : options.userId,
          options == null ? null : options.anonymousId, contextText, integrationsText,
          options == null ? 0 : options.timestampMillis);
      if (code != 0) {
        message = (code & NativeBridge.GLUE_REFUSED) != 0 ? NativeBridge.glueError()
                                                          : NativeBridge.lastError(this, h);
      }
    } catch (RuntimeException e) {
      code = NativeBridge.GLUE_REFUSED | Status.INTERNAL.code();
      message = String.valueOf(e.getMessage());
    } finally {
      release();
    }
    if (code == 0) return true;
    boolean countedByCore = (code & NativeBridge.GLUE_REFUSED) == 0;
    Status status = Status.fromCode(code & ~NativeBridge.GLUE_REFUSED);
    return refusals.refuse(status, what + ": " + message,
        countedByCore ? null : DropReason.INVALID);
  }

  // A control call (reset, setConsent, optOut): never throws unless strict.
  private boolean control(String what, int code, long h) {
    if (code == 0) return true;
    return refusals.refuse(Status.fromCode(code), what + ": " + NativeBridge.lastError(this, h), null);
  }

  // --- Event calls -----------------------------------------------------------
  //
  // Each returns true when the event was accepted (it will be stored and
  // sent) and false when it was dropped (and counted in stats()); none throws
  // unless the client is strict (see the class comment).

  /** Records a track event named {@code event} (required). */
  public boolean track(String event) {
    return track(event, null, null);
  }

  public boolean track(String event, Map<String, ?> properties) {
    return track(event, properties, null);
  }

  public boolean track(String event, Map<String, ?> properties, EventOptions options) {
    return event(NativeBridge.TRACK, event, properties, options);
  }

  /** Sets and persists the user id (required) and merges {@code traits} into the stored traits. */
  public boolean identify(String userId) {
    return identify(userId, null, null);
  }

  public boolean identify(String userId, Map<String, ?> traits) {
    return identify(userId, traits, null);
  }

  public boolean identify(String userId, Map<String, ?> traits, EventOptions options) {
    return event(NativeBridge.IDENTIFY, userId, traits, options);
  }

  /** Records a screen view ({@code name} required). */
  public boolean screen(String name) {
    return screen(name, null, null);
  }

  public boolean screen(String name, Map<String, ?> properties) {
    return screen(name, properties, null);
  }

  public boolean screen(String name, Map<String, ?> properties, EventOptions options) {
    return event(NativeBridge.SCREEN, name, properties, options);
  }

  /** Records a page view ({@code name} may be null). */
  public boolean page(String name) {
    return page(name, null, null);
  }

  public boolean page(String name, Map<String, ?> properties) {
    return page(name, properties, null);
  }

  public boolean page(String name, Map<String, ?> properties, EventOptions options) {
    return event(NativeBridge.PAGE, name, properties, options);
  }

  /** Associates the user with a group ({@code groupId} required). */
  public boolean group(String groupId) {
    return group(groupId, null, null);
  }

  public boolean group(String groupId, Map<String, ?> traits) {
    return group(groupId, traits, null);
  }

  public boolean group(String groupId, Map<String, ?> traits, EventOptions options) {
    return event(NativeBridge.GROUP, groupId, traits, options);
  }

  /** Links the current identity to {@code newUserId}, which becomes the user id. */
  public boolean alias(String newUserId) {
    return alias(newUserId, null);
  }

  public boolean alias(String newUserId, EventOptions options) {
    return event(NativeBridge.ALIAS, newUserId, null, options);
  }

  // --- Control ---------------------------------------------------------------

  /** {@link #flush(long)} with a 30 s deadline. */
  public Status flush() {
    return flush(30_000);
  }

  /**
   * Uploads everything queued now, waiting up to {@code timeoutMillis}, and
   * returns the outcome (never throws): OK (the queue is empty), TRANSPORT (an
   * upload failed, e.g. offline; the events stay queued and are retried),
   * TIMEOUT, DISABLED (no consent, or opted out), SHUTDOWN (closed or shut
   * down), INVALID_ARGUMENT (a negative timeout).
   */
  public Status flush(long timeoutMillis) {
    long h = tryAcquire();
    if (h == 0) return Status.SHUTDOWN;
    try {
      return Status.fromCode(NativeBridge.flush(this, h, timeoutMillis));
    } finally {
      release();
    }
  }

  // --- App lifecycle ----------------------------------------------------------
  //
  // Like the control calls: each returns true when accepted and false (never
  // throws unless strict) when refused; none blocks on disk or network.

  // The outcome of a lifecycle native (its status, possibly GLUE_REFUSED).
  private boolean lifecycle(String what, int code, long h) {
    if (code == 0) return true;
    String message = (code & NativeBridge.GLUE_REFUSED) != 0 ? NativeBridge.glueError()
                                                             : NativeBridge.lastError(this, h);
    return refusals.refuse(Status.fromCode(code & ~NativeBridge.GLUE_REFUSED),
        what + ": " + message, null);
  }

  /** {@link #appLaunched(String, String, String, String)} without url and referrer. */
  public boolean appLaunched(String version, String build) {
    return appLaunched(version, build, null, null);
  }

  /**
   * The process started: "Application Installed" on the first launch ever,
   * "Application Updated" when {@code build} differs from the stored one
   * (stored with the event, in one transaction), nothing otherwise. Once per
   * process (later calls are ignored). It does not mean the app is visible: a
   * process started in the background (a push, a job) calls only this and
   * starts no session. {@code url} and {@code referrer} (may be null) go into
   * the next "Application Opened". Called by the constructor when the options
   * have {@link Options.Builder#appVersion} and lifecycle tracking is on.
   */
  public boolean appLaunched(String version, String build, String url, String referrer) {
    long h = tryAcquire();
    if (h == 0) return refusals.refuse(Status.SHUTDOWN, "appLaunched: the client is closed", null);
    try {
      return lifecycle("appLaunched",
          NativeBridge.appLaunched(this, h, version, build, url, referrer), h);
    } finally {
      release();
    }
  }

  /**
   * The app came to the foreground: "Application Opened" (from_background
   * false the first time after launch), continuing or starting a session, and
   * a settings fetch when one is due. Idempotent while in the foreground.
   */
  public boolean appForeground() {
    long h = tryAcquire();
    if (h == 0) return refusals.refuse(Status.SHUTDOWN, "appForeground: the client is closed", null);
    try {
      return lifecycle("appForeground", NativeBridge.appForeground(this, h), h);
    } finally {
      release();
    }
  }

  /**
   * The app went to the background: "Application Backgrounded"; the
   * session's timeout runs from here. Idempotent while in the background. It
   * does not upload by itself: {@link #attachLifecycle} follows it with a
   * {@link #flushAsync}.
   */
  public boolean appBackground() {
    long h = tryAcquire();
    if (h == 0) return refusals.refuse(Status.SHUTDOWN, "appBackground: the client is closed", null);
    try {
      return lifecycle("appBackground", NativeBridge.appBackground(this, h), h);
    } finally {
      release();
    }
  }

  /**
   * The current session's id (its start, ms since the epoch, as in
   * {@code context.sessionId}), or 0 when there is none (sessions off, none
   * started yet, or it expired). Throws SHUTDOWN after close.
   */
  public long sessionId() {
    long h = acquire();
    try {
      return NativeBridge.sessionId(this, h);
    } finally {
      release();
    }
  }

  /**
   * Uploads what is queued now without blocking the caller: the worker sends
   * until everything queued at the call is sent or {@code deadlineMillis}
   * passes, then calls {@code callback} exactly once, on the worker thread.
   * Nothing on the calling thread touches disk or network, so the main thread
   * may call it. Returns true when started; false (never throws unless
   * strict; the callback is then never called) for a null callback, a
   * negative deadline, or a closed or shut down client.
   */
  public boolean flushAsync(long deadlineMillis, FlushCallback callback) {
    if (callback == null) {
      return refusals.refuse(Status.INVALID_ARGUMENT, "flushAsync: callback is null", null);
    }
    long h = tryAcquire();
    if (h == 0) return refusals.refuse(Status.SHUTDOWN, "flushAsync: the client is closed", null);
    try {
      return lifecycle("flushAsync", NativeBridge.flushAsync(this, h, deadlineMillis, callback), h);
    } finally {
      release();
    }
  }

  /**
   * Follows the app's visibility through {@code owner} (Android: a lambda
   * over ProcessLifecycleOwner, see {@link LifecycleOwner}): onStart calls
   * {@link #appForeground}; onStop calls {@link #appBackground} and a
   * {@link #flushAsync} of {@link Options.Builder#backgroundFlushMillis}
   * (never waiting for it on the calling thread). The observer holds the
   * client weakly and does nothing once it is closed. Does nothing when
   * {@link Options.Builder#trackLifecycle} is off.
   */
  public void attachLifecycle(LifecycleOwner owner) {
    if (owner == null) throw new TernException(Status.INVALID_ARGUMENT, "owner is null");
    if (!trackLifecycle) return;
    owner.addObserver(new LifecycleForwarder(this));
  }

  /** The observer attachLifecycle registers. */
  private static final class LifecycleForwarder implements LifecycleOwner.Observer {
    private static final FlushCallback IGNORE = new FlushCallback() {
      @Override
      public void onFlushed(FlushResult result) {
        // Counted in Stats.backgroundFlushes*; what is not sent stays queued.
      }
    };

    // Weak: an owner such as ProcessLifecycleOwner lives as long as the
    // process and must not keep a dropped client from being reaped.
    private final WeakReference<Tern> client;

    LifecycleForwarder(Tern client) {
      this.client = new WeakReference<Tern>(client);
    }

    // Neither ever throws into the platform's dispatch (a strict client's
    // refusal included: it is reported through the error handler instead).
    @Override
    public void onStart() {
      Tern t = client.get();
      if (t == null || t.isClosed()) return;
      try {
        t.appForeground();
      } catch (RuntimeException ignored) {
        // Refused and already counted/reported by Refusals.
      }
    }

    @Override
    public void onStop() {
      Tern t = client.get();
      if (t == null || t.isClosed()) return;
      try {
        t.appBackground();
      } catch (RuntimeException ignored) {
        // As in onStart; the flush below still runs.
      }
      try {
        t.flushAsync(t.backgroundFlushMillis, IGNORE);
      } catch (RuntimeException ignored) {
        // As in onStart.
      }
    }
  }

  private boolean isClosed() {
    return ref.handle.get() == 0;
  }

  /**
   * Forgets the user: clears user id and traits, makes a new anonymous id.
   * Returns false (never throws unless strict) when the client is closed.
   */
  public boolean reset() {
    long h = tryAcquire();
    if (h == 0) return refusals.refuse(Status.SHUTDOWN, "reset: the client is closed", null);
    try {
      return control("reset", NativeBridge.reset(this, h), h);
    } finally {
      release();
    }
  }

  /**
   * Stops accepting events, commits what is pending, tries one last upload
   * and stops the worker. Idempotent. Returns the outcome (never throws): OK,
   * TIMEOUT when the worker did not finish in time (what is not sent stays on
   * disk), SHUTDOWN after close(), INVALID_ARGUMENT (a negative timeout).
   * {@link #close()} is still needed to free the handle.
   */
  public Status shutdown(long timeoutMillis) {
    long h = tryAcquire();
    if (h == 0) return Status.SHUTDOWN;
    try {
      return Status.fromCode(NativeBridge.shutdown(this, h, timeoutMillis));
    } finally {
      release();
    }
  }

  /**
   * Sets and persists consent; DENIED purges the queue. Returns false (never
   * throws unless strict) for a null consent, after close, or when it could
   * not be persisted.
   */
  public boolean setConsent(Consent consent) {
    if (consent == null) {
      return refusals.refuse(Status.INVALID_ARGUMENT, "setConsent: consent is null", null);
    }
    long h = tryAcquire();
    if (h == 0) return refusals.refuse(Status.SHUTDOWN, "setConsent: the client is closed", null);
    try {
      return control("setConsent", NativeBridge.setConsent(this, h, consent.ordinal()), h);
    } finally {
      release();
    }
  }

  public Consent consent() {
    long h = acquire();
    try {
      return Consent.fromCode(NativeBridge.consent(this, h));
    } finally {
      release();
    }
  }

  /**
   * Sets and persists opt-out. While opted out, event calls return false
   * (and count the drop; not an error) and nothing is uploaded; queued events
   * stay on disk. Returns false (never throws unless strict) after close or
   * when it could not be persisted.
   */
  public boolean optOut(boolean optedOut) {
    long h = tryAcquire();
    if (h == 0) return refusals.refuse(Status.SHUTDOWN, "optOut: the client is closed", null);
    try {
      return control("optOut", NativeBridge.setOptOut(this, h, optedOut), h);
    } finally {
      release();
    }
  }

  public boolean isOptedOut() {
    long h = acquire();
    try {
      return NativeBridge.optedOut(this, h);
    } finally {
      release();
    }
  }

  public String anonymousId() {
    long h = acquire();
    try {
      return NativeBridge.anonymousId(this, h);
    } finally {
      release();
    }
  }

  /** The user id, or "" when none is set. */
  public String userId() {
    long h = acquire();
    try {
      return NativeBridge.userId(this, h);
    } finally {
      release();
    }
  }

  /**
   * What the client did: the native counters plus the refusals counted by
   * this binding (events refused after close, values it could not convert).
   * After {@link #close()}, the counters as of the close plus those refusals.
   */
  public Stats stats() {
    long h = tryAcquire();
    if (h == 0) {
      long[] last = finalStats;
      if (last == null) {
        // Closing right now: wait for close() to take its final snapshot.
        lock.readLock().lock();
        lock.readLock().unlock();
        last = finalStats;
      }
      if (last == null) last = new long[Stats.LENGTH];  // reaped
      return new Stats(refusals.merge(last));
    }
    try {
      return new Stats(refusals.merge(NativeBridge.stats(this, h)));
    } finally {
      release();
    }
  }

  /**
   * Shuts down (2 s deadline unless {@link #shutdown} ran) and frees the
   * native handle. Event calls made meanwhile on other threads return false
   * at once (counted as SHUTDOWN drops) instead of waiting. Idempotent; later
   * event calls return false, {@link #stats()} keeps answering, and the other
   * getters throw SHUTDOWN.
   */
  @Override
  public void close() {
    long h = tryAcquire();
    if (h != 0) {
      try {
        // Stop accepting first, without the write lock, so that callers on
        // other threads are refused at once rather than waiting on it.
        NativeBridge.shutdown(this, h, 2000);
      } finally {
        release();
      }
    }
    lock.writeLock().lock();
    try {
      h = ref.handle.get();
      if (h != 0) {
        try {
          finalStats = NativeBridge.stats(this, h);
        } catch (RuntimeException e) {
          finalStats = new long[Stats.LENGTH];
        }
      }
      ref.destroy();
    } finally {
      lock.writeLock().unlock();
    }
  }

  /** Clients created and not yet freed, process-wide (for leak checks). */
  static int liveNativeClients() {
    return NativeBridge.liveClients();
  }
}
