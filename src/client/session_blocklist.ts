/**
 * A long-running client's blocklist, as Transmission's RPC has it: the address it is updated
 * from, whether it applies, and the last list fetched. The list's bytes and those two choices
 * are kept in the state folder (`blocklist.bin`, `blocklist.json`), so a restart has a list
 * from the web at once, without the network; only an update fetches it again. A list that is
 * a file of this machine is read at each start.
 *
 * @module
 */
import { Blocklist, fetchBlocklist, parseBlocklistBytes, type PeerNetwork } from "../peer/mod.ts";
import { isWebAddress, messageOf, writeFileAtomic } from "../util/mod.ts";

const CHOICES_FILE = "blocklist.json";
const LIST_FILE = "blocklist.bin";

/** What may go wrong is told, not thrown: the client runs on without a list. */
export interface BlocklistLog {
  info(message: string): void;
  warn(message: string): void;
}

/**
 * The blocklist of `network`, kept in `dir`.
 *
 * @example
 * ```ts ignore
 * const blocklist = await SessionBlocklist.open(client.hub.network, stateDir, "https://...", log);
 * await blocklist.update(); // fetched, kept, applied
 * ```
 */
export class SessionBlocklist {
  readonly #network: PeerNetwork;
  readonly #dir: string | undefined;
  readonly #log: BlocklistLog;
  #url: string;
  #enabled: boolean;
  #list: Blocklist = Blocklist.EMPTY;
  /** Ends a fetch still running when the client stops. */
  readonly #stopping = new AbortController();
  /**
   * Settles once the list of the start is applied, or could not be had (told as a warning).
   * A fetch from the web may take its while: the client does not wait for it.
   */
  loaded: Promise<void> = Promise.resolve();

  private constructor(
    network: PeerNetwork,
    dir: string | undefined,
    log: BlocklistLog,
    choices: { url: string; enabled: boolean },
  ) {
    this.#network = network;
    this.#dir = dir;
    this.#log = log;
    this.#url = choices.url;
    this.#enabled = choices.enabled;
  }

  /**
   * The kept choices and list, if any. A new `source` (the daemon's `--blocklist`) becomes the
   * address to update from, switched on; its list is fetched unless the one kept came from it,
   * meanwhile (see `loaded`). A list that cannot be had is a warning: the client runs without
   * one.
   */
  static async open(
    network: PeerNetwork,
    dir: string | undefined,
    source: string | undefined,
    log: BlocklistLog,
  ): Promise<SessionBlocklist> {
    const kept = dir === undefined ? undefined : await readChoices(dir);
    // A source given again keeps the choice made over the RPC (switched off, say).
    const choices = source === undefined || source === kept?.url
      ? kept ?? { url: "", enabled: false }
      : { url: source, enabled: true };
    const store = new SessionBlocklist(network, dir, log, choices);
    // A list on the web is kept, not fetched at every start; a file of this machine is read.
    const cached = dir !== undefined && isWebAddress(choices.url) && kept?.url === choices.url
      ? await Deno.readFile(`${dir}/${LIST_FILE}`).catch(() => undefined)
      : undefined;
    if (source !== undefined) await store.#saveChoices();
    const load = cached
      ? parseBlocklistBytes(cached).then((parsed) => store.#use(parsed, "kept"))
      : choices.url !== ""
      ? store.update().then(() => {})
      : Promise.resolve();
    store.loaded = load.catch((e) => {
      if (!store.#stopping.signal.aborted) {
        log.warn(`blocklist ${choices.url} not loaded: ${messageOf(e)}`);
      }
    });
    return store;
  }

  /** Where updates come from ("" when nowhere). */
  get url(): string {
    return this.#url;
  }

  /** Whether the list applies. */
  get enabled(): boolean {
    return this.#enabled;
  }

  /** Ranges in the list held (applied or not). */
  get size(): number {
    return this.#list.size;
  }

  /** Changes where updates come from, or whether the list applies; kept for the next run. */
  async set(changes: { url?: string; enabled?: boolean }): Promise<void> {
    this.#url = changes.url ?? this.#url;
    this.#enabled = changes.enabled ?? this.#enabled;
    this.#apply();
    await this.#saveChoices();
  }

  /**
   * Fetches the list from `url`, keeps its bytes and applies it (when on); resolves with its
   * ranges. Rejects with why when there is no address or the list cannot be had, keeping the
   * list held before.
   */
  async update(): Promise<number> {
    if (this.#url === "") throw new Error("no blocklist address is set");
    const bytes = await fetchBlocklist(this.#url, this.#stopping.signal);
    const parsed = await parseBlocklistBytes(bytes);
    if (this.#dir !== undefined && isWebAddress(this.#url)) {
      await Deno.mkdir(this.#dir, { recursive: true });
      await writeFileAtomic(`${this.#dir}/${LIST_FILE}`, bytes, { sync: true });
    }
    this.#use(parsed, "fetched");
    return this.#list.size;
  }

  /** Ends a fetch still running (the client stops); what is kept stays. */
  async close(): Promise<void> {
    this.#stopping.abort();
    await this.loaded;
  }

  #use({ list, skipped }: { list: Blocklist; skipped: number }, how: string): void {
    this.#list = list;
    this.#apply();
    this.#log.info(
      `blocklist ${this.#url} (${how}): ${list.size} address ranges` +
        (skipped > 0 ? `, ${skipped} lines not understood` : "") +
        (this.#enabled ? "" : "; off"),
    );
  }

  #apply(): void {
    this.#network.blocklist = this.#enabled ? this.#list : Blocklist.EMPTY;
  }

  async #saveChoices(): Promise<void> {
    if (this.#dir === undefined) return;
    await Deno.mkdir(this.#dir, { recursive: true });
    const text = JSON.stringify({ url: this.#url, enabled: this.#enabled }) + "\n";
    await writeFileAtomic(`${this.#dir}/${CHOICES_FILE}`, text, { sync: true });
  }
}

/** The kept choices, or none when there are none (or they are not ours). */
async function readChoices(dir: string): Promise<{ url: string; enabled: boolean } | undefined> {
  try {
    const saved = JSON.parse(await Deno.readTextFile(`${dir}/${CHOICES_FILE}`));
    if (typeof saved?.url === "string" && typeof saved?.enabled === "boolean") {
      return { url: saved.url, enabled: saved.enabled };
    }
  } catch { /* none yet */ }
  return undefined;
}
