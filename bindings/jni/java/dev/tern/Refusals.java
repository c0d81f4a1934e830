package dev.tern;

import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * What a client does with a refused call (the error model of {@link Tern}):
 * counts the drops the native core never saw, throws in strict mode, and
 * otherwise logs at most once per status per minute and passes the refusal to
 * the error handler, both on a background thread.
 */
final class Refusals {
  /** A monotonic clock in nanoseconds; {@code System::nanoTime} outside tests. */
  interface Ticker {
    long nanoTime();
  }

  static final Ticker SYSTEM_TICKER = new Ticker() {
    @Override
    public long nanoTime() {
      return System.nanoTime();
    }
  };

  static final long LOG_INTERVAL_NANOS = TimeUnit.MINUTES.toNanos(1);
  private static final int BACKLOG = 1024;

  private final boolean strict;
  private final ErrorHandler handler;
  private final Logger logger;
  private final LogLevel logLevel;
  private final Ticker ticker;
  /** Drops counted here (not by the core), by DropReason ordinal. */
  private final AtomicLongArray drops = new AtomicLongArray(DropReason.values().length);
  /** Per Status ordinal: when the last line was logged, and the refusals since. */
  private final AtomicLongArray lastLogged = new AtomicLongArray(Status.values().length);
  private final AtomicLongArray loggedSince = new AtomicLongArray(Status.values().length);
  private final boolean[] everLogged = new boolean[Status.values().length];
  private final ThreadPoolExecutor executor;

  Refusals(boolean strict, ErrorHandler handler, Logger logger, LogLevel logLevel, Ticker ticker) {
    this.strict = strict;
    this.handler = handler;
    this.logger = logger;
    this.logLevel = logLevel != null ? logLevel : LogLevel.WARN;
    this.ticker = ticker != null ? ticker : SYSTEM_TICKER;
    // No thread while nothing is refused; one at most, gone after 5 s idle.
    executor = new ThreadPoolExecutor(0, 1, 5, TimeUnit.SECONDS,
        new ArrayBlockingQueue<Runnable>(BACKLOG), new ThreadFactory() {
          @Override
          public Thread newThread(Runnable r) {
            Thread t = new Thread(r, "tern-errors");
            t.setDaemon(true);
            return t;
          }
        }, new ThreadPoolExecutor.DiscardPolicy());
  }

  boolean strict() {
    return strict;
  }

  /**
   * A call was refused with {@code status}. Counts it under {@code countAs}
   * (null: the core counted it, or it is not an event), then throws in strict
   * mode; otherwise reports it (unless it is DISABLED: opt-out and denied
   * consent are not errors) and returns false.
   */
  boolean refuse(Status status, String message, DropReason countAs) {
    if (countAs != null) drops.incrementAndGet(countAs.ordinal());
    if (strict) throw new TernException(status, message);
    if (status != Status.DISABLED) report(status, message);
    return false;
  }

  private void report(final Status status, final String message) {
    final boolean log = shouldLog(status);
    final long suppressed = log ? loggedSince.getAndSet(status.ordinal(), 0) : 0;
    if (!log && handler == null) return;
    Runnable task = new Runnable() {
      @Override
      public void run() {
        if (log) {
          String line = "call refused: " + status.name() + ": " + message
              + (suppressed > 0 ? " (and " + suppressed + " more like it in the last minute)" : "");
          log(line);
        }
        if (handler != null) {
          try {
            handler.onError(new TernException(status, message));
          } catch (Throwable ignored) {
            // A handler must not throw; the refusal stays counted.
          }
        }
      }
    };
    executor.execute(task);  // past the backlog: discarded (the refusal stays counted)
  }

  // At most one line per status per LOG_INTERVAL_NANOS; the others are tallied.
  private boolean shouldLog(Status status) {
    int i = status.ordinal();
    long now = ticker.nanoTime();
    synchronized (everLogged) {
      if (!everLogged[i] || now - lastLogged.get(i) >= LOG_INTERVAL_NANOS) {
        everLogged[i] = true;
        lastLogged.set(i, now);
        return true;
      }
    }
    loggedSince.incrementAndGet(i);
    return false;
  }

  private void log(String line) {
    if (LogLevel.WARN.ordinal() < logLevel.ordinal()) return;
    if (logger != null) {
      try {
        logger.log(LogLevel.WARN, line);
      } catch (Throwable ignored) {
        // A lost log line is the safe outcome.
      }
    } else {
      System.err.println("tern: WARN " + line);
    }
  }

  /** Adds the drops counted here to a native stats array (see {@link Stats}). */
  long[] merge(long[] v) {
    long[] out = v.clone();
    for (DropReason r : DropReason.values()) {
      long n = drops.get(r.ordinal());
      out[6] += n;
      out[Stats.FIELDS + r.ordinal()] += n;
    }
    return out;
  }
}
