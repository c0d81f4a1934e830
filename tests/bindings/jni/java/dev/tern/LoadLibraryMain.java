package dev.tern;

/**
 * Run in its own JVM without java.library.path: loads libtern_jni from the
 * path given as the argument with Tern.loadLibrary(path), then makes a call
 * that needs the native library. Exits 0 on success.
 */
public final class LoadLibraryMain {
  private LoadLibraryMain() {}

  public static void main(String[] args) {
    Tern.loadLibrary(args[0]);
    String version = Tern.version();
    if (!"0.1.0".equals(version)) {
      System.err.println("unexpected version " + version);
      System.exit(1);
    }
    System.out.println("loaded " + args[0] + ", version " + version);
  }
}
