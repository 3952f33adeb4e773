/**
 * Creating the output folder, the sub-folders and the (empty) files of a torrent, so that
 * nothing is ever written outside the output folder: every component is checked on disk, and a
 * symbolic link is followed only when it leads back inside.
 *
 * @module
 */
import { basename, dirname, join, resolve, sep } from "node:path";
import { errorCode } from "../util/mod.ts";
import { fsError, StorageError } from "./error.ts";
import { isStored, type StorageLayout } from "./layout.ts";

/**
 * True when `p` is `root` itself or lies below it (both absolute and normalised).
 *
 * @example
 * ```ts
 * import { isInside } from "./paths.ts";
 * console.log(isInside("/dl", "/dl/a"), isInside("/dl", "/dl2/a")); // true false
 * ```
 */
export function isInside(root: string, p: string): boolean {
  if (p === root) return true;
  const prefix = root.endsWith(sep) ? root : root + sep;
  return p.startsWith(prefix);
}

async function lstatOrNull(p: string, action: string): Promise<Deno.FileInfo | null> {
  try {
    return await Deno.lstat(p);
  } catch (e) {
    if (errorCode(e) === "ENOENT") return null;
    throw fsError(e, action, p);
  }
}

async function realInside(root: string, p: string): Promise<string> {
  let real: string;
  try {
    real = await Deno.realPath(p);
  } catch (e) {
    throw fsError(e, "follow the symbolic link", p);
  }
  if (!isInside(root, real)) {
    throw new StorageError(
      `refusing to use ${p}: it is a symbolic link that leads outside the output folder`,
    );
  }
  return real;
}

/**
 * Creates `outDir` (and its parents) if needed; returns its real absolute path.
 *
 * @example
 * ```ts
 * import { prepareRoot } from "./paths.ts";
 * const tmp = await Deno.makeTempDir();
 * console.log((await prepareRoot(`${tmp}/a/b`)).endsWith("/a/b")); // true
 * await Deno.remove(tmp, { recursive: true });
 * ```
 */
export async function prepareRoot(outDir: string): Promise<string> {
  const root = resolve(outDir);
  try {
    await Deno.mkdir(root, { recursive: true });
  } catch (e) {
    if (errorCode(e) !== "EEXIST") throw fsError(e, "create output folder", root);
  }
  let real: string;
  let info: Deno.FileInfo;
  try {
    real = await Deno.realPath(root);
    info = await Deno.stat(real);
  } catch (e) {
    throw fsError(e, "open output folder", root);
  }
  if (!info.isDirectory) {
    throw new StorageError(`cannot use output folder ${root}: it is a file, not a folder`);
  }
  return real;
}

/**
 * Makes sure every non-pad file of `layout` exists below `root` (a real path from
 * `prepareRoot`), creating missing folders and empty files without touching existing data.
 * Returns, per file, the real path to open, or `null` for pad files and symlink entries.
 * Files for which `create` says false (not chosen for download) are neither created nor get
 * folders: their path is returned only when they already exist inside `root`, else `null`.
 *
 * @example
 * ```ts
 * import { prepareFiles, prepareRoot } from "./paths.ts";
 * import { Sha1Pieces } from "../util/mod.ts";
 * const tmp = await Deno.makeTempDir();
 * const root = await prepareRoot(tmp);
 * const files = [
 *   { path: ["t", "a"], length: 2, offset: 0 },
 *   { path: [".pad", "2"], length: 2, offset: 2, padding: true },
 * ];
 * const layout = { pieceLength: 4, pieceCount: 1, hashes: new Sha1Pieces(new Uint8Array(20)), infoHash: new Uint8Array(20), totalLength: 4, files };
 * const paths = await prepareFiles(root, layout);
 * console.log(paths[0] === `${root}/t/a`, paths[1]); // true null
 * await Deno.remove(tmp, { recursive: true });
 * ```
 */
export async function prepareFiles(
  root: string,
  layout: StorageLayout,
  create: (file: number) => boolean = () => true,
): Promise<(string | null)[]> {
  const dirs = new Map<string, string>(); // relative folder key -> real path
  dirs.set("", root);

  async function ensureDir(components: readonly string[]): Promise<string> {
    let cur = root;
    let key = "";
    for (const c of components) {
      key = key === "" ? c : key + "/" + c;
      const known = dirs.get(key);
      if (known !== undefined) {
        cur = known;
        continue;
      }
      const p = join(cur, c);
      if (!isInside(root, p)) throw new StorageError(`refusing to use ${p}: outside output folder`);
      let info = await lstatOrNull(p, "create folder");
      if (info === null) {
        try {
          await Deno.mkdir(p);
        } catch (e) {
          if (errorCode(e) !== "EEXIST") throw fsError(e, "create folder", p);
        }
        info = await lstatOrNull(p, "create folder");
        if (info === null) throw new StorageError(`cannot create folder ${p}: it vanished`);
      }
      if (info.isSymlink) {
        const real = await realInside(root, p);
        const target = await Deno.stat(real).catch((e) => {
          throw fsError(e, "create folder", p);
        });
        if (!target.isDirectory) {
          throw new StorageError(`cannot create folder ${p}: a file is in the way`);
        }
        cur = real;
      } else if (info.isDirectory) {
        cur = p;
      } else {
        throw new StorageError(`cannot create folder ${p}: a file is in the way`);
      }
      dirs.set(key, cur);
    }
    return cur;
  }

  const out: (string | null)[] = [];
  for (let i = 0; i < layout.files.length; i++) {
    const f = layout.files[i];
    if (!isStored(f)) {
      out.push(null);
      continue;
    }
    if (!create(i)) {
      out.push(await locateExisting(root, f.path));
      continue;
    }
    const parent = await ensureDir(f.path.slice(0, -1));
    const p = join(parent, f.path[f.path.length - 1]);
    if (!isInside(root, p) || dirname(p) !== parent || basename(p) !== f.path[f.path.length - 1]) {
      throw new StorageError(`refusing to use ${p}: outside output folder`);
    }
    out.push(await ensureFile(root, p));
  }
  return out;
}

async function ensureFile(root: string, p: string): Promise<string> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const info = await lstatOrNull(p, "create file");
    if (info === null) {
      try {
        const f = await Deno.open(p, { write: true, createNew: true });
        f.close();
        return p;
      } catch (e) {
        if (errorCode(e) === "EEXIST") continue; // appeared meanwhile: look again
        throw fsError(e, "create file", p);
      }
    }
    if (info.isFile) return p;
    if (info.isDirectory) throw new StorageError(`cannot use ${p}: it is a folder, not a file`);
    if (info.isSymlink) {
      const real = await realInside(root, p);
      const target = await Deno.stat(real).catch((e) => {
        throw fsError(e, "open", p);
      });
      if (!target.isFile) throw new StorageError(`cannot use ${p}: it is not a regular file`);
      return real;
    }
    throw new StorageError(`cannot use ${p}: it is not a regular file`);
  }
  throw new StorageError(`cannot create file ${p}: it keeps changing`);
}

/**
 * The real path of an existing regular file at `components` below `root`, found without
 * creating anything; `null` when it is missing or anything on the way is not a plain folder
 * or leads outside `root`.
 */
async function locateExisting(root: string, components: readonly string[]): Promise<string | null> {
  let cur = root;
  for (let k = 0; k < components.length; k++) {
    const p = join(cur, components[k]);
    if (!isInside(root, p)) return null;
    let info: Deno.FileInfo | null;
    try {
      info = await lstatOrNull(p, "read");
    } catch {
      return null;
    }
    if (info === null) return null;
    const last = k === components.length - 1;
    if (info.isSymlink) {
      let real: string;
      try {
        real = await realInside(root, p);
        info = await Deno.stat(real);
      } catch {
        return null;
      }
      cur = real;
    } else cur = p;
    if (last ? !info.isFile : !info.isDirectory) return null;
  }
  return cur;
}
