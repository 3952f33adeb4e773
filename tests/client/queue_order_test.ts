/** The queue's order: Transmission's moves, and ranks that change only for the torrents moved. */
import { type QueueMove, QueueOrder } from "../../src/client/queue_order.ts";
import { assertEquals } from "../assert.ts";
import { mulberry32 } from "../random.ts";

function queueOf(n: number): QueueOrder {
  const queue = new QueueOrder();
  for (let id = 1; id <= n; id++) queue.add(id);
  return queue;
}

const order = (queue: QueueOrder, n: number) =>
  queue.sort(Array.from({ length: n }, (_, i) => i + 1));

Deno.test("queue order: top, up, down, bottom as Transmission moves them", () => {
  const cases: [number[], QueueMove, number[]][] = [
    [[4, 2], "top", [2, 4, 1, 3, 5]],
    [[4, 2], "bottom", [1, 3, 5, 2, 4]],
    [[2, 4], "up", [2, 1, 4, 3, 5]],
    [[2, 4], "down", [1, 3, 2, 5, 4]],
    // A block at the top (or bottom) stays; one behind it stops at it.
    [[1, 2, 4], "up", [1, 2, 4, 3, 5]],
    [[4, 5, 2], "down", [1, 3, 2, 4, 5]],
  ];
  for (const [ids, where, expected] of cases) {
    const queue = queueOf(5);
    const changed = queue.move(ids, where);
    assertEquals(order(queue, 5), expected, `${where} ${ids}`);
    for (const id of changed.keys()) assertEquals(ids.includes(id), true, "only movers re-ranked");
  }
});

Deno.test("queue order: moveTo, remove, add after the last, ranks kept by add", () => {
  const queue = queueOf(4);
  assertEquals([...queue.moveTo(4, 1).keys()], [4]);
  assertEquals(order(queue, 4), [1, 4, 2, 3]);
  queue.moveTo(1, 99);
  assertEquals(order(queue, 4), [4, 2, 3, 1]);
  queue.remove(2);
  assertEquals([queue.position(2), queue.position(3)], [-1, 1]);
  queue.add(5);
  assertEquals(queue.sort([5, 1, 4, 3]), [4, 3, 1, 5]);
  // A queue made again from the ranks it gave has the same order.
  const again = new QueueOrder();
  const ranks = new Map([[1, 10], [2, -3], [3, 0.5]]);
  for (const [id, rank] of ranks) again.add(id, rank);
  assertEquals(again.sort([1, 2, 3]), [2, 3, 1]);
});

Deno.test("queue order: thousands of random moves keep one order that ranks reproduce", () => {
  const random = mulberry32(77);
  const n = 30, queue = queueOf(n);
  const ranks = new Map(Array.from({ length: n }, (_, i) => [i + 1, i]));
  const moves: QueueMove[] = ["top", "up", "down", "bottom"];
  for (let step = 0; step < 5000; step++) {
    const id = 1 + Math.floor(random() * n);
    const changed = step % 3 === 0
      ? queue.moveTo(id, Math.floor(random() * n))
      : queue.move([id], moves[Math.floor(random() * 4)]);
    for (const [each, rank] of changed) ranks.set(each, rank);
  }
  const rebuilt = new QueueOrder();
  for (const [id, rank] of ranks) rebuilt.add(id, rank);
  assertEquals(order(rebuilt, n), order(queue, n), "the saved ranks give the same order");
  assertEquals(new Set(order(queue, n)).size, n);
});
