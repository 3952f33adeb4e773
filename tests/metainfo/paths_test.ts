import {
  joinInside,
  makeUniquePaths,
  MAX_COMPONENT_BYTES,
  sanitizePath,
  sanitizePathComponent,
  TorrentError,
} from "../../src/metainfo/mod.ts";
import { assert, assertEquals, assertThrows } from "../assert.ts";
import { mulberry32 as rng } from "../random.ts";

const utf8Bytes = (s: string) => new TextEncoder().encode(s).length;

Deno.test("sanitizePathComponent drops components that move or stay in place", () => {
  for (const s of ["", ".", "..", "...", " ", " . ", ". .", "..  .."]) {
    assertEquals(sanitizePathComponent(s), "", JSON.stringify(s));
  }
});

Deno.test("sanitizePathComponent neutralises separators, NUL and control characters", () => {
  assertEquals(sanitizePathComponent("/etc/passwd"), "_etc_passwd");
  assertEquals(sanitizePathComponent("..\\..\\windows"), ".._.._windows");
  assertEquals(sanitizePathComponent("foo/../../../bar"), "foo_.._.._.._bar");
  assertEquals(sanitizePathComponent("a\0b"), "a_b");
  assertEquals(sanitizePathComponent("tab\there\nnew\x7f\x1b"), "tab_here_new__");
  assertEquals(sanitizePathComponent("/"), "_");
  assertEquals(sanitizePathComponent("\\"), "_");
});

Deno.test("sanitizePathComponent trims trailing dots and spaces, keeps leading dots", () => {
  assertEquals(sanitizePathComponent("foobar "), "foobar");
  assertEquals(sanitizePathComponent("name. . "), "name");
  assertEquals(sanitizePathComponent(".hidden"), ".hidden");
  assertEquals(sanitizePathComponent(" lead"), " lead");
});

Deno.test("sanitizePathComponent prefixes Windows device names, with or without extension", () => {
  for (const s of ["CON", "con", "Prn", "AUX", "nul", "COM1", "com9", "LPT1", "lpt9", "COM0"]) {
    assertEquals(sanitizePathComponent(s), "_" + s);
  }
  assertEquals(sanitizePathComponent("con.txt"), "_con.txt");
  assertEquals(sanitizePathComponent("NUL.tar.gz"), "_NUL.tar.gz");
  assertEquals(sanitizePathComponent("CON .txt"), "_CON .txt");
  assertEquals(sanitizePathComponent("con."), "_con");
  assertEquals(sanitizePathComponent("console"), "console");
  assertEquals(sanitizePathComponent("COM10"), "COM10");
  assertEquals(sanitizePathComponent("_con"), "_con");
});

Deno.test("sanitizePathComponent replaces Windows-forbidden characters only when asked", () => {
  assertEquals(sanitizePathComponent('a<b>c:d"e|f?g*h', { windows: true }), "a_b_c_d_e_f_g_h");
  assertEquals(sanitizePathComponent("C:", { windows: true }), "C_");
  assertEquals(sanitizePathComponent("Part 1: Intro", { windows: false }), "Part 1: Intro");
});

Deno.test("sanitizePathComponent truncates to 255 UTF-8 bytes keeping the extension", () => {
  const long = "a".repeat(300) + ".mkv";
  const out = sanitizePathComponent(long);
  assertEquals(utf8Bytes(out), MAX_COMPONENT_BYTES);
  assert(out.endsWith(".mkv"));
  // Multi-byte characters are never split.
  const wide = "é".repeat(200) + ".txt";
  const w = sanitizePathComponent(wide);
  assert(utf8Bytes(w) <= MAX_COMPONENT_BYTES && w.endsWith(".txt"));
  assert(!w.includes("\ufffd"));
  const emoji = "😀".repeat(100);
  const e = sanitizePathComponent(emoji);
  assertEquals(utf8Bytes(e), 252);
  assertEquals(e, "😀".repeat(63));
  // No extension: plain truncation, then trailing dots and spaces trimmed.
  const noExt = "b".repeat(254) + " " + "c".repeat(10);
  assertEquals(sanitizePathComponent(noExt), "b".repeat(254));
  // An over-long "extension" is not kept.
  const longExt = "x".repeat(100) + "." + "y".repeat(200);
  assertEquals(utf8Bytes(sanitizePathComponent(longExt)), MAX_COMPONENT_BYTES);
});

Deno.test("sanitizePath keeps clean paths and drops hostile components", () => {
  assertEquals(sanitizePath(["docs", "readme.txt"]), ["docs", "readme.txt"]);
  assertEquals(sanitizePath(["..", "..", "etc", "passwd"]), ["etc", "passwd"]);
  assertEquals(sanitizePath(["", ".", "a", "", "b"]), ["a", "b"]);
  assertEquals(sanitizePath(["/", "/", "bar"]), ["_", "_", "bar"]);
  assertEquals(sanitizePath(["abc/../../def", "/", "bar"]), ["abc_.._.._def", "_", "bar"]);
  assertEquals(sanitizePath([]), []);
});

Deno.test("sanitising is idempotent", () => {
  const samples = [
    "CON",
    "a/b",
    "x".repeat(400) + ".txt",
    "name. ",
    "é".repeat(300),
    "..",
    "a\u0000b",
    "nul.txt",
  ];
  for (const s of samples) {
    const once = sanitizePathComponent(s);
    assertEquals(sanitizePathComponent(once), once, JSON.stringify(s));
  }
});

Deno.test("makeUniquePaths renames clashes before the extension, ignoring case", () => {
  assertEquals(
    makeUniquePaths([["t", "foo", "bar.txt"], ["t", "foo", "bar.txt"], ["t", "foo", "BAR.txt"]]),
    [["t", "foo", "bar.txt"], ["t", "foo", "bar.1.txt"], ["t", "foo", "BAR.2.txt"]],
  );
  assertEquals(makeUniquePaths([["t", "_"], ["t", "_"], ["t", "_"]]), [
    ["t", "_"],
    ["t", "_.1"],
    ["t", "_.2"],
  ]);
  // Folders merge; distinct files stay as they are.
  assertEquals(makeUniquePaths([["t", "a", "x"], ["t", "a", "y"]]), [["t", "a", "x"], [
    "t",
    "a",
    "y",
  ]]);
});

Deno.test("makeUniquePaths resolves a file standing where a folder is needed, both ways", () => {
  // File "a" first, then "a/b": the folder gets renamed for the second entry.
  assertEquals(makeUniquePaths([["t", "a"], ["t", "a", "b"]]), [["t", "a"], ["t", "a.1", "b"]]);
  // Folder "a" first, then file "a": the file gets renamed.
  assertEquals(makeUniquePaths([["t", "a", "b"], ["t", "a"]]), [["t", "a", "b"], ["t", "a.1"]]);
  // The name a file is renamed to may itself be taken.
  assertEquals(makeUniquePaths([["t", "a"], ["t", "a.1"], ["t", "a"]]), [["t", "a"], ["t", "a.1"], [
    "t",
    "a.2",
  ]]);
});

Deno.test("makeUniquePaths keeps renamed names within 255 bytes", () => {
  const long = "n".repeat(251) + ".txt";
  const [a, b] = makeUniquePaths([[long], [long]]);
  assertEquals(a[0], long);
  assert(b[0] !== long && b[0].endsWith(".1.txt"));
  assertEquals(utf8Bytes(b[0]), MAX_COMPONENT_BYTES);
});

Deno.test("makeUniquePaths is linear on deep paths", () => {
  const deep = Array.from({ length: 50_000 }, (_, i) => `d${i % 10}`);
  const t0 = performance.now();
  const out = makeUniquePaths([deep, deep, [...deep.slice(0, 100), "x"]]);
  assert(performance.now() - t0 < 2000);
  assertEquals(out[1].at(-1), "d9.1");
});

Deno.test("joinInside joins clean components and refuses escaping ones", () => {
  assertEquals(joinInside("/dl", ["a", "b.txt"]), "/dl/a/b.txt");
  assertEquals(joinInside("/dl/", ["a"]), "/dl/a");
  assertEquals(joinInside("/", ["a"]), "/a");
  assertEquals(joinInside("rel", ["a"]), "rel/a");
  assertEquals(joinInside("/dl", []), "/dl");
  for (
    const bad of [[".."], ["."], [""], ["a/b"], ["..", "x"], ["a\\b"], ["a\0"], ["ok", "/etc"]]
  ) {
    assertThrows(() => joinInside("/dl", bad), TorrentError, "unsafe file name");
  }
});

Deno.test("fuzz: any sanitised path joins inside the root", () => {
  const r = rng(7);
  const alphabet = [
    "a",
    "B",
    ".",
    "..",
    "/",
    "\\",
    " ",
    "\0",
    "\n",
    ":",
    "é",
    "😀",
    "CON",
    "nul",
    "x",
  ];
  for (let i = 0; i < 5000; i++) {
    const components = Array.from({ length: Math.floor(r() * 6) }, () => {
      let s = "";
      for (let n = Math.floor(r() * 8); n > 0; n--) {
        s += r() < 0.05 ? "z".repeat(300) : alphabet[Math.floor(r() * alphabet.length)];
      }
      return s;
    });
    for (const windows of [false, true]) {
      const safe = sanitizePath(components, { windows });
      const joined = joinInside("/root", safe);
      assert(joined === "/root" || joined.startsWith("/root/"), joined);
      const parts = joined.slice("/root".length).split("/").filter((p) => p !== "");
      assertEquals(parts, safe);
      for (const p of safe) {
        const control = [...p].some((c) => c.charCodeAt(0) < 0x20 || c === "\x7f");
        assert(p !== "." && p !== ".." && !/[\\/]/u.test(p) && !control, JSON.stringify(p));
        assert(utf8Bytes(p) <= MAX_COMPONENT_BYTES);
        assert(!/[. ]$/u.test(p));
        if (windows) assert(!/[<>:"|?*]/u.test(p));
      }
    }
  }
});
