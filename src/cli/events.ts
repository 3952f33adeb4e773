/**
 * `--json`: newline-delimited JSON events on stdout, one object a line, for programs that drive
 * the client. Every event has `event` (its kind) and `elapsed` (seconds since the command
 * started, to a tenth); the README lists the kinds and their fields.
 *
 * @module
 */

/** Writes events; progress events come at most once a second. */
export class JsonEvents {
  readonly #write: (line: string) => void;
  readonly #now: () => number;
  readonly #started: number;
  #lastProgressAt = -Infinity;

  constructor(write: (text: string) => void, now: () => number = () => performance.now()) {
    this.#write = write;
    this.#now = now;
    this.#started = now();
  }

  /**
   * Writes one event.
   *
   * @example
   * ```ts
   * import { JsonEvents } from "./events.ts";
   * const lines: string[] = [];
   * new JsonEvents((t) => lines.push(t), () => 0).emit("done", { ok: true });
   * console.log(lines[0]); // {"event":"done","elapsed":0,"ok":true}
   * ```
   */
  emit(event: string, fields: object = {}): void {
    const elapsed = Math.round((this.#now() - this.#started) / 100) / 10;
    this.#write(`${JSON.stringify({ event, elapsed, ...fields })}\n`);
  }

  /** A `progress` event, unless one went out less than a second ago (`force` skips that). */
  progress(fields: object, force = false): void {
    const now = this.#now();
    if (!force && now - this.#lastProgressAt < 1000) return;
    this.#lastProgressAt = now;
    this.emit("progress", fields);
  }
}
