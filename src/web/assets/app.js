// @ts-check
/// <reference no-default-lib="true" />
/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/// <reference lib="esnext" />
/**
 * The daemon's web page: lists the torrents over Transmission's RPC every two seconds and sends
 * what the buttons ask for (add, pause, resume, remove, choose files, change the settings). Plain
 * DOM; whatever comes from the daemon goes in as text, never as markup.
 */

/** From the origin: a page opened as http://user:pass@host/ has a base URL fetch refuses. */
const RPC = `${location.origin}/transmission/rpc`;
const REFRESH_MS = 2000;
const FIELDS = [
  "id",
  "name",
  "totalSize",
  "percentDone",
  "status",
  "error",
  "errorString",
  "rateDownload",
  "rateUpload",
  "peersConnected",
  "uploadRatio",
  "eta",
  "hashString",
  "metadataPercentComplete",
  "labels",
];
/** Transmission's status numbers, 0 to 6. */
const STATES = [
  "Stopped",
  "Waiting to check",
  "Checking",
  "Queued",
  "Downloading",
  "Waiting to seed",
  "Seeding",
];
/** The table's cells after the name: class, heading (the label on a phone's cards). */
const COLUMNS = [
  ["size", "Size"],
  ["progress", "Progress"],
  ["state", "State"],
  ["down", "Down"],
  ["up", "Up"],
  ["peers", "Peers"],
  ["ratio", "Ratio"],
  ["eta", "ETA"],
];

/**
 * @typedef {{ id: number, name: string, totalSize: number, percentDone: number, status: number,
 *   error: number, errorString: string, rateDownload: number, rateUpload: number,
 *   peersConnected: number, uploadRatio: number, eta: number, hashString: string,
 *   metadataPercentComplete: number, labels?: string[] }} Torrent
 */

/** @param {string} id */
const byId = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
const tbody = /** @type {HTMLTableSectionElement} */ (document.querySelector("#torrents tbody"));
const filesList = byId("files-list");
const fileInput = /** @type {HTMLInputElement} */ (byId("torrent-file"));
/** @param {string} id */
const field = (id) => /** @type {HTMLInputElement} */ (byId(id));
const magnetInput = /** @type {HTMLInputElement} */ (byId("magnet"));

let sessionId = "";

/**
 * Calls an RPC method with the session-id handshake (a 409 carries the id to send); resolves
 * with its `arguments`, rejects with the daemon's `result` when that is not "success".
 * @param {string} method
 * @param {Record<string, unknown>} [args]
 * @returns {Promise<Record<string, any>>}
 */
async function rpc(method, args = {}) {
  for (let attempt = 0; attempt < 2; attempt++) {
    const response = await fetch(RPC, {
      method: "POST",
      headers: { "X-Transmission-Session-Id": sessionId, "Content-Type": "application/json" },
      body: JSON.stringify({ method, arguments: args }),
    });
    if (response.status === 409) {
      sessionId = response.headers.get("X-Transmission-Session-Id") ?? "";
      continue;
    }
    if (!response.ok) throw new Error(`${method}: HTTP ${response.status} ${response.statusText}`);
    const reply = await response.json();
    if (reply.result !== "success") throw new Error(`${method}: ${reply.result}`);
    return reply.arguments ?? {};
  }
  throw new Error(`${method}: the daemon keeps refusing the session id`);
}

// ---------------------------------------------------------------------------------------------
// Messages and formats

let refreshFailed = false;

/**
 * Shows a line above the list (an error in red); an empty text hides it.
 * @param {string} text
 * @param {boolean} [error]
 */
function say(text, error = false) {
  const line = byId("message");
  line.textContent = text;
  line.classList.toggle("error", error);
  line.hidden = text === "";
}

/** @param {unknown} e */
const why = (e) => e instanceof Error ? e.message : String(e);

/** @param {number} n */
function bytes(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(n < 10 ? 1 : 0)} ${units[i]}`;
}

/** @param {number} n */
const rate = (n) => n > 0 ? `${bytes(n)}/s` : "–";

/** Never rounds up to 100% before the end. @param {number} fraction */
const percent = (fraction) =>
  fraction >= 1 ? "100%" : `${(Math.floor(fraction * 1000) / 10).toFixed(1)}%`;

const UNITS = /** @type {const} */ ([["d", 86400], ["h", 3600], ["m", 60], ["s", 1]]);

/** The two largest units of a number of seconds: "2h 5m". @param {number} s */
function duration(s) {
  let i = UNITS.findIndex(([, size]) => s >= size);
  if (i < 0) i = UNITS.length - 1;
  const [big, bigSize] = UNITS[i];
  const text = `${Math.floor(s / bigSize)}${big}`;
  if (i === UNITS.length - 1) return text;
  const [small, smallSize] = UNITS[i + 1];
  return `${text} ${Math.floor((s % bigSize) / smallSize)}${small}`;
}

/** A torrent's name; a magnet link's hash (or id) until its metadata comes. @param {Torrent} t */
const nameOf = (t) => t.name || t.hashString || `Torrent ${t.id}`;

/** @param {Torrent} t */
function stateOf(t) {
  if (t.error !== 0) return `Error: ${t.errorString}`;
  if (t.status === 4 && t.metadataPercentComplete < 1) return "Fetching metadata";
  return STATES[t.status] ?? `Status ${t.status}`;
}

// ---------------------------------------------------------------------------------------------
// The list

/**
 * @param {string} tag
 * @param {Record<string, string>} [props]
 * @param {(Node | string)[]} children
 */
function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key.startsWith("data-")) node.setAttribute(key, value);
    else Object.assign(node, { [key]: value });
  }
  node.append(...children);
  return node;
}

/** A new row for torrent `id`: its cells, a progress bar and its buttons. @param {number} id */
function newRow(id) {
  const row = el("tr", { "data-id": String(id) });
  row.append(el(
    "td",
    { className: "name", "data-label": "Name" },
    el("span", { className: "title" }),
    el("span", { className: "labels" }),
  ));
  for (const [name, label] of COLUMNS) {
    row.append(el("td", { className: name, "data-label": label }));
  }
  /** @type {HTMLElement} */ (row.querySelector(".progress")).append(
    el("progress", { max: "1", value: "0" }),
    el("span", { className: "percent" }),
  );
  row.append(el(
    "td",
    { className: "actions" },
    el("button", { type: "button", "data-action": "stop" }, "Pause"),
    el("button", { type: "button", "data-action": "files" }, "Files"),
    el("button", { type: "button", "data-action": "remove", className: "danger" }, "Remove"),
  ));
  return row;
}

/**
 * Sets a cell's text (only when it changed, so selections survive the refresh).
 * @param {HTMLElement} row
 * @param {string} cell
 * @param {string} text
 */
function setText(row, cell, text) {
  const node = /** @type {HTMLElement} */ (row.querySelector(`.${cell}`));
  if (node.textContent !== text) node.textContent = text;
}

/** @param {HTMLElement} row @param {Torrent} t */
function fill(row, t) {
  const name = nameOf(t);
  row.dataset.name = name;
  row.dataset.status = String(t.status);
  row.classList.toggle("failed", t.error !== 0);
  setText(row, "title", name);
  setText(row, "labels", (t.labels ?? []).join(" · "));
  setText(row, "size", t.totalSize > 0 ? bytes(t.totalSize) : "–");
  const bar = /** @type {HTMLProgressElement} */ (row.querySelector("progress"));
  const done = t.metadataPercentComplete < 1 ? t.metadataPercentComplete : t.percentDone;
  bar.value = done;
  setText(row, "percent", percent(done));
  setText(row, "state", stateOf(t));
  setText(row, "down", rate(t.rateDownload));
  setText(row, "up", rate(t.rateUpload));
  setText(row, "peers", String(t.peersConnected));
  setText(row, "ratio", t.uploadRatio < 0 ? "–" : t.uploadRatio.toFixed(2));
  setText(row, "eta", t.eta > 0 && t.percentDone < 1 ? duration(t.eta) : "–");
  const toggle = /** @type {HTMLElement} */ (row.querySelector(".actions button"));
  const stopped = t.status === 0;
  toggle.dataset.action = stopped ? "start" : "stop";
  toggle.textContent = stopped ? "Resume" : "Pause";
}

/**
 * Brings the table to `torrents`: rows in id order, each kept (and its buttons) while it lasts.
 * @param {Torrent[]} torrents
 */
function render(torrents) {
  const rows = new Map(
    [...tbody.rows].map((row) => [Number(row.dataset.id), row]),
  );
  const ids = new Set(torrents.map((t) => t.id));
  for (const [id, row] of rows) if (!ids.has(id)) row.remove();
  let previous = null;
  for (const t of [...torrents].sort((a, b) => a.id - b.id)) {
    const row = rows.get(t.id) ?? newRow(t.id);
    fill(row, t);
    if (row.previousElementSibling !== previous || !row.isConnected) {
      if (previous) previous.after(row);
      else tbody.prepend(row);
    }
    previous = row;
  }
  byId("torrents").hidden = torrents.length === 0;
  byId("empty").hidden = torrents.length !== 0;
  if (filesOf !== null && !ids.has(filesOf)) closeFiles();
  markFilesButtons();
}

/** @param {Record<string, any>} s */
function showStats(s) {
  const now = s["current-stats"] ?? {};
  const count = s.torrentCount === 1 ? "1 torrent" : `${s.torrentCount} torrents`;
  const speeds = `↓ ${bytes(s.downloadSpeed)}/s ↑ ${bytes(s.uploadSpeed)}/s`;
  const totals = `${bytes(now.downloadedBytes ?? 0)} down, ${bytes(now.uploadedBytes ?? 0)} up`;
  byId("stats").textContent = `${count}, ${s.activeTorrentCount} active, ` +
    `${s.pausedTorrentCount} paused · ${speeds} · this session ${totals}`;
}

/** Switches the alternative speed limits on and off; the refresh shows which apply. */
const turtle = byId("turtle");
turtle.addEventListener("click", async () => {
  const on = turtle.getAttribute("aria-pressed") !== "true";
  try {
    await rpc("session-set", { "alt-speed-enabled": on });
    turtle.setAttribute("aria-pressed", String(on));
    say(on ? "Turtle mode on: the alternative speed limits apply" : "Turtle mode off");
  } catch (e) {
    say(why(e), true);
  }
});

/** @type {ReturnType<typeof setTimeout> | undefined} */
let timer;
let busy = false, again = false;

/** Fetches the list, the totals and the open files panel; then again in two seconds. */
async function refresh() {
  clearTimeout(timer);
  if (busy) {
    again = true;
    return;
  }
  busy = true;
  try {
    const [list, stats, session] = await Promise.all([
      rpc("torrent-get", { fields: FIELDS }),
      rpc("session-stats"),
      rpc("session-get", { fields: ["alt-speed-enabled"] }),
    ]);
    render(list.torrents);
    showStats(stats);
    turtle.setAttribute("aria-pressed", String(session["alt-speed-enabled"] === true));
    if (filesOf !== null) await refreshFiles();
    if (refreshFailed) say("");
    refreshFailed = false;
  } catch (e) {
    refreshFailed = true;
    say(`Cannot reach the daemon: ${why(e)}`, true);
  } finally {
    busy = false;
    if (again) {
      again = false;
      refresh();
    } else {
      timer = setTimeout(refresh, REFRESH_MS);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Adding

/** Says what `torrent-add` answered. @param {Record<string, any>} reply */
function added(reply) {
  const t = reply["torrent-added"] ?? reply["torrent-duplicate"];
  say(reply["torrent-added"] ? `Added ${t.name}` : `Already in the list: ${t.name}`);
  refresh();
}

/** @param {Uint8Array} data */
function base64(data) {
  let text = "";
  for (let i = 0; i < data.length; i += 0x8000) {
    text += String.fromCharCode(...data.subarray(i, i + 0x8000));
  }
  return btoa(text);
}

byId("add").addEventListener("submit", async (event) => {
  event.preventDefault();
  const link = magnetInput.value.trim();
  if (link === "") return say("Paste a magnet link first.", true);
  try {
    added(await rpc("torrent-add", { filename: link }));
    magnetInput.value = "";
  } catch (e) {
    say(why(e), true);
  }
});

fileInput.addEventListener("change", async () => {
  for (const file of fileInput.files ?? []) {
    try {
      const metainfo = base64(new Uint8Array(await file.arrayBuffer()));
      added(await rpc("torrent-add", { metainfo }));
    } catch (e) {
      say(`${file.name}: ${why(e)}`, true);
    }
  }
  fileInput.value = "";
});

// ---------------------------------------------------------------------------------------------
// The buttons of a row

tbody.addEventListener("click", async (event) => {
  const button = /** @type {HTMLElement} */ (event.target).closest("button[data-action]");
  const row = button?.closest("tr");
  if (!(button instanceof HTMLButtonElement) || !row) return;
  const id = Number(row.dataset.id), name = row.dataset.name ?? "";
  const action = button.dataset.action;
  if (action === "files") return filesOf === id ? closeFiles() : openFiles(id);
  button.disabled = true;
  try {
    if (action === "stop") await rpc("torrent-stop", { ids: [id] });
    if (action === "start") await rpc("torrent-start", { ids: [id] });
    if (action === "remove") {
      if (!confirm(`Remove “${name}” from the list?`)) return;
      const deleteData = confirm(
        `Also delete the downloaded data of “${name}”?\n\nOK deletes its files; Cancel keeps them.`,
      );
      await rpc("torrent-remove", { ids: [id], "delete-local-data": deleteData });
      say(`Removed ${name}${deleteData ? " and deleted its data" : ""}`);
    }
    refresh();
  } catch (e) {
    say(why(e), true);
  } finally {
    button.disabled = false;
  }
});

// ---------------------------------------------------------------------------------------------
// The files panel

/** The torrent whose files are shown, or null. @type {number | null} */
let filesOf = null;
/** Counts the checkbox changes, so a list fetched before one does not undo it. */
let filesChanges = 0;

/** @param {number} id */
function openFiles(id) {
  filesOf = id;
  filesList.replaceChildren();
  byId("files-title").textContent = "Files";
  byId("files").hidden = false;
  byId("files").dataset.id = String(id);
  markFilesButtons();
  refresh();
  loadForms(id, { limits: true, location: true }).catch((e) => say(why(e), true));
}

/** The open torrent's place at the session's limits. */
const priority = /** @type {HTMLSelectElement} */ (byId("t-priority"));

/**
 * Fills the open torrent's forms as the daemon has them: its limits (a limit that is off, and a
 * ratio that follows the session's, show as empty fields), its location, or both. A save reads
 * back its own form only, so what is being typed in the other is kept.
 * @param {number} id
 * @param {{ limits: boolean, location: boolean }} which
 */
async function loadForms(id, which) {
  const { torrents } = await rpc("torrent-get", {
    ids: [id],
    fields: [
      "downloadLimit",
      "downloadLimited",
      "uploadLimit",
      "uploadLimited",
      "seedRatioLimit",
      "seedRatioMode",
      "bandwidthPriority",
      "sequentialDownload",
      "downloadDir",
    ],
  });
  const t = torrents[0];
  if (!t || filesOf !== id) return;
  if (which.limits) {
    field("t-down").value = t.downloadLimited ? String(t.downloadLimit) : "";
    field("t-up").value = t.uploadLimited ? String(t.uploadLimit) : "";
    field("t-ratio").value = t.seedRatioMode === 1 ? String(t.seedRatioLimit) : "";
    priority.value = String(t.bandwidthPriority);
    field("t-sequential").checked = t.sequentialDownload === true;
  }
  if (which.location) field("t-location").value = t.downloadDir;
}

byId("torrent-location").addEventListener("submit", async (event) => {
  event.preventDefault();
  const id = filesOf;
  if (id === null) return;
  const location = field("t-location").value.trim(), move = field("t-move").checked;
  const what = move ? "Move its data to" : "Look for its data in";
  if (!confirm(`${what} ${location}?`)) return;
  try {
    await rpc("torrent-set-location", { ids: [id], location, move });
    say(move ? `Moved to ${location}` : `Looking for the data in ${location}`);
  } catch (e) {
    say(why(e), true);
  }
  await loadForms(id, { limits: false, location: true }).catch(() => {});
});

byId("torrent-limits").addEventListener("submit", async (event) => {
  event.preventDefault();
  const id = filesOf;
  if (id === null) return;
  /** @param {string} name */
  const text = (name) => field(name).value.trim();
  const down = text("t-down"), up = text("t-up"), ratio = text("t-ratio");
  try {
    await rpc("torrent-set", {
      ids: [id],
      downloadLimited: down !== "",
      ...(down === "" ? {} : { downloadLimit: Number(down) }),
      uploadLimited: up !== "",
      ...(up === "" ? {} : { uploadLimit: Number(up) }),
      seedRatioMode: ratio === "" ? 0 : 1,
      ...(ratio === "" ? {} : { seedRatioLimit: Number(ratio) }),
      bandwidthPriority: Number(priority.value),
      // Sent unchanged, it changes nothing; changed, a running torrent reopens with it.
      sequentialDownload: field("t-sequential").checked,
    });
    // Read back before saying so: a field changed after the message is not overwritten.
    await loadForms(id, { limits: true, location: false }).catch(() => {});
    say("Limits saved");
  } catch (e) {
    say(why(e), true);
  }
});

function closeFiles() {
  filesOf = null;
  byId("files").hidden = true;
  markFilesButtons();
}

/** Shows which row's files are open. */
function markFilesButtons() {
  for (const row of tbody.rows) {
    const pressed = String(filesOf !== null && row.dataset.id === String(filesOf));
    row.querySelector("[data-action=files]")?.setAttribute("aria-pressed", pressed);
  }
}

/**
 * Shows the open panel's files: a checkbox each (wanted or not), name, size, done, and a link
 * that streams it.
 */
async function refreshFiles() {
  const id = filesOf, changes = filesChanges;
  const { torrents } = await rpc("torrent-get", {
    ids: [id],
    fields: ["id", "name", "hashString", "files", "wanted"],
  });
  const t = torrents[0];
  if (filesOf !== id || !t) return;
  byId("files-title").textContent = `Files of ${nameOf(t)}`;
  /** @type {{ name: string, length: number, bytesCompleted: number }[]} */
  const files = t.files;
  byId("files-note").hidden = files.length > 0;
  if (filesList.children.length !== files.length) {
    filesList.replaceChildren(...files.map((_, i) =>
      el(
        "li",
        {},
        el(
          "label",
          {},
          el("input", { type: "checkbox", "data-index": String(i) }),
          el("span", { className: "file-name" }),
          el("span", { className: "file-done" }),
        ),
        // The daemon serves a running torrent's file as it arrives, what it needs next first.
        el("a", { className: "file-stream", target: "_blank", rel: "noopener" }, "Stream"),
      )
    ));
  }
  files.forEach((file, i) => {
    const item = /** @type {HTMLElement} */ (filesList.children[i]);
    const box = /** @type {HTMLInputElement} */ (item.querySelector("input"));
    if (changes === filesChanges && !box.disabled) box.checked = t.wanted[i] !== 0;
    setText(item, "file-name", file.name);
    const done = file.length > 0 ? file.bytesCompleted / file.length : 1;
    setText(item, "file-done", `${bytes(file.length)}, ${percent(done)}`);
    const stream = /** @type {HTMLAnchorElement} */ (item.querySelector(".file-stream"));
    stream.href = `${location.origin}/stream/${encodeURIComponent(t.hashString)}/${i}`;
  });
}

filesList.addEventListener("change", async (event) => {
  const box = /** @type {HTMLInputElement} */ (event.target);
  const id = filesOf, index = Number(box.dataset.index);
  if (id === null || !Number.isInteger(index)) return;
  filesChanges++;
  box.disabled = true;
  try {
    await rpc("torrent-set", {
      ids: [id],
      [box.checked ? "files-wanted" : "files-unwanted"]: [index],
    });
  } catch (e) {
    box.checked = !box.checked;
    say(why(e), true);
  } finally {
    box.disabled = false;
  }
  refresh();
});

byId("files-close").addEventListener("click", closeFiles);

// ---------------------------------------------------------------------------------------------
// Settings: the session's folder, limits and ways to peers, read when the panel opens

const settings = /** @type {HTMLDetailsElement} */ (byId("settings"));
const encryption = /** @type {HTMLSelectElement} */ (byId("set-encryption"));

/** Fills the form from `session-get`; a limit that is off shows as an empty field. */
async function loadSettings() {
  const s = await rpc("session-get");
  field("set-dir").value = s["download-dir"];
  field("set-incomplete").value = s["incomplete-dir-enabled"] ? s["incomplete-dir"] : "";
  field("set-down").value = s["speed-limit-down-enabled"] ? String(s["speed-limit-down"]) : "";
  field("set-up").value = s["speed-limit-up-enabled"] ? String(s["speed-limit-up"]) : "";
  field("set-alt-down").value = s["alt-speed-down"] ? String(s["alt-speed-down"]) : "";
  field("set-alt-up").value = s["alt-speed-up"] ? String(s["alt-speed-up"]) : "";
  field("set-queue").value = String(s["download-queue-size"]);
  field("set-peers").value = String(s["peer-limit-per-torrent"]);
  field("set-global").value = String(s["peer-limit-global"]);
  field("set-ratio").value = s.seedRatioLimited ? String(s.seedRatioLimit) : "";
  field("set-blocklist").value = s["blocklist-url"] ?? "";
  field("set-blocklist-on").checked = s["blocklist-enabled"] === true;
  byId("blocklist-size").textContent = s["blocklist-size"]
    ? `(${s["blocklist-size"]} address ranges)`
    : "";
  encryption.value = s.encryption;
  field("set-dht").checked = s["dht-enabled"] === true;
  field("set-utp").checked = s["utp-enabled"] === true;
  field("set-pex").checked = s["pex-enabled"] === true;
}

settings.addEventListener("toggle", () => {
  if (settings.open) loadSettings().catch((e) => say(why(e), true));
});

byId("settings-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  /**
   * A limit left empty is off.
   * @param {string} id
   * @param {string} key
   */
  const optional = (id, key) => {
    const text = field(id).value.trim();
    return text === ""
      ? { [`${key}-enabled`]: false }
      : { [`${key}-enabled`]: true, [key]: Number(text) };
  };
  const ratio = field("set-ratio").value.trim();
  const incomplete = field("set-incomplete").value.trim();
  try {
    await rpc("session-set", {
      "download-dir": field("set-dir").value,
      // Empty is off, the folder last named kept.
      "incomplete-dir-enabled": incomplete !== "",
      ...(incomplete === "" ? {} : { "incomplete-dir": incomplete }),
      ...optional("set-down", "speed-limit-down"),
      ...optional("set-up", "speed-limit-up"),
      // Turtle mode's limits; empty is none (0), as for the usual ones.
      "alt-speed-down": Number(field("set-alt-down").value.trim()),
      "alt-speed-up": Number(field("set-alt-up").value.trim()),
      "download-queue-size": Number(field("set-queue").value),
      "peer-limit-per-torrent": Number(field("set-peers").value),
      "peer-limit-global": Number(field("set-global").value),
      seedRatioLimited: ratio !== "",
      ...(ratio === "" ? {} : { seedRatioLimit: Number(ratio) }),
      encryption: encryption.value,
      // Sent as they were, these change nothing (the port is bound again only on a change).
      "dht-enabled": field("set-dht").checked,
      "utp-enabled": field("set-utp").checked,
      "pex-enabled": field("set-pex").checked,
      "blocklist-url": field("set-blocklist").value.trim(),
      "blocklist-enabled": field("set-blocklist-on").checked,
    });
    // Read back before saying so: a field changed after the message is not overwritten.
    await loadSettings().catch(() => {});
    say("Settings saved");
  } catch (e) {
    say(why(e), true);
  }
});

byId("blocklist-update").addEventListener("click", async () => {
  try {
    // The address in the field is the one fetched: it is saved first.
    await rpc("session-set", { "blocklist-url": field("set-blocklist").value.trim() });
    const reply = await rpc("blocklist-update");
    await loadSettings().catch(() => {});
    say(`Blocklist updated: ${reply["blocklist-size"]} address ranges`);
  } catch (e) {
    say(why(e), true);
  }
});

refresh();
