import { assertEquals } from "../assert.ts";
import { choose } from "../../src/engine/mod.ts";

const peer = (rate: number, interested = true, optimistic = false, connectedAt = 0) => ({
  rate,
  interested,
  optimistic,
  connectedAt,
});

Deno.test("the fastest interested peers get the regular slots", () => {
  const d = choose([peer(1), peer(5), peer(3), peer(9, false)], {
    slots: 2,
    rotateOptimistic: false,
    random: () => 0,
    now: 1e9,
  });
  assertEquals(d, ["optimistic", "unchoke", "unchoke", "choke"]);
});

Deno.test("the optimistic slot stays until it rotates", () => {
  const peers = [peer(10), peer(1), peer(2, true, true)];
  const keep = choose(peers, { slots: 1, rotateOptimistic: false, random: () => 0, now: 1e9 });
  assertEquals(keep, ["unchoke", "choke", "optimistic"]);
  const rotate = choose(peers, { slots: 1, rotateOptimistic: true, random: () => 0, now: 1e9 });
  assertEquals(rotate, ["unchoke", "optimistic", "choke"]);
});

Deno.test("new peers are likelier to win the optimistic slot", () => {
  // Weights: old peer 1, new peer 3; a ticket at 0.3 of the total (1.2 of 4) lands on the new one.
  const d = choose([peer(10), peer(0, true, false, 0), peer(0, true, false, 1e9 - 1000)], {
    slots: 1,
    rotateOptimistic: true,
    random: () => 0.3,
    now: 1e9,
  });
  assertEquals(d, ["unchoke", "choke", "optimistic"]);
});
