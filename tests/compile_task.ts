/**
 * The `compile` task of deno.json, read by what must run or build as the shipped executable
 * does: the benchmarks take its V8 flags, and a test holds the release workflow to its flags.
 */

/** The repository's root folder, with a trailing slash. */
export const REPO_ROOT = decodeURIComponent(new URL("../", import.meta.url).pathname);

/** The client's entry point. */
export const MAIN_TS = `${REPO_ROOT}src/main.ts`;

/** The words of the `compile` task, after `deno compile`. */
export function compileTaskArgs(): string[] {
  const config = JSON.parse(Deno.readTextFileSync(`${REPO_ROOT}deno.json`));
  const words = String(config.tasks.compile).split(/\s+/);
  if (words[0] !== "deno" || words[1] !== "compile") {
    throw new Error(`deno.json's compile task does not start with "deno compile"`);
  }
  return words.slice(2);
}

/**
 * `deno run`'s flags for running the sources as the executable runs: the words of the `compile`
 * task that decide how its runtime behaves (`--v8-flags=...`, whether V8's code cache is off),
 * and each module loaded at its first import. The executable holds its modules and looks for
 * none ahead, where `deno run` would otherwise find and read every module that any `import()`
 * names before the first line runs (4-5 ms of each start).
 */
export function compileRunFlags(): string[] {
  const args = compileTaskArgs();
  if (!args.some((w) => w.startsWith("--v8-flags="))) {
    throw new Error(`deno.json's compile task sets no --v8-flags`);
  }
  return [
    ...args.filter((w) => w.startsWith("--v8-flags=") || w === "--no-code-cache"),
    "--unstable-lazy-dynamic-imports",
  ];
}
