/**
 * Loading a Linux system library through FFI, for the few calls the `Deno` namespace lacks.
 * Callers fall back to doing without (or to a slower way) when this gives `null`.
 *
 * @module
 */

/**
 * The `symbols` of the first of `names` that opens, or `null`: off Linux, without the FFI
 * permission (asked without a prompt, so a run without `--allow-ffi` just goes without), or when
 * no name opens (not installed, or lacking a symbol).
 *
 * @example
 * ```ts
 * import { openLinuxLibrary } from "./native.ts";
 * const libc = openLinuxLibrary(["libc.so.6", "libc.so"], {
 *   getpid: { parameters: [], result: "i32" },
 * });
 * if (libc !== null) console.log(libc.getpid() === Deno.pid); // true
 * ```
 */
export function openLinuxLibrary<const S extends Deno.ForeignLibraryInterface>(
  names: readonly string[],
  symbols: S,
): Deno.DynamicLibrary<S>["symbols"] | null {
  if (Deno.build.os !== "linux") return null;
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return null;
  for (const name of names) {
    try {
      return Deno.dlopen(name, symbols).symbols;
    } catch {
      // Not installed under this name, or without one of the symbols: try the next.
    }
  }
  return null;
}

/**
 * `openLinuxLibrary` put off to the first call of the function returned, and its answer, the
 * library or `null`, kept from then on: for calls a run may never need, and not to be tried
 * again where they cannot be had.
 *
 * @example
 * ```ts
 * import { lazyLinuxLibrary } from "./native.ts";
 * const libc = lazyLinuxLibrary(["libc.so.6", "libc.so"], {
 *   getpid: { parameters: [], result: "i32" },
 * });
 * console.log(libc() === libc()); // true (opened once)
 * ```
 */
export function lazyLinuxLibrary<const S extends Deno.ForeignLibraryInterface>(
  names: readonly string[],
  symbols: S,
): () => Deno.DynamicLibrary<S>["symbols"] | null {
  let opened: Deno.DynamicLibrary<S>["symbols"] | null | undefined;
  return () => {
    if (opened === undefined) opened = openLinuxLibrary(names, symbols);
    return opened;
  };
}
