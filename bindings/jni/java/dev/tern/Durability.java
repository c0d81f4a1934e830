package dev.tern;

/** When an accepted event is committed to disk. */
public enum Durability {
  /** Within the commit window (default 20 ms) or commit batch: the fast default. */
  GROUP_COMMIT,
  /** Before the event call returns (slower: the caller's thread waits for the disk). */
  IMMEDIATE
}
