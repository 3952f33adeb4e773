/**
 * The offline demo (`deno task demo`): a whole swarm on 127.0.0.1 — our tracker, our seeders and
 * a download through the real command-line path — checked byte for byte, then cleaned up.
 *
 * @example
 * ```ts
 * import { parseDemoArgs, planPayload } from "./mod.ts";
 * const args = parseDemoArgs(["--size", "4M"]);
 * console.log(args.seeders, planPayload(args.size).length); // 3 6
 * ```
 *
 * @module
 */
export {
  DEFAULT_DEMO_SEEDERS,
  DEFAULT_DEMO_SIZE,
  DEMO_HELP,
  type DemoArgs,
  DemoError,
  MAX_DEMO_SEEDERS,
  MAX_DEMO_SIZE,
  MIN_DEMO_SIZE,
  parseDemoArgs,
  parseSize,
} from "./args.ts";
export { type DemoOptions, type DemoResult, runDemo } from "./demo.ts";
export {
  comparePayload,
  type FileMismatch,
  type PayloadFile,
  planPayload,
  writePayload,
} from "./payload.ts";
