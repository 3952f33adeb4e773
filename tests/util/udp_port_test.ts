import { UdpPort } from "../../src/util/mod.ts";
import { assertEquals } from "../assert.ts";

Deno.test("UdpPort: a closed port is let go at once, every descriptor with it", async () => {
  const fds = () => [...Deno.readDirSync("/proc/self/fd")].length;
  const before = fds();
  const first = await UdpPort.bind("127.0.0.1", 0);
  const port = first.port;
  await first.close();
  // Bound again on the same number, which fails while anything still holds it.
  const again = await UdpPort.bind("127.0.0.1", port);
  assertEquals(again.port, port);
  await again.close();
  assertEquals(fds(), before, "no descriptor left behind");
});
