import { errorCode, fsReason } from "../../src/util/mod.ts";
import { assertEquals } from "../assert.ts";

Deno.test("errorCode: Deno error classes map to codes", () => {
  assertEquals(errorCode(new Deno.errors.NotFound("x")), "ENOENT");
  assertEquals(errorCode(new Deno.errors.PermissionDenied("x")), "EACCES");
  assertEquals(errorCode(null), undefined);
  assertEquals(errorCode("ENOENT"), undefined);
});

Deno.test("fsReason: words for OS errors, the first line of anything else", () => {
  assertEquals(fsReason(Object.assign(new Error("ENOSPC: x"), { code: "ENOSPC" })), "disk full");
  assertEquals(fsReason(new Deno.errors.NotFound("gone (os error 2)")), "no such file or folder");
  assertEquals(fsReason(new Deno.errors.NotCapable("Requires all access")), "permission denied");
  assertEquals(fsReason(new Error("weird\nsecond line")), "weird");
  assertEquals(fsReason("plain"), "plain");
});
