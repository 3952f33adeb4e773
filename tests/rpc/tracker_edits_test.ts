/** Transmission's tracker edits: add, remove and replace by id, the whole list as text. */
import { trackerEdit, trackerListText } from "../../src/rpc/tracker_edits.ts";
import { RpcError } from "../../src/rpc/mod.ts";
import { assertEquals, assertThrows } from "../assert.ts";

const NOW = [["http://a.test/announce", "http://b.test/announce"], ["udp://c.test:80"]];

Deno.test("tracker edits: add, remove and replace by the ids torrent-get gives", () => {
  const edit = (args: Record<string, unknown>) => trackerEdit(args)!(NOW);
  assertEquals(edit({ trackerAdd: ["udp://d.test:1", "http://a.test/announce"] }), [
    ...NOW,
    ["udp://d.test:1"],
  ]);
  assertEquals(edit({ trackerRemove: [1, 2] }), [["http://a.test/announce"]]);
  assertEquals(edit({ trackerReplace: [2, "https://e.test/x"] }), [
    NOW[0],
    ["https://e.test/x"],
  ]);
  // Ids are those of the list before the edit, whatever else the edit does.
  assertEquals(edit({ trackerRemove: [0], trackerReplace: [1, "http://f.test/"] }), [
    ["http://f.test/"],
    ["udp://c.test:80"],
  ]);
  assertEquals(trackerEdit({}), undefined);
});

Deno.test("tracker edits: the whole list as text, tiers between blank lines", () => {
  const text = "http://a.test/1\n  http://b.test/2 \n\n\nudp://c.test:3\r\n";
  assertEquals(trackerEdit({ trackerList: text })!(NOW), [
    ["http://a.test/1", "http://b.test/2"],
    ["udp://c.test:3"],
  ]);
  assertEquals(trackerEdit({ trackerList: "" })!(NOW), []);
  assertEquals(
    trackerListText(NOW),
    "http://a.test/announce\nhttp://b.test/announce\n\nudp://c.test:80",
  );
});

Deno.test("tracker edits: bad arguments and ids the torrent lacks are refused", () => {
  for (
    const args of [
      { trackerAdd: "http://a.test/" },
      { trackerAdd: ["ftp://a.test/"] },
      { trackerAdd: ["not a url"] },
      { trackerAdd: [`http://a.test/${"x".repeat(3000)}`] },
      { trackerRemove: [-1] },
      { trackerReplace: [0] },
      { trackerReplace: ["0", "http://a.test/"] },
      { trackerList: ["http://a.test/"] },
      { trackerList: "http://a.test/\nwss://b.test/" },
    ]
  ) {
    assertThrows(() => trackerEdit(args), RpcError);
  }
  assertThrows(() => trackerEdit({ trackerRemove: [3] })!(NOW), RpcError, "no tracker 3");
  const many = Array.from({ length: 201 }, (_, i) => `http://t${i}.test/`);
  assertThrows(() => trackerEdit({ trackerAdd: many }), RpcError);
});
