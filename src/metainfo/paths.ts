/**
 * File-name hygiene for paths that come from a .torrent: every component is made safe to create
 * on Linux, macOS and Windows, and the joined path can never leave the output folder.
 *
 * @module
 */
import { TorrentError } from "./error.ts";

/** Longest file-name component most file systems accept, in UTF-8 bytes. */
export const MAX_COMPONENT_BYTES = 255;

/** An extension longer than this is treated as part of the name when truncating. */
const MAX_EXTENSION_BYTES = 32;

const WINDOWS = Deno.build.os === "windows";

/** Names Windows reserves for devices, with or without an extension (compared upper-cased). */
const RESERVED = new Set([
  "CON",
  "PRN",
  "AUX",
  "NUL",
  "CONIN$",
  "CONOUT$",
  ..."0123456789\u00b9\u00b2\u00b3".split("").flatMap((d) => [`COM${d}`, `LPT${d}`]),
]);

const encoder = new TextEncoder();

/** Options for {@link sanitizePathComponent}. */
export interface SanitizeOptions {
  /**
   * Also replace the characters Windows forbids in names (`<>:"|?*`). Defaults to true on
   * Windows only, so names like `Part 1: Intro.txt` keep their colon elsewhere.
   */
  windows?: boolean;
}

function utf8Length(s: string): number {
  return encoder.encode(s).length;
}

/** Longest prefix of `s` that fits in `maxBytes` of UTF-8 without splitting a code point. */
function truncateUtf8(s: string, maxBytes: number): string {
  let bytes = 0;
  let end = 0;
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    const n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    if (bytes + n > maxBytes) break;
    bytes += n;
    end += ch.length;
  }
  return s.slice(0, end);
}

/** Splits `name` into base and extension (with its dot) when the extension is short. */
function splitExtension(name: string): [string, string] {
  const dot = name.lastIndexOf(".");
  if (dot <= 0) return [name, ""];
  const ext = name.slice(dot);
  if (utf8Length(ext) > MAX_EXTENSION_BYTES) return [name, ""];
  return [name.slice(0, dot), ext];
}

function trimTrailingDotsAndSpaces(s: string): string {
  return s.replace(/[. ]+$/u, "");
}

/**
 * Makes one path component safe to create inside a folder, or returns `""` when the component
 * should be dropped (empty, `.`, `..`, only dots and spaces).
 *
 * Path separators, NUL and control characters become `_`; trailing dots and spaces are trimmed
 * (Windows drops them silently, which would merge distinct names); Windows device names such
 * as `CON` or `com1.txt` get a `_` prefix; components longer than 255 UTF-8 bytes are
 * truncated, keeping a short extension.
 *
 * @example
 * ```ts
 * import { sanitizePathComponent } from "./paths.ts";
 * console.log(sanitizePathComponent("..")); // ""
 * console.log(sanitizePathComponent("a/b\\c")); // "a_b_c"
 * console.log(sanitizePathComponent("con.txt")); // "_con.txt"
 * ```
 */
export function sanitizePathComponent(s: string, options: SanitizeOptions = {}): string {
  const windows = options.windows ?? WINDOWS;
  let out = "";
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (
      c < 0x20 || c === 0x7f || ch === "/" || ch === "\\" ||
      (windows && '<>:"|?*'.includes(ch))
    ) {
      out += "_";
    } else {
      out += ch;
    }
  }
  out = trimTrailingDotsAndSpaces(out);
  if (out === "") return "";
  const base = out.split(".")[0].replace(/ +$/u, "").toUpperCase();
  if (RESERVED.has(base)) out = "_" + out;
  if (utf8Length(out) > MAX_COMPONENT_BYTES) {
    const [name, ext] = splitExtension(out);
    out = ext === ""
      ? trimTrailingDotsAndSpaces(truncateUtf8(name, MAX_COMPONENT_BYTES))
      : truncateUtf8(name, MAX_COMPONENT_BYTES - utf8Length(ext)) + ext;
  }
  return out;
}

/**
 * Sanitises every component of a path and drops the ones that would be empty or would move
 * up or stay in place (`..`, `.`), so the result joined under any folder stays inside it.
 *
 * @example
 * ```ts
 * import { sanitizePath } from "./paths.ts";
 * console.log(sanitizePath(["..", "etc", "", "passwd"])); // [ "etc", "passwd" ]
 * ```
 */
export function sanitizePath(
  components: readonly string[],
  options: SanitizeOptions = {},
): string[] {
  const out: string[] = [];
  for (const c of components) {
    const safe = sanitizePathComponent(c, options);
    if (safe !== "") out.push(safe);
  }
  return out;
}

/** `name` with a counter before its extension (`bar.txt` -> `bar.1.txt`), within 255 bytes. */
function withCounter(name: string, n: number): string {
  const [base, ext] = splitExtension(name);
  const suffix = `.${n}${ext}`;
  return truncateUtf8(base, MAX_COMPONENT_BYTES - utf8Length(suffix)) + suffix;
}

/**
 * Renames paths so no two name the same file, and no file sits where another path needs a
 * folder: a clash gets a counter before the extension (`bar.txt`, `bar.1.txt`, ...).
 * Comparison ignores case, so the layout also works on case-insensitive file systems.
 * Expects sanitised components; returns new arrays in the same order.
 *
 * @example
 * ```ts
 * import { makeUniquePaths } from "./paths.ts";
 * console.log(makeUniquePaths([["a", "x.txt"], ["a", "X.txt"]]));
 * // [ [ "a", "x.txt" ], [ "a", "X.1.txt" ] ]
 * ```
 */
export function makeUniquePaths(paths: readonly (readonly string[])[]): string[][] {
  // A tree of nodes keyed by `${parentId}/${lower-cased name}`: each step costs O(name length),
  // so hostile deep paths cannot make this quadratic.
  const nodes = new Map<string, { id: number; file: boolean }>();
  let nextId = 1;
  const out: string[][] = [];
  for (const original of paths) {
    const path = [...original];
    let parent = 0;
    for (let i = 0; i < path.length; i++) {
      const leaf = i === path.length - 1;
      const name = path[i];
      let key = `${parent}/${name.toLowerCase()}`;
      let node = nodes.get(key);
      // A folder may merge with an existing folder; a file must be new.
      for (let n = 1; node !== undefined && (leaf || node.file); n++) {
        path[i] = withCounter(name, n);
        key = `${parent}/${path[i].toLowerCase()}`;
        node = nodes.get(key);
      }
      if (node === undefined) {
        node = { id: nextId++, file: leaf };
        nodes.set(key, node);
      }
      parent = node.id;
    }
    out.push(path);
  }
  return out;
}

/**
 * Joins sanitised components under `root`, refusing (with a `TorrentError`) any component that
 * could move the result outside `root`. A second line of defence behind `sanitizePath`.
 *
 * @example
 * ```ts
 * import { joinInside } from "./paths.ts";
 * console.log(joinInside("/downloads", ["album", "01.flac"])); // "/downloads/album/01.flac"
 * ```
 */
export function joinInside(root: string, components: readonly string[]): string {
  const sep = WINDOWS ? "\\" : "/";
  for (const c of components) {
    if (
      c === "" || c === "." || c === ".." || /[/\\\0]/u.test(c) || (WINDOWS && c.includes(":"))
    ) {
      throw new TorrentError(`unsafe file name in torrent: ${JSON.stringify(c)}`);
    }
  }
  if (components.length === 0) return root;
  let base = root;
  while (base.length > 1 && (base.endsWith("/") || (WINDOWS && base.endsWith("\\")))) {
    base = base.slice(0, -1);
  }
  if (base === "") base = ".";
  const joiner = base.endsWith("/") || base.endsWith("\\") ? "" : sep;
  return base + joiner + components.join(sep);
}
