/**
 * Where a download's progress goes: a status line and a few messages for people, or
 * newline-delimited JSON events for programs (`--json`). The command says what happens as
 * values (snapshots, notices, a summary) and a reporter words it one way or the other.
 *
 * @module
 */
import type { TrackerStatus } from "../tracker/mod.ts";
import { type ProgressDisplay, renderSummary, type Snapshot } from "./display.ts";
import type { JsonEvents } from "./events.ts";

/** A run's end, as values: the summary lines and the `done` event are both made from it. */
export interface RunSummary extends Snapshot {
  /** Every wanted piece was verified and written. */
  verified: boolean;
  /** Stopped by Ctrl-C or SIGTERM. */
  interrupted: boolean;
  /** The log file, when there is one. */
  logPath?: string;
}

/** Something worth telling while a download runs. */
export type Notice =
  | { kind: "complete"; name: string; seedingGoal?: string }
  | { kind: "seeding-done"; reason: string }
  | { kind: "stopping"; trackers: boolean }
  | { kind: "piece-failed"; piece: number; peers: readonly string[] }
  | { kind: "peer-banned"; peer: string; reason: string }
  | { kind: "tracker"; status: TrackerStatus }
  | { kind: "warning"; message: string };

/** What the torrent is, once known (for a magnet link, after its metadata arrived). */
export interface RunStart {
  name: string;
  infoHash: string;
  totalBytes: number;
  pieceCount: number;
  output: string;
}

/** The interface both reporters share. */
export interface Reporter {
  start(run: RunStart): void;
  update(s: Snapshot): void;
  notice(n: Notice): void;
  /** Ends the output: the summary, or nothing (an error follows, or a listing). */
  finish(summary?: RunSummary): void;
}

/**
 * For people: the live status line, a line for the moments that matter, warnings on stderr
 * and the summary. Hash failures, bans and tracker answers go to the log only.
 */
export class TerminalReporter implements Reporter {
  constructor(
    readonly display: ProgressDisplay,
    readonly warn: (message: string) => void,
  ) {}

  start(): void {}

  update(s: Snapshot): void {
    this.display.update(s);
  }

  notice(n: Notice): void {
    switch (n.kind) {
      case "complete":
        if (n.seedingGoal) {
          this.display.message(
            `Complete: ${n.name}. Seeding ${n.seedingGoal}; press Ctrl-C to stop.`,
          );
        }
        return;
      case "seeding-done":
        return this.display.message(`Seeding done: ${n.reason}.`);
      case "stopping":
        return this.display.message(
          n.trackers ? "Stopping: telling trackers and closing peers..." : "Stopping...",
        );
      case "warning":
        return this.warn(`bittorrent: warning: ${n.message}\n`);
    }
  }

  finish(summary?: RunSummary): void {
    if (!summary) return this.display.finish([]);
    const lines = renderSummary(summary);
    if (summary.logPath) lines.push(`Log: ${summary.logPath}`);
    this.display.finish(lines);
  }
}

/** For programs: one JSON object a line on stdout (the README lists the events). */
export class JsonReporter implements Reporter {
  #phase?: Snapshot["phase"];

  constructor(readonly events: JsonEvents) {}

  start(run: RunStart): void {
    this.events.emit("start", { command: "download", ...run });
  }

  update(s: Snapshot): void {
    const phaseChanged = s.phase !== this.#phase;
    this.#phase = s.phase;
    this.events.progress(progressFields(s), phaseChanged);
  }

  notice(n: Notice): void {
    switch (n.kind) {
      case "complete":
        return this.events.emit("complete", { seeding: n.seedingGoal !== undefined });
      case "seeding-done":
        return this.events.emit("seeding-done", { reason: n.reason });
      case "stopping":
        return this.events.emit("stopping");
      case "piece-failed":
        return this.events.emit("piece-failed", { piece: n.piece, peers: n.peers });
      case "peer-banned":
        return this.events.emit("peer-banned", { peer: n.peer, reason: n.reason });
      case "tracker": {
        const { url, ok, peers, seeders, leechers, message, nextAnnounceAt } = n.status;
        return this.events.emit("tracker", {
          url,
          ok,
          ...(ok ? { peers, seeders, leechers } : { message }),
          retryIn: nextAnnounceAt === undefined
            ? null
            : Math.max(0, Math.round((nextAnnounceAt - Date.now()) / 1000)),
        });
      }
      case "warning":
        return this.events.emit("warning", { message: n.message });
    }
  }

  finish(summary?: RunSummary): void {
    if (!summary) return;
    const seconds = summary.elapsedMs / 1000;
    this.events.emit("done", {
      finished: summary.pieceCount > 0 && summary.piecesDone >= summary.pieceCount,
      interrupted: summary.interrupted,
      verified: summary.verified,
      name: summary.name,
      totalBytes: summary.totalBytes,
      bytesDone: summary.bytesDone,
      piecesDone: summary.piecesDone,
      pieceCount: summary.pieceCount,
      downloaded: summary.downloaded,
      uploaded: summary.uploaded,
      averageRate: seconds > 0 ? Math.round(summary.downloaded / seconds) : 0,
      log: summary.logPath ?? null,
    });
  }
}

/** A snapshot as the fields of a `progress` event. */
export function progressFields(s: Snapshot): Record<string, unknown> {
  const left = s.totalBytes - s.bytesDone;
  return {
    phase: s.phase,
    piecesDone: s.piecesDone,
    pieceCount: s.pieceCount,
    bytesDone: s.bytesDone,
    totalBytes: s.totalBytes,
    downloadRate: Math.round(s.downloadRate),
    uploadRate: Math.round(s.uploadRate),
    downloaded: s.downloaded,
    uploaded: s.uploaded,
    peers: {
      connected: s.peersConnected,
      known: s.peersKnown,
      encrypted: s.peersEncrypted ?? 0,
      utp: s.peersUtp ?? 0,
      bySource: s.peersBySource ?? {},
    },
    webSeeds: {
      count: s.webSeeds ?? 0,
      active: s.webSeedsActive ?? 0,
      downloaded: s.webSeedDownloaded ?? 0,
      downloadRate: Math.round(s.webSeedRate ?? 0),
    },
    eta: s.downloadRate > 0 && left > 0 ? Math.round(left / s.downloadRate) : null,
    ...(s.checkProgress === undefined ? {} : { checked: s.checkProgress }),
  };
}
