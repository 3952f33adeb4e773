/**
 * One timer for many: the sessions of a process tick from one interval per period, so a
 * thousand idle torrents wake the process once a second rather than a thousand times (each
 * wake-up costs the runtime more than an idle session's tick does).
 *
 * @module
 */

/** The callbacks of one period, and its timer while it has any. */
interface Beat {
  callbacks: Set<() => void>;
  timer: ReturnType<typeof setInterval>;
}

const beats = new Map<number, Beat>();

/**
 * Calls `fn` every `ms` milliseconds, on the timer every caller of that period shares; the
 * function returned stops it (the timer goes when its last callback does).
 *
 * @example
 * ```ts
 * import { every } from "./ticker.ts";
 * let ticks = 0;
 * const stop = every(10, () => ticks++);
 * await new Promise((r) => setTimeout(r, 55));
 * stop();
 * console.log(ticks >= 3); // true
 * ```
 */
export function every(ms: number, fn: () => void): () => void {
  let beat = beats.get(ms);
  if (!beat) {
    const callbacks = new Set<() => void>();
    const timer = setInterval(() => {
      for (const callback of [...callbacks]) callback();
    }, ms);
    beats.set(ms, beat = { callbacks, timer });
  }
  // Each its own entry, so one function given twice ticks twice and stops once each.
  const entry = () => fn();
  beat.callbacks.add(entry);
  const owner = beat;
  return () => {
    if (!owner.callbacks.delete(entry) || owner.callbacks.size > 0) return;
    clearInterval(owner.timer);
    if (beats.get(ms) === owner) beats.delete(ms);
  };
}
