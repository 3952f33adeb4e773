/**
 * The process's peer port: one number for TCP and UDP, as peers expect (a tracker or the DHT
 * is told one port, and uTP peers dial the same one). The UDP sockets are bound here, one per
 * address family, and shared by the DHT and uTP; TCP listens on the same number later.
 *
 * @module
 */
import { UdpPort } from "../util/mod.ts";

/** UDP ports bound on one number where TCP was free too. */
export interface PeerPorts {
  /** The number: TCP listens here, the DHT and uTP use the UDP sockets on it. */
  readonly port: number;
  /** IPv4 first, then IPv6 where the host has it; just one with `--bind`. */
  readonly udp: readonly UdpPort[];
  close(): Promise<void>;
}

/** How many numbers after the wanted one are tried before any free one is taken. */
const NEXT_PORTS = 9;
/** Tries at a port the system picks, when every wanted one was taken. */
const ANY_PORT_TRIES = 5;

/**
 * Binds UDP on `first` (or the next free of the nine after it, or any free one; 0: any free
 * one; with `exactly`, `first` or nothing) for every address family, or for `hostname` alone,
 * where TCP is free on the same number.
 *
 * @example
 * ```ts
 * import { openPeerPorts } from "./ports.ts";
 * const ports = await openPeerPorts(0, "127.0.0.1");
 * const tcp = Deno.listen({ hostname: "127.0.0.1", port: ports.port }); // free for TCP too
 * console.log(ports.udp.length, ports.udp[0].port === ports.port); // 1 true
 * tcp.close();
 * await ports.close();
 * ```
 */
export async function openPeerPorts(
  first: number,
  hostname?: string,
  exactly = false,
): Promise<PeerPorts> {
  const wanted = first === 0 ? [] : Array.from({ length: NEXT_PORTS + 1 }, (_, i) => first + i);
  const candidates = exactly
    ? [first]
    : [...wanted.filter((p) => p <= 65535), ...Array(ANY_PORT_TRIES).fill(0)];
  let lastError: unknown;
  for (const candidate of candidates) {
    try {
      const udp = await bindOn(candidate, hostname);
      return {
        port: udp[0].port,
        udp,
        close: async () => {
          for (const port of udp) await port.close();
        },
      };
    } catch (e) {
      lastError = e;
      if (!isTaken(e)) throw e;
    }
  }
  throw lastError;
}

/** UDP on `port` for each family (or `hostname`), checked free for TCP; all or none. */
async function bindOn(port: number, hostname?: string): Promise<UdpPort[]> {
  const bound: UdpPort[] = [];
  try {
    bound.push(await UdpPort.bind(hostname ?? "0.0.0.0", port));
    const number = bound[0].port;
    Deno.listen({ hostname: hostname ?? "0.0.0.0", port: number }).close();
    if (hostname === undefined) {
      try {
        bound.push(await UdpPort.bind("::", number));
      } catch (e) {
        if (isTaken(e)) throw e; // else this host has no IPv6
      }
    }
    return bound;
  } catch (e) {
    for (const udp of bound) await udp.close();
    throw e;
  }
}

/** Whether `e` says a port is taken, as `Deno` or `node:dgram` words it. */
export function isTaken(e: unknown): boolean {
  return e instanceof Deno.errors.AddrInUse ||
    (e instanceof Error && (e as { code?: string }).code === "EADDRINUSE");
}
