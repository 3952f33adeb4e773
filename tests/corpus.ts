/**
 * libtorrent's torrent-file corpus, kept outside the repository in
 * ../shared/testdata/libtorrent-corpus, and its expectations.tsv: where it is, whether it is
 * there (tests skip with a message when not), and what each file should do.
 *
 * @module
 */
import { assert } from "./assert.ts";

/** The corpus folder. */
export const CORPUS: URL = new URL("../../shared/testdata/libtorrent-corpus/", import.meta.url);
/** The same as a path ending in `/`. */
export const CORPUS_DIR: string = decodeURIComponent(CORPUS.pathname);

/** What a client should do with a corpus file: parse it, refuse it, or either. */
export type Expect = "accept" | "reject" | "either";

/** True when the corpus is there; prints why tests are skipped when not. */
export function corpusPresent(): boolean {
  try {
    if (Deno.statSync(new URL("expectations.tsv", CORPUS)).isFile) return true;
  } catch { /* reported below */ }
  console.log(`corpus not found, skipping the corpus tests (${CORPUS_DIR})`);
  return false;
}

/** expectations.tsv as file name -> expectation, in the file's order. */
export function expectations(): Map<string, Expect> {
  const text = Deno.readTextFileSync(new URL("expectations.tsv", CORPUS));
  const [header, ...rows] = text.split("\n").filter((l) => l.trim() !== "");
  const cols = header.split("\t");
  const fileCol = cols.indexOf("file"), expectCol = cols.indexOf("expect");
  assert(fileCol >= 0 && expectCol >= 0, "expectations.tsv lacks file/expect columns");
  const out = new Map<string, Expect>();
  for (const row of rows) {
    const cells = row.split("\t");
    assert(["accept", "reject", "either"].includes(cells[expectCol]), `bad row: ${row}`);
    out.set(cells[fileCol], cells[expectCol] as Expect);
  }
  return out;
}
