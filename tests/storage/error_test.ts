import { StorageError } from "../../src/storage/mod.ts";
import { fsError } from "../../src/storage/error.ts";
import { assert, assertEquals } from "../assert.ts";

function osError(code: string): Error {
  return Object.assign(new Error(`${code}: something, write`), { code });
}

Deno.test("fsError: OS error codes become one clear line naming the path", () => {
  const cases: [string, string][] = [
    ["ENOSPC", "cannot write /x/a.bin: disk full"],
    ["EDQUOT", "cannot write /x/a.bin: disk quota exceeded"],
    ["EROFS", "cannot write /x/a.bin: read-only file system"],
    ["EACCES", "cannot write /x/a.bin: permission denied"],
    ["EPERM", "cannot write /x/a.bin: permission denied"],
    ["ENOENT", "cannot write /x/a.bin: no such file or folder"],
    ["EIO", "cannot write /x/a.bin: input/output error (failing disk?)"],
  ];
  for (const [code, message] of cases) {
    const e = fsError(osError(code), "write", "/x/a.bin");
    assert(e instanceof StorageError);
    assertEquals(e.message, message);
    assertEquals(e.code, code);
    assert(!e.message.includes("\n"), "one line");
  }
  const unknown = fsError(new Error("weird\nsecond line"), "read", "/x/b");
  assertEquals(unknown.message, "cannot read /x/b: weird");
  assertEquals(unknown.code, undefined);
  const already = new StorageError("kept");
  assert(fsError(already, "write", "/x") === already, "StorageError passes through");
});
