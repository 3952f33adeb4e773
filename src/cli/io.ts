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

/** Where the command writes; tests capture it. */
export interface CommandIO {
  out: (text: string) => void;
  err: (text: string) => void;
  isTTY: boolean;
  columns: () => number;
}

/** Standard output and error of this process. */
export function processIO(): CommandIO {
  const encoder = new TextEncoder();
  const writeAll = (file: typeof Deno.stdout, text: string) => {
    const bytes = encoder.encode(text);
    let at = 0;
    while (at < bytes.length) at += file.writeSync(bytes.subarray(at));
  };
  return {
    out: (t) => writeAll(Deno.stdout, t),
    err: (t) => writeAll(Deno.stderr, t),
    isTTY: Deno.stdout.isTerminal(),
    columns: () => Deno.consoleSize().columns,
  };
}
