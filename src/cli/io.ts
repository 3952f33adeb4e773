/**
 * What every command shares at its edge: the error a user can act on, and where output goes.
 *
 * @module
 */

/** A failure the user can act on: printed as one line, exit code 1. */
export class CommandError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CommandError";
  }
}

/** Exit code after Ctrl-C, as shells report a SIGINT death. */
export const EXIT_INTERRUPTED = 130;
/** Exit code once standard output's reader is gone, as shells report a SIGPIPE death. */
export const EXIT_OUTPUT_CLOSED = 141;

/** Where the command writes; tests capture it. */
export interface CommandIO {
  out: (text: string) => void;
  err: (text: string) => void;
  isTTY: boolean;
  columns: () => number;
  /**
   * Aborted once `out` finds its reader gone (`bittorrent ... | head -1`); what is written from
   * then on is dropped.
   */
  outputClosed?: AbortSignal;
}

/**
 * Standard output and error of this process. A pipe closed by its reader ends no command with an
 * error: output to it is dropped, and `outputClosed` says it went (the process runs with SIGPIPE
 * ignored, so a write there fails rather than ending it).
 */
export function processIO(): CommandIO {
  const encoder = new TextEncoder();
  const closed = new AbortController();
  const writeAll = (file: typeof Deno.stdout, text: string) => {
    const bytes = encoder.encode(text);
    let at = 0;
    while (at < bytes.length) at += file.writeSync(bytes.subarray(at));
  };
  const unlessGone = (write: () => void) => {
    try {
      write();
      return true;
    } catch (e) {
      if (e instanceof Deno.errors.BrokenPipe) return false;
      throw e;
    }
  };
  return {
    out: (t) => {
      if (!closed.signal.aborted && !unlessGone(() => writeAll(Deno.stdout, t))) closed.abort();
    },
    err: (t) => void unlessGone(() => writeAll(Deno.stderr, t)),
    isTTY: Deno.stdout.isTerminal(),
    columns: () => Deno.consoleSize().columns,
    outputClosed: closed.signal,
  };
}
