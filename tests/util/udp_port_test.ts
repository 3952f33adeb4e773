import { UdpPort } from "../../src/util/mod.ts";
import { assertEquals } from "../assert.ts";

Deno.test("UdpPort: a closed port is let go at once", async () => {
  const first = await UdpPort.bind("127.0.0.1", 0);
  const port = first.port;
  await first.close();
  // Bound again on the same number, which fails while any descriptor of it is left open.
  const again = await UdpPort.bind("127.0.0.1", port);
  assertEquals(again.port, port);
  await again.close();
});
