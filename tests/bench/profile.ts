/**
 * Summarises a V8 `.cpuprofile` (written by `deno run --cpu-prof`) as the functions with the
 * most self time, so a slow download can be explained without a profiler UI.
 *
 * @module
 */
import { BenchError } from "./proc.ts";

/** One function's share of the samples. */
export interface ProfileEntry {
  /** `name (file:line)`; `(anonymous)` for unnamed functions. */
  label: string;
  selfMs: number;
  /** Share of all sampled time, 0..1. */
  share: number;
}

const MAX_NODES = 5_000_000;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function shortUrl(url: string): string {
  const src = url.lastIndexOf("/src/");
  if (src >= 0) return url.slice(src + 1);
  const slash = url.lastIndexOf("/");
  return slash >= 0 ? url.slice(slash + 1) : url;
}

/**
 * Self time per function of a parsed `.cpuprofile` (nodes with `callFrame`, `samples` and
 * `timeDeltas`), biggest first. Nodes of the same function are merged. Throws
 * {@link BenchError} when the value is not shaped like a CPU profile.
 *
 * @example
 * ```ts
 * import { selfTimes } from "./profile.ts";
 * const profile = {
 *   nodes: [
 *     { id: 1, callFrame: { functionName: "(root)", url: "", lineNumber: -1 } },
 *     { id: 2, callFrame: { functionName: "work", url: "file:///x/src/a.ts", lineNumber: 9 } },
 *   ],
 *   samples: [1, 2, 2],
 *   timeDeltas: [0, 1000, 1000],
 * };
 * console.log(selfTimes(profile)[0].label); // "work (src/a.ts:10)"
 * ```
 */
export function selfTimes(profile: unknown): ProfileEntry[] {
  if (!isRecord(profile)) throw new BenchError("CPU profile is not an object");
  const { nodes, samples, timeDeltas } = profile;
  if (!Array.isArray(nodes) || !Array.isArray(samples) || !Array.isArray(timeDeltas)) {
    throw new BenchError("CPU profile lacks nodes, samples or timeDeltas");
  }
  if (nodes.length > MAX_NODES || samples.length > MAX_NODES * 10) {
    throw new BenchError("CPU profile is too large");
  }
  const labelOf = new Map<number, string>();
  for (const node of nodes) {
    if (!isRecord(node) || !Number.isSafeInteger(node.id) || !isRecord(node.callFrame)) {
      throw new BenchError("CPU profile has a malformed node");
    }
    const cf = node.callFrame;
    const name = typeof cf.functionName === "string" && cf.functionName !== ""
      ? cf.functionName
      : "(anonymous)";
    const url = typeof cf.url === "string" ? cf.url : "";
    const line = typeof cf.lineNumber === "number" && cf.lineNumber >= 0 ? cf.lineNumber + 1 : 0;
    labelOf.set(node.id as number, url ? `${name} (${shortUrl(url)}:${line})` : name);
  }
  const self = new Map<string, number>();
  let total = 0;
  const n = Math.min(samples.length, timeDeltas.length);
  for (let i = 0; i < n; i++) {
    const id = samples[i], dt = timeDeltas[i];
    if (typeof id !== "number" || typeof dt !== "number" || !Number.isFinite(dt)) {
      throw new BenchError("CPU profile has a malformed sample");
    }
    // The first delta is the gap since the profile's start, not a sample's duration.
    const us = i === 0 ? 0 : Math.max(0, dt);
    const label = labelOf.get(id);
    if (label === undefined) throw new BenchError(`CPU profile sample names unknown node ${id}`);
    self.set(label, (self.get(label) ?? 0) + us);
    total += us;
  }
  const entries = [...self].map(([label, us]) => ({
    label,
    selfMs: us / 1000,
    share: total > 0 ? us / total : 0,
  }));
  return entries.sort((a, b) => b.selfMs - a.selfMs);
}

/**
 * A printable summary: total sampled time, then the `top` functions by self time.
 *
 * @example
 * ```ts
 * import { summarizeCpuProfile } from "./profile.ts";
 * const p = {
 *   nodes: [{ id: 1, callFrame: { functionName: "f", url: "", lineNumber: 0 } }],
 *   samples: [1, 1],
 *   timeDeltas: [0, 5000],
 * };
 * console.log(summarizeCpuProfile(p, 5).includes("f")); // true
 * ```
 */
export function summarizeCpuProfile(profile: unknown, top: number): string {
  const all = selfTimes(profile);
  const totalMs = all.reduce((s, e) => s + e.selfMs, 0);
  const idleMs = all.find((e) => e.label === "(idle)")?.selfMs ?? 0;
  const busyMs = totalMs - idleMs;
  const entries = all.filter((e) => e.label !== "(idle)");
  const lines = [
    `  sampled ${(totalMs / 1000).toFixed(2)} s, of which idle ${(idleMs / 1000).toFixed(2)} s; ` +
    `top ${top} by self time (share of the busy ${(busyMs / 1000).toFixed(2)} s):`,
  ];
  for (const e of entries.slice(0, top)) {
    const share = busyMs > 0 ? e.selfMs / busyMs : 0;
    lines.push(
      `  ${(share * 100).toFixed(1).padStart(5)}%  ${
        e.selfMs.toFixed(0).padStart(7)
      } ms  ${e.label}`,
    );
  }
  return lines.join("\n");
}
