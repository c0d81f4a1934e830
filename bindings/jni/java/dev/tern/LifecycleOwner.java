package dev.tern;

/**
 * Where a client hears that the app came to the foreground or went to the
 * background: the seam between {@link Tern#attachLifecycle} and the platform.
 * On Android it is a lambda over {@code ProcessLifecycleOwner} (no Android
 * dependency here; see the binding's README):
 *
 * <pre>{@code
 * tern.attachLifecycle(observer ->
 *     ProcessLifecycleOwner.get().getLifecycle().addObserver(new DefaultLifecycleObserver() {
 *       public void onStart(androidx.lifecycle.LifecycleOwner owner) { observer.onStart(); }
 *       public void onStop(androidx.lifecycle.LifecycleOwner owner) { observer.onStop(); }
 *     }));
 * }</pre>
 *
 * A test drives a fake owner that calls the observer itself.
 */
public interface LifecycleOwner {
  /** Registers {@code observer}; the owner calls it on the thread it dispatches on. */
  void addObserver(Observer observer);

  /**
   * The process's visibility. Both calls return promptly: they only hand work
   * to the client's worker (no disk or network on the calling thread).
   */
  interface Observer {
    /** The app is visible (Android: ProcessLifecycleOwner's ON_START). */
    void onStart();

    /** The app is no longer visible (Android: ON_STOP, about 700 ms after the last activity). */
    void onStop();
  }
}
