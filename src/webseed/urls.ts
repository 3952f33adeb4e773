/**
 * Where a web seed (BEP 19) keeps each file of a torrent: the URL itself for a single file (or
 * URL + name when it ends in `/`), URL + name + path for a folder, every component
 * percent-encoded.
 *
 * @module
 */

/** What the URLs are made from: the torrent's kind and its files' (sanitised) paths. */
export interface WebSeedFiles {
  readonly multiFile: boolean;
  readonly files: readonly { readonly path: readonly string[] }[];
}

/**
 * The URL of file `file` of `torrent` on the web seed at `base`, or `undefined` when a path
 * component is `.` or `..` (a URL would resolve it away, so such a file is left to peers).
 *
 * @example
 * ```ts
 * import { fileUrl } from "./urls.ts";
 * const album = { multiFile: true, files: [{ path: ["album", "cd 1", "01 #1.mp3"] }] };
 * console.log(fileUrl("http://127.0.0.1/pub", album, 0)); // http://127.0.0.1/pub/album/cd%201/01%20%231.mp3
 * const iso = { multiFile: false, files: [{ path: ["x.iso"] }] };
 * console.log(fileUrl("http://127.0.0.1/x.iso", iso, 0), fileUrl("http://127.0.0.1/", iso, 0));
 * // http://127.0.0.1/x.iso http://127.0.0.1/x.iso
 * ```
 */
export function fileUrl(base: string, torrent: WebSeedFiles, file: number): string | undefined {
  const path = torrent.files[file].path;
  if (path.some((c) => c === "." || c === "..")) return undefined;
  if (!torrent.multiFile && !base.endsWith("/")) return base;
  const encoded = path.map(encodeURIComponent).join("/");
  return base.endsWith("/") ? base + encoded : `${base}/${encoded}`;
}

/**
 * True for a URL a web seed can be fetched from: http or https. Others (ftp, file, data, ...)
 * are left alone, as BEP 19 allows.
 *
 * @example
 * ```ts
 * import { isWebSeedUrl } from "./urls.ts";
 * console.log(isWebSeedUrl("https://mirror.example/x"), isWebSeedUrl("ftp://x/y")); // true false
 * ```
 */
export function isWebSeedUrl(url: string): boolean {
  try {
    const { protocol } = new URL(url);
    return protocol === "http:" || protocol === "https:";
  } catch {
    return false;
  }
}
