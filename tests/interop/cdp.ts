/**
 * Headless Chromium for tests, driven over the Chrome DevTools Protocol with Deno's own
 * WebSocket: each browser in its own temporary profile folder, its DevTools port picked by
 * Chromium itself (read from the profile's `DevToolsActivePort`, so two tests never race for
 * one), gone with its folder after `close()`.
 *
 * @module
 */
import { Child } from "../process.ts";
import { delay, InteropError } from "./fixtures.ts";

/** How long one DevTools command may take before the test is told. */
const COMMAND_MS = 20_000;

// deno-lint-ignore no-explicit-any
type Json = any;

/** One page of a headless Chromium, and the browser's process. */
export class Browser {
  readonly #child: Child;
  readonly #profile: string;
  readonly #socket: WebSocket;
  readonly #pending = new Map<number, { resolve(v: Json): void; reject(e: Error): void }>();
  readonly #handlers = new Map<string, Set<(params: Json) => void>>();
  #nextId = 1;
  /** JavaScript errors, console errors and CSP refusals seen on the page. */
  readonly problems: string[] = [];
  /** The messages of the dialogs (`confirm`, `alert`) the page opened, in order. */
  readonly dialogs: string[] = [];
  /** Whether to accept the next dialogs, in order; an empty list accepts. */
  readonly dialogAnswers: boolean[] = [];

  private constructor(child: Child, profile: string, socket: WebSocket) {
    this.#child = child;
    this.#profile = profile;
    this.#socket = socket;
    socket.onmessage = (event) => this.#receive(JSON.parse(String(event.data)));
    socket.onclose = () => {
      for (const p of this.#pending.values()) p.reject(new InteropError("DevTools socket closed"));
      this.#pending.clear();
    };
  }

  /** Starts `chromium --headless` on about:blank and connects to its page. */
  static async launch(): Promise<Browser> {
    const profile = await Deno.makeTempDir({ prefix: "interop-chromium-" });
    const child = await Child.spawn("chromium", {
      cmd: "chromium",
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--remote-debugging-port=0",
        `--user-data-dir=${profile}`,
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-extensions",
        "--disable-sync",
        "--window-size=1280,800",
        "about:blank",
      ],
    }, { error: (message) => new InteropError(message), graceMs: 3000 });
    try {
      const socketUrl = await pageSocketUrl(child, profile);
      const socket = new WebSocket(socketUrl);
      await new Promise<void>((resolve, reject) => {
        socket.onopen = () => resolve();
        socket.onerror = (e) =>
          reject(new InteropError(`DevTools WebSocket: ${(e as ErrorEvent).message}`));
      });
      const browser = new Browser(child, profile, socket);
      await browser.#watch();
      return browser;
    } catch (e) {
      await child.stop();
      await Deno.remove(profile, { recursive: true }).catch(() => {});
      throw e;
    }
  }

  /** Sends a DevTools command; its result, or its error thrown. */
  send(method: string, params: Record<string, unknown> = {}): Promise<Json> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new InteropError(`DevTools ${method}: no answer in ${COMMAND_MS} ms`));
      }, COMMAND_MS);
      this.#pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.#socket.send(JSON.stringify({ id, method, params }));
    });
  }

  /** Calls `handler` with the parameters of each `event` (a DevTools event name). */
  on(event: string, handler: (params: Json) => void): void {
    let set = this.#handlers.get(event);
    if (!set) this.#handlers.set(event, set = new Set());
    set.add(handler);
  }

  /** The value of `expression` in the page (a promise is awaited); its exception thrown. */
  async evaluate<T = Json>(expression: string): Promise<T> {
    const reply = await this.send("Runtime.evaluate", {
      expression,
      awaitPromise: true,
      returnByValue: true,
    });
    if (reply.exceptionDetails) {
      const d = reply.exceptionDetails;
      throw new InteropError(`in the page: ${d.exception?.description ?? d.text}`);
    }
    return reply.result.value as T;
  }

  /** Polls `expression` until it is truthy (or `ms` pass: an error naming `what`). */
  async waitFor<T = Json>(what: string, expression: string, ms = 10_000): Promise<T> {
    const deadline = performance.now() + ms;
    let last: unknown;
    while (true) {
      last = await this.evaluate(expression);
      if (last) return last as T;
      if (performance.now() > deadline) {
        const line = await this.evaluate("document.getElementById('message')?.textContent")
          .catch(() => "");
        throw new InteropError(
          `timed out waiting for ${what} (last: ${JSON.stringify(last)}; page says: ${line})`,
        );
      }
      await delay(100);
    }
  }

  /** Opens `url` and waits for its load event. */
  async navigate(url: string): Promise<void> {
    const loaded = new Promise<void>((resolve) => {
      const once = () => {
        this.#handlers.get("Page.loadEventFired")?.delete(once);
        resolve();
      };
      this.on("Page.loadEventFired", once);
    });
    const reply = await this.send("Page.navigate", { url });
    if (reply.errorText) throw new InteropError(`navigate to ${url}: ${reply.errorText}`);
    await loaded;
  }

  /**
   * Clicks the middle of the element `selector` finds, as a mouse does (scrolled into view
   * first); throws when there is none or something else covers that point.
   */
  async click(selector: string): Promise<void> {
    const at = await this.evaluate<{ x: number; y: number } | string>(`(() => {
      const e = document.querySelector(${JSON.stringify(selector)});
      if (!e) return "nothing matches";
      e.scrollIntoView({ block: "center", inline: "center" });
      const r = e.getBoundingClientRect();
      const x = r.left + r.width / 2, y = r.top + r.height / 2;
      const hit = document.elementFromPoint(x, y);
      if (r.width === 0 || r.height === 0) return "not shown";
      if (!hit || !(hit === e || e.contains(hit))) {
        return "covered by " + (hit ? hit.outerHTML.slice(0, 80) : "nothing");
      }
      return { x, y };
    })()`);
    if (typeof at === "string") throw new InteropError(`click ${selector}: ${at}`);
    const mouse = { x: at.x, y: at.y, button: "left", clickCount: 1 };
    await this.send("Input.dispatchMouseEvent", { type: "mousePressed", ...mouse });
    await this.send("Input.dispatchMouseEvent", { type: "mouseReleased", ...mouse });
  }

  /** Focuses the element `selector` finds and types `text` into it. */
  async type(selector: string, text: string): Promise<void> {
    await this.evaluate(`document.querySelector(${JSON.stringify(selector)}).focus()`);
    await this.send("Input.insertText", { text });
  }

  /** Sets the files of the file input `selector` finds (its `change` event fires). */
  async setFiles(selector: string, paths: string[]): Promise<void> {
    const reply = await this.send("Runtime.evaluate", {
      expression: `document.querySelector(${JSON.stringify(selector)})`,
    });
    const objectId = reply.result?.objectId;
    if (!objectId) throw new InteropError(`set files: nothing matches ${selector}`);
    await this.send("DOM.setFileInputFiles", { files: paths, objectId });
  }

  /** The page's size in CSS pixels, as a phone (`mobile`) or a desktop window. */
  async viewport(width: number, height: number, mobile = false): Promise<void> {
    await this.send("Emulation.setDeviceMetricsOverride", {
      width,
      height,
      deviceScaleFactor: 1,
      mobile,
    });
  }

  /** A PNG of what the page shows. */
  async screenshot(): Promise<Uint8Array> {
    const { data } = await this.send("Page.captureScreenshot", { format: "png" });
    return Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
  }

  /** Closes the connection, stops Chromium (and its helpers) and removes its profile. */
  async close(): Promise<void> {
    if (this.#socket.readyState === WebSocket.OPEN) {
      const closed = new Promise((resolve) => this.#socket.addEventListener("close", resolve));
      this.#socket.close();
      await Promise.race([closed, delay(2000)]);
    }
    await this.#child.stop();
    await Deno.remove(this.#profile, { recursive: true }).catch(() => {});
  }

  /** Turns on the events the tests use: loads, dialogs (answered) and the page's errors. */
  async #watch(): Promise<void> {
    this.on("Page.javascriptDialogOpening", ({ message }) => {
      this.dialogs.push(message);
      const accept = this.dialogAnswers.shift() ?? true;
      this.send("Page.handleJavaScriptDialog", { accept }).catch(() => {});
    });
    this.on("Runtime.exceptionThrown", ({ exceptionDetails: d }) => {
      this.problems.push(`exception: ${d.exception?.description ?? d.text}`);
    });
    this.on("Runtime.consoleAPICalled", ({ type, args }) => {
      if (type === "error" || type === "warning") {
        this.problems.push(`console.${type}: ${args.map((a: Json) => a.value).join(" ")}`);
      }
    });
    this.on("Log.entryAdded", ({ entry }) => {
      if (entry.level === "error") this.problems.push(`${entry.source}: ${entry.text}`);
    });
    await Promise.all(
      ["Page.enable", "Runtime.enable", "Log.enable", "DOM.enable"].map((m) => this.send(m)),
    );
  }

  #receive(message: Json): void {
    if (typeof message.id === "number") {
      const p = this.#pending.get(message.id);
      this.#pending.delete(message.id);
      if (message.error) p?.reject(new InteropError(`DevTools: ${message.error.message}`));
      else p?.resolve(message.result);
      return;
    }
    for (const handler of this.#handlers.get(message.method) ?? []) handler(message.params);
  }
}

/** The WebSocket address of Chromium's first page, once its DevTools port answers. */
async function pageSocketUrl(child: Child, profile: string): Promise<string> {
  const deadline = performance.now() + 20_000;
  while (performance.now() < deadline) {
    if (child.exited) throw new InteropError(`chromium exited early: ${child.diagnosis()}`);
    try {
      const port = Number(
        (await Deno.readTextFile(`${profile}/DevToolsActivePort`)).split("\n")[0],
      );
      if (port > 0) {
        const targets = await (await fetch(`http://127.0.0.1:${port}/json`)).json();
        const page = targets.find((t: Json) => t.type === "page" && t.webSocketDebuggerUrl);
        if (page) return page.webSocketDebuggerUrl;
      }
    } catch {
      // not written or not answering yet
    }
    await delay(100);
  }
  throw new InteropError(`chromium's DevTools did not answer in 20 s: ${child.diagnosis()}`);
}
