import { assert, assertEquals } from "../assert.ts";
import { PiecePicker } from "../../src/engine/mod.ts";

function lcg(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 1103515245 + 12345) & 0x7fffffff) / 0x80000000;
}

Deno.test("picks the rarest piece the peer has", () => {
  const picker = new PiecePicker(5, lcg(1));
  for (const [piece, count] of [[0, 3], [1, 1], [2, 2], [3, 1], [4, 0]]) {
    for (let k = 0; k < count; k++) picker.peerHas(piece);
  }
  const first = picker.pick((i) => i !== 4);
  assert(first === 1 || first === 3, `got ${first}`);
  assertEquals(picker.pick((i) => i === 0 || i === 2), 2);
  assertEquals(picker.remaining, 3);
  assertEquals(picker.pick(() => false), -1);
});

Deno.test("dropped pieces are never picked; restored ones are", () => {
  const picker = new PiecePicker(3, lcg(2));
  picker.drop(0);
  picker.drop(1);
  assertEquals(picker.pick(() => true), 2);
  assertEquals(picker.pick(() => true), -1);
  picker.restore(1);
  assertEquals(picker.pick(() => true), 1);
});

Deno.test("ties are broken at random", () => {
  const firsts = new Set<number>();
  for (let seed = 1; seed <= 40; seed++) {
    firsts.add(new PiecePicker(50, lcg(seed)).pick(() => true));
  }
  assert(firsts.size > 10, `only ${firsts.size} distinct first picks`);
});

Deno.test("the piece after a peer's last one wins ties, never over a rarer piece", () => {
  const picker = new PiecePicker(8, lcg(3));
  // A seed's whole run comes out in order from wherever it starts.
  const first = picker.pick(() => true);
  let last = first;
  for (let k = 1; first + k < 8; k++) {
    last = picker.pick(() => true, last + 1);
    assertEquals(last, first + k);
  }
  // Past the end, or a piece not a candidate any more: the usual pick.
  assert(picker.pick(() => true, 8) !== -1);
  const rare = new PiecePicker(4, lcg(4));
  rare.peerHas(0);
  rare.peerHas(1);
  rare.peerHas(3);
  assertEquals(rare.pick(() => true, 1), 2, "a rarer piece beats the next one");
  const other = rare.pick((i) => i !== 1, 1);
  assert(other === 0 || other === 3, `not a piece the peer lacks: got ${other}`);
  const left = rare.pick(() => true, 2);
  assert(left !== 2 && left !== -1, `a piece already taken is no candidate: got ${left}`);
});

Deno.test("randomised model check against a naive picker", () => {
  const rnd = lcg(7);
  for (let trial = 0; trial < 200; trial++) {
    const n = 1 + Math.floor(rnd() * 50);
    const picker = new PiecePicker(n, rnd);
    const avail = new Array(n).fill(0);
    const candidate = new Array(n).fill(true);
    for (let step = 0; step < 400; step++) {
      const r = rnd(), i = Math.floor(rnd() * n);
      if (r < 0.35) {
        picker.peerHas(i);
        avail[i]++;
      } else if (r < 0.55) {
        if (avail[i] > 0) {
          picker.peerLost(i);
          avail[i]--;
        }
      } else if (r < 0.7) {
        picker.drop(i);
        candidate[i] = false;
      } else if (r < 0.8) {
        picker.restore(i);
        candidate[i] = true;
      } else {
        const has = Array.from({ length: n }, () => rnd() < 0.5);
        const got = picker.pick((x) => has[x]);
        const options = [...candidate.keys()].filter((x) => candidate[x] && has[x]);
        if (options.length === 0) {
          assertEquals(got, -1);
          continue;
        }
        const rarest = Math.min(...options.map((x) => avail[x]));
        assert(got !== -1 && candidate[got] && has[got], `bad pick ${got}`);
        assertEquals(avail[got], rarest, "not the rarest");
        candidate[got] = false;
      }
      assertEquals(picker.remaining, candidate.filter(Boolean).length);
    }
  }
});

Deno.test("sequential: the lowest-index candidate the peer has, whatever its availability", () => {
  const picker = new PiecePicker(100, { order: "sequential", random: lcg(3) });
  for (let i = 0; i < 100; i++) for (let k = 0; k < (i % 7); k++) picker.peerHas(i);
  assertEquals(picker.pick(() => true), 0);
  assertEquals(picker.pick(() => true), 1);
  assertEquals(picker.pick((i) => i >= 40), 40);
  assertEquals(picker.pick((i) => i % 2 === 1), 3);
  picker.restore(1);
  assertEquals(picker.pick(() => true), 1);
  picker.drop(2);
  assertEquals(picker.pick(() => true), 4);
  assertEquals(picker.pick((i) => i > 99), -1);
  assertEquals(picker.remaining, 100 - 6);
});

Deno.test("wanted: unwanted pieces are never candidates, not even after restore", () => {
  const wanted = (i: number) => i % 3 === 0;
  for (const order of ["rarest", "sequential"] as const) {
    const picker = new PiecePicker(30, { order, wanted, random: lcg(4) });
    assertEquals(picker.remaining, 10);
    assert(!picker.isCandidate(1) && picker.isCandidate(3));
    picker.restore(1);
    assertEquals(picker.remaining, 10, order);
    const got: number[] = [];
    for (let p = picker.pick(() => true); p !== -1; p = picker.pick(() => true)) got.push(p);
    assertEquals(got.toSorted((a, b) => a - b), [0, 3, 6, 9, 12, 15, 18, 21, 24, 27], order);
    if (order === "sequential") assertEquals(got, [0, 3, 6, 9, 12, 15, 18, 21, 24, 27]);
  }
});

Deno.test("sequential: randomised model check against a naive lowest-index picker", () => {
  const rnd = lcg(11);
  for (let trial = 0; trial < 200; trial++) {
    const n = 1 + Math.floor(rnd() * 200);
    const wantedSet = Array.from({ length: n }, () => rnd() < 0.8);
    const picker = new PiecePicker(n, { order: "sequential", wanted: (i) => wantedSet[i] });
    const candidate = [...wantedSet];
    for (let step = 0; step < 300; step++) {
      const r = rnd(), i = Math.floor(rnd() * n);
      if (r < 0.2) picker.peerHas(i);
      else if (r < 0.35) {
        picker.drop(i);
        candidate[i] = false;
      } else if (r < 0.5) {
        picker.restore(i);
        if (wantedSet[i]) candidate[i] = true;
      } else {
        const has = Array.from({ length: n }, () => rnd() < 0.6);
        const expected = candidate.findIndex((c, x) => c && has[x]);
        assertEquals(picker.pick((x) => has[x]), expected, `trial ${trial} step ${step}`);
        if (expected !== -1) candidate[expected] = false;
      }
      assertEquals(picker.remaining, candidate.filter(Boolean).length);
    }
  }
});

Deno.test("defer: deferred pieces come after every other the peer has, focus before both", () => {
  for (const order of ["rarest", "sequential"] as const) {
    const picker = new PiecePicker(10, { order, random: lcg(5) });
    picker.defer([{ from: 0, to: 3 }, { from: 8, to: 10 }]);
    picker.focus([{ from: 9, to: 10 }]);
    assertEquals(picker.pick(() => true), 9, `${order}: a focused piece first, deferred or not`);
    const early = [0, 1, 2, 3, 4].map(() => picker.pick(() => true)).sort((a, b) => a - b);
    assertEquals(early, [3, 4, 5, 6, 7], `${order}: the others next`);
    // A peer with deferred pieces only still gets one.
    assertEquals(picker.pick((i) => i === 1), 1, order);
    const late = [0, 1, 2].map(() => picker.pick(() => true)).sort((a, b) => a - b);
    assertEquals(late, [0, 2, 8], `${order}: the deferred last`);
    assertEquals(picker.pick(() => true), -1);
  }
  // A web seed's run starts outside the deferred ranges and stops at one.
  const runs = new PiecePicker(8);
  runs.defer([{ from: 0, to: 2 }, { from: 5, to: 6 }]);
  assertEquals(runs.pickRun(8, () => true), [2, 3, 4]);
  assertEquals(runs.pickRun(8, () => true), [6, 7]);
  assertEquals(runs.pickRun(8, () => true), [0, 1]);
  runs.defer([]);
  assertEquals(runs.pickRun(8, () => true), [5]);
});
