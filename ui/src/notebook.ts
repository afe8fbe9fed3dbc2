// The notebook view: a live replica of the server's document (y-websocket),
// cells in Jupyter's command and edit modes, and execution over REST.
import * as decoding from "lib0/decoding";
import * as encoding from "lib0/encoding";
import * as syncProtocol from "y-protocols/sync";
import { WebsocketProvider } from "y-websocket";
import * as Y from "yjs";
import { api, contentsUrl, encodePath, notebookUrl } from "./api";
import type { ContentsModel, Environment, NotebookStatus } from "./api";
import { CellView } from "./cell";
import type { CellType } from "./cell";
import { clear, download, h, toast } from "./dom";
import { KernelChannel } from "./kernel";
import { cellToY } from "./ycells";
import type { CellJson } from "./ycells";
import { chooseOptions } from "./environments";
import { exportHtml } from "./export";
import { breadcrumbs } from "./browser";

const LOCAL = Symbol("adrastea-local");
const COLORS = ["#d9480f", "#2b8a3e", "#1971c2", "#9c36b5", "#e67700", "#0c8599", "#c2255c"];

type Mode = "command" | "edit";

export class NotebookView {
  readonly doc = new Y.Doc();
  readonly ycells = this.doc.getArray<Y.Map<unknown>>("cells");
  readonly meta = this.doc.getMap<unknown>("meta");
  readonly provider: WebsocketProvider;
  get awareness() {
    return this.provider.awareness;
  }
  cells: CellView[] = [];
  private byY = new WeakMap<object, CellView>();
  private byEl = new WeakMap<Element, CellView>();
  private mountQueue = new Set<CellView>();
  private mountTimer = 0;
  active = 0;
  /** The other end of a multi-cell selection (Shift-J/K); equal to ``active`` when one cell is selected. */
  anchor = 0;
  mode: Mode = "command";
  status: NotebookStatus | null = null;
  private environments: Environment[] = [];
  private channel: KernelChannel | null = null;
  private cellUndo: Y.UndoManager;
  private observer: IntersectionObserver;
  private list: HTMLElement;
  private banner: HTMLElement;
  private kernelPill: HTMLElement;
  private connPill: HTMLElement;
  private savePill: HTMLElement;
  private envSelect: HTMLSelectElement;
  private jobInfo: HTMLElement;
  private typeSelect: HTMLSelectElement;
  private pendingD = 0;
  private pendingI = 0;
  private pending0 = 0;
  private everConnected = false;
  private synced = false;
  private sessionId: string | null = null;
  private pollFailures = 0;
  private statusTimer = 0;
  private language = "";

  constructor(
    readonly root: HTMLElement,
    public path: string,
  ) {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    this.provider = new WebsocketProvider(`${scheme}//${location.host}/api/documents`, encodePath(path), this.doc, {
      connect: false,
      params: {},
      disableBc: true,
    });
    this.cellUndo = new Y.UndoManager(this.ycells, { trackedOrigins: new Set([LOCAL]), captureTimeout: 0 });
    this.observer = new IntersectionObserver(
      (entries) => {
        for (const entry of entries) {
          if (!entry.isIntersecting) continue;
          const view = this.cellOf(entry.target);
          if (view) {
            this.mountQueue.add(view);
            this.observer.unobserve(entry.target);
          }
        }
        this.scheduleMounts();
      },
      { rootMargin: "600px 0px" },
    );
    this.kernelPill = h("span", { class: "pill", role: "status", "aria-label": "kernel status", text: "kernel: none" });
    this.connPill = h("span", { class: "pill", role: "status", "aria-label": "connection status", text: "connecting…" });
    this.savePill = h("span", { class: "pill subtle", "aria-label": "save status" });
    this.envSelect = h("select", { "aria-label": "environment", class: "env-select" });
    this.jobInfo = h("span", { class: "job-info" });
    this.typeSelect = h(
      "select",
      { "aria-label": "cell type", onchange: () => this.setType(this.typeSelect.value as CellType) },
      h("option", { value: "code", text: "Code" }),
      h("option", { value: "markdown", text: "Markdown" }),
      h("option", { value: "raw", text: "Raw" }),
    );
    this.banner = h("div", { class: "banner", role: "alert", hidden: true });
    this.list = h("main", { class: "cells", tabindex: 0, "aria-label": "notebook cells" });
    this.root.replaceChildren(this.header(), this.toolbar(), this.banner, this.list);
    this.list.addEventListener("keydown", (e) => this.onCommandKey(e));
    document.title = `${path.split("/").pop()} – Adrastea`;
  }

  private header(): HTMLElement {
    const name = h("button", {
      class: "notebook-name",
      title: "Rename notebook",
      "aria-label": "rename notebook",
      text: this.path.split("/").pop() || this.path,
      onclick: () => void this.rename(),
    });
    return h(
      "header",
      { class: "topbar" },
      h("a", { class: "brand", href: "/tree/", "aria-label": "Adrastea home", text: "Adrastea" }),
      breadcrumbs(this.path.split("/").slice(0, -1).join("/")),
      name,
      this.savePill,
      h("span", { class: "spacer" }),
      h("label", { class: "env" }, h("span", { text: "Kernel" }), this.envSelect),
      h("button", { class: "btn", type: "button", text: "Restart in…", onclick: () => void this.restartIn() }),
      this.jobInfo,
      this.kernelPill,
      this.connPill,
    );
  }

  private toolbar(): HTMLElement {
    const b = (label: string, text: string, fn: () => void, title = label) =>
      h("button", { class: "btn", type: "button", "aria-label": label, title, text, onclick: fn });
    const menu = (label: string, items: [string, () => void][]) => {
      const select = h("select", { "aria-label": label, class: "menu" }, h("option", { value: "", text: label }));
      items.forEach(([text], i) => select.append(h("option", { value: String(i), text })));
      select.addEventListener("change", () => {
        const item = items[Number(select.value)];
        select.value = "";
        if (item) item[1]();
      });
      return select;
    };
    return h(
      "nav",
      { class: "toolbar", "aria-label": "notebook toolbar" },
      b("Save", "Save", () => void this.save(), "Save (Ctrl-S)"),
      b("Insert cell below", "+", () => this.insert(this.active + 1, "code"), "Insert cell below (B)"),
      b("Cut cell", "Cut", () => this.cut(), "Cut (X)"),
      b("Copy cell", "Copy", () => this.copy(), "Copy (C)"),
      b("Paste cell below", "Paste", () => this.paste(1), "Paste below (V)"),
      b("Move cell up", "↑", () => this.move(-1)),
      b("Move cell down", "↓", () => this.move(1)),
      h("span", { class: "sep" }),
      b("Run cell", "▶ Run", () => this.runAndAdvance(this.cells[this.active]), "Run and advance (Shift-Enter)"),
      b("Interrupt kernel", "■ Stop", () => void this.interrupt(), "Interrupt (I, I)"),
      b("Restart kernel", "↻ Restart", () => void this.restart(false), "Restart (0, 0)"),
      b("Restart kernel and run all cells", "↻ Run all", () => void this.restart(true)),
      menu("Run…", [
        ["Run all cells", () => void this.runAll()],
        ["Run all above", () => void this.runRange(0, this.active)],
        ["Run selected and below", () => void this.runRange(this.active, this.cells.length)],
        ["Clear the queue", () => void api("DELETE", notebookUrl(this.path, "queue"))],
      ]),
      this.typeSelect,
      h("span", { class: "spacer" }),
      menu("File…", [
        ["Create checkpoint", () => void this.checkpoint()],
        ["Restore checkpoint…", () => void this.restoreCheckpoint()],
        ["Download .ipynb", () => void this.downloadIpynb()],
        ["Download as HTML", () => void this.downloadHtml()],
        ["Rename…", () => void this.rename()],
      ]),
    );
  }

  // -- connection ------------------------------------------------------------

  async start(): Promise<void> {
    performance.mark("adrastea:start");
    // One deep observer for the whole notebook: cheaper than one per cell.
    this.ycells.observeDeep((events) => {
      for (const event of events) {
        if (event.target === this.ycells) {
          this.onCellsChanged(event as Y.YArrayEvent<Y.Map<unknown>>);
          continue;
        }
        let type: Y.AbstractType<unknown> | null = event.target;
        while (type && type.parent !== this.ycells) type = type.parent as Y.AbstractType<unknown> | null;
        const view = type ? this.byY.get(type) : undefined;
        if (view) view.onYEvent(event);
      }
    });
    this.meta.observeDeep(() => this.onMetaChanged());
    this.provider.on("status", ({ status }) => this.onConnection(status));
    this.provider.on("status", ({ status }) => status === "connected" && performance.mark("adrastea:connected"));
    this.provider.on("sync", (synced: boolean) => {
      if (synced && !this.synced) {
        this.synced = true;
        performance.mark("adrastea:synced");
        this.list.setAttribute("aria-busy", "false");
        this.root.dataset.synced = "true";
        if (!this.cells.length) this.insert(0, "code");
        else this.select(0, { mode: "command", scroll: false });
      }
    });
    this.provider.on("closed", (event: { code: number }) => {
      if (event.code === 4409) {
        this.showBanner("The server rebuilt this notebook (for example after a restore); reloading…", "warn");
        setTimeout(() => location.reload(), 800);
      }
    });
    const color = COLORS[Math.floor(Math.random() * COLORS.length)];
    const name = sessionStorage.getItem("adrastea-name") || `User ${Math.floor(Math.random() * 900 + 100)}`;
    sessionStorage.setItem("adrastea-name", name);
    this.awareness.setLocalStateField("user", { name, color, colorLight: `${color}33` });
    this.awareness.on("change", () => this.showPeers());
    this.list.setAttribute("aria-busy", "true");
    // The first connection needs no session id; later ones (reconnects) send
    // the one the status names, so a rebuilt document is refused with 4409.
    this.provider.connect();
    await this.poll();
    void this.loadEnvironments();
    window.setInterval(() => void this.poll(), 1000);
    window.setInterval(() => this.cells.forEach((c) => c.runningSince !== null && c.tick()), 200);
    window.addEventListener("beforeunload", () => this.provider.disconnect());
  }

  private onConnection(status: string): void {
    this.connPill.textContent = status === "connected" ? "connected" : status === "connecting" ? "connecting…" : "offline";
    this.connPill.dataset.state = status;
    if (status === "connected") {
      if (this.everConnected) {
        this.showBanner("Reconnected. The server kept running; you see its current notebook.", "ok");
        setTimeout(() => this.hideBanner("ok"), 5000);
      }
      this.everConnected = true;
    } else if (status === "disconnected" && this.everConnected) {
      this.showBanner("Connection to the server lost; reconnecting… Cells keep running on the server.", "warn");
    }
  }

  private showBanner(text: string, kind: "ok" | "warn"): void {
    this.banner.textContent = text;
    this.banner.dataset.kind = kind;
    this.banner.hidden = false;
  }

  private hideBanner(kind: "ok" | "warn"): void {
    if (this.banner.dataset.kind === kind) this.banner.hidden = true;
  }

  /** Resolve once the server has applied every local update sent so far. */
  barrier(timeout = 3000): Promise<void> {
    const ws = this.provider.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        ws.removeEventListener("message", onMessage);
        resolve();
      };
      const onMessage = (event: MessageEvent) => {
        if (!(event.data instanceof ArrayBuffer)) return;
        const decoder = decoding.createDecoder(new Uint8Array(event.data));
        // SYNC (0) then SYNC_STEP2 (1): the server's answer to our step 1 below,
        // sent after every earlier message of ours was applied.
        if (decoding.readVarUint(decoder) === 0 && decoding.readVarUint(decoder) === 1) done();
      };
      const timer = setTimeout(done, timeout);
      ws.addEventListener("message", onMessage);
      const encoder = encoding.createEncoder();
      encoding.writeVarUint(encoder, 0);
      syncProtocol.writeSyncStep1(encoder, this.doc);
      ws.send(encoding.toUint8Array(encoder));
    });
  }

  private async poll(): Promise<void> {
    try {
      const status = await api<NotebookStatus>("GET", notebookUrl(this.path, "status"));
      this.pollFailures = 0;
      if (this.banner.dataset.kind === "server") this.banner.hidden = true;
      if (status.session_id !== this.sessionId) {
        this.sessionId = status.session_id;
        this.provider.params = { session: status.session_id };
      }
      this.applyStatus(status);
    } catch (err) {
      this.pollFailures++;
      if (this.pollFailures === 3) {
        this.banner.textContent = `The server does not answer (${(err as Error).message}); retrying…`;
        this.banner.dataset.kind = "server";
        this.banner.hidden = false;
      }
    }
  }

  private applyStatus(status: NotebookStatus): void {
    const previous = this.status;
    this.status = status;
    const state = status.kernel?.execution_state || (status.kernel ? "unknown" : "no kernel");
    this.kernelPill.textContent = `kernel: ${state}`;
    this.kernelPill.dataset.state = state;
    this.savePill.textContent = status.conflict ? "file changed on disk" : status.dirty ? "unsaved changes" : "saved";
    this.savePill.dataset.state = status.conflict ? "conflict" : status.dirty ? "dirty" : "saved";
    const job = status.job;
    this.jobInfo.textContent = job
      ? `job ${job.job_id}${job.state ? ` ${job.state}` : ""}${job.node ? ` on ${job.node}` : ""}${job.time_left ? `, ${job.time_left} left` : ""}`
      : "";
    this.syncEnvSelect();
    if (this.channel && this.channel.kernelId !== status.kernel?.id) {
      this.channel.close();
      this.channel = null;
    }
    const running = status.running ? this.cells.find((c) => c.id === status.running) : undefined;
    // The server knows when the cell really started (this page may have opened later).
    const since = running ? this.serverStartOf(running.id) : null;
    if (running && since !== null) running.startedAt(since);
    for (const cell of this.cells) if (cell !== running) cell.showInput(null);
    if (running && status.pending_input) {
      running.mount();
      running.showInput(status.pending_input);
    }
    if (previous?.kernel?.id && status.kernel?.id && previous.kernel.id !== status.kernel.id) {
      toast("The kernel was restarted");
    }
  }

  /** When the server started running cell ``id`` (ms since the epoch), if it says so. */
  serverStartOf(id: string): number | null {
    const status = this.status;
    if (!status || status.running !== id || !status.running_since) return null;
    const time = Date.parse(status.running_since);
    return Number.isFinite(time) ? time : null;
  }

  kernelChannel(): KernelChannel | null {
    const id = this.status?.kernel?.id;
    if (!id) return null;
    if (!this.channel || this.channel.kernelId !== id) this.channel = new KernelChannel(id);
    return this.channel;
  }

  /** The language of code cells: the kernel's, from the notebook's metadata. */
  codeLanguage(): string {
    const metadata = this.meta.get("metadata");
    const md = (metadata instanceof Y.Map ? metadata.toJSON() : metadata || {}) as CellJson;
    return md.language_info?.name || md.kernelspec?.language || "python";
  }

  /** The metadata changed (say, "Restart in…" another kernel): follow its language. */
  private onMetaChanged(): void {
    const language = this.codeLanguage();
    if (language === this.language) return;
    this.language = language;
    for (const cell of this.cells) if (cell.type === "code") cell.refreshLanguage();
  }

  // -- cells -----------------------------------------------------------------

  private cellOf(el: Element): CellView | undefined {
    return this.byEl.get(el);
  }

  /** Mount queued cells in slices of ~10 ms, so input is never blocked for long. */
  private scheduleMounts(): void {
    if (this.mountTimer || !this.mountQueue.size) return;
    this.mountTimer = window.setTimeout(() => {
      this.mountTimer = 0;
      const started = performance.now();
      const order = [...this.mountQueue].sort((a, b) => this.cells.indexOf(a) - this.cells.indexOf(b));
      for (const cell of order) {
        this.mountQueue.delete(cell);
        if (cell.el.isConnected) cell.mount();
        if (performance.now() - started > 10) break;
      }
      if (!this.root.dataset.mounted) {
        this.root.dataset.mounted = "true";
        performance.mark("adrastea:first-mounted");
      }
      this.scheduleMounts();
    }, 0);
  }

  private onCellsChanged(event: Y.YArrayEvent<Y.Map<unknown>>): void {
    performance.mark("adrastea:cells-start");
    let index = 0;
    const activeCell = this.cells[this.active];
    const anchorCell = this.cells[this.anchor];
    for (const delta of event.changes.delta) {
      if (delta.retain) index += delta.retain;
      if (delta.delete) {
        const removed = this.cells.splice(index, delta.delete);
        for (const cell of removed) {
          this.observer.unobserve(cell.el);
          this.mountQueue.delete(cell);
          cell.destroy();
        }
      }
      if (delta.insert) {
        const inserted = (delta.insert as Y.Map<unknown>[]).map((y) => {
          const view = new CellView(this, y);
          this.byY.set(y, view);
          this.byEl.set(view.el, view);
          return view;
        });
        const before = this.cells[index]?.el ?? null;
        const fragment = document.createDocumentFragment();
        for (const cell of inserted) fragment.append(cell.el);
        this.list.insertBefore(fragment, before);
        this.cells.splice(index, 0, ...inserted);
        for (const cell of inserted) this.observer.observe(cell.el);
        index += inserted.length;
      }
    }
    const keep = activeCell ? this.cells.indexOf(activeCell) : -1;
    this.active = Math.max(0, Math.min(keep >= 0 ? keep : this.active, this.cells.length - 1));
    const anchor = anchorCell ? this.cells.indexOf(anchorCell) : -1;
    this.anchor = anchor >= 0 ? anchor : this.active;
    this.markActive();
    this.showPeers();
    performance.mark("adrastea:cells-end");
  }

  private markActive(): void {
    const [from, to] = this.selectedRange();
    const many = to - from > 1;
    this.cells.forEach((c, i) => {
      const on = i === this.active;
      c.el.classList.toggle("active", on);
      c.el.classList.toggle("editing", on && this.mode === "edit");
      c.el.classList.toggle("selected", many && i >= from && i < to);
    });
    const cell = this.cells[this.active];
    if (cell) this.typeSelect.value = cell.type;
    this.awareness.setLocalStateField("cell", cell?.id ?? null);
  }

  private showPeers(): void {
    const byCell = new Map<string, { name: string; color: string }[]>();
    this.awareness.getStates().forEach((state, client) => {
      if (client === this.doc.clientID || !state.cell || !state.user) return;
      const list = byCell.get(state.cell) || [];
      list.push({ name: String(state.user.name), color: String(state.user.color) });
      byCell.set(state.cell, list);
    });
    for (const cell of this.cells) cell.showPeers(byCell.get(cell.id) || []);
  }

  /** The selected cells as indices ``[from, to)``: from the anchor to the active cell. */
  selectedRange(): [number, number] {
    const last = this.cells.length - 1;
    const anchor = Math.max(0, Math.min(this.anchor, last));
    return [Math.min(anchor, this.active), Math.max(anchor, this.active) + 1];
  }

  /** The selected cells, in order (just the active one unless Shift-J/K extended the selection). */
  selectedCells(): CellView[] {
    if (!this.cells.length) return [];
    return this.cells.slice(...this.selectedRange());
  }

  /**
   * Make cell ``target`` the active one; ``extend`` keeps the anchor, so the
   * selection runs from there to ``target`` (Shift-J/K, Shift-click).
   */
  select(
    target: CellView | number,
    opts: { mode?: Mode; focus?: boolean; scroll?: boolean; extend?: boolean } = {},
  ): void {
    const index = typeof target === "number" ? target : this.cells.indexOf(target);
    if (index < 0 || index >= this.cells.length) return;
    const previous = this.cells[this.active];
    this.active = index;
    if (opts.mode) this.mode = opts.mode;
    // Edit mode works on one cell: the selection collapses.
    if (!opts.extend || this.mode === "edit") this.anchor = index;
    const cell = this.cells[index];
    if (previous && previous !== cell && previous.type === "markdown" && previous.editing) previous.setEditing(false);
    this.markActive();
    if (opts.scroll !== false) cell.el.scrollIntoView({ block: "nearest" });
    if (opts.focus === false) return;
    if (this.mode === "edit") cell.focusEditor();
    else this.list.focus({ preventScroll: true });
  }

  edit(cell: CellView): void {
    this.select(cell, { mode: "edit" });
  }

  commandMode(): void {
    const cell = this.cells[this.active];
    this.mode = "command";
    cell?.hideTooltip();
    this.markActive();
    this.list.focus({ preventScroll: true });
  }

  moveEditing(cell: CellView, step: number): boolean {
    const index = this.cells.indexOf(cell) + step;
    if (index < 0 || index >= this.cells.length) return false;
    this.select(index, { mode: "edit" });
    this.cells[index].focusEditor(step > 0 ? "start" : "end");
    return true;
  }

  private transact(fn: () => void): void {
    this.doc.transact(fn, LOCAL);
  }

  insert(index: number, type: CellType, source = ""): CellView {
    this.transact(() => this.ycells.insert(index, [cellToY({ cell_type: type, source })]));
    const cell = this.cells[index];
    this.select(index, { mode: "edit" });
    return cell;
  }

  private deleteSelected(): void {
    if (!this.cells.length) return;
    const [from, to] = this.selectedRange();
    this.transact(() => this.ycells.delete(from, to - from));
    if (!this.cells.length) this.insert(0, "code");
    this.select(Math.min(from, this.cells.length - 1), { mode: "command" });
  }

  private copy(): void {
    const cells = this.selectedCells();
    if (!cells.length) return;
    localStorage.setItem("adrastea-clipboard", JSON.stringify(cells.map((c) => c.ycell.toJSON())));
  }

  private cut(): void {
    this.copy();
    this.deleteSelected();
  }

  private paste(offset: 0 | 1): void {
    const raw = localStorage.getItem("adrastea-clipboard");
    if (!raw) return;
    const cells = JSON.parse(raw) as CellJson[];
    const index = this.cells.length ? this.active + offset : 0;
    this.transact(() => this.ycells.insert(index, cells.map((c) => cellToY(c))));
    this.select(index + cells.length - 1, { mode: "command" });
  }

  move(step: number, from = this.active): void {
    const to = from + step;
    if (to < 0 || to >= this.cells.length || from === to) return;
    const json = this.cells[from].ycell.toJSON() as CellJson;
    this.transact(() => {
      this.ycells.delete(from, 1);
      this.ycells.insert(to, [cellToY(json, true)]);
    });
    this.select(to, { mode: "command" });
  }

  /** Drag and drop: move the cell with ``id`` to where ``target`` is. */
  moveCellTo(id: string, target: CellView): void {
    const from = this.cells.findIndex((c) => c.id === id);
    const to = this.cells.indexOf(target);
    if (from >= 0 && to >= 0) this.move(to - from, from);
  }

  private setType(type: CellType): void {
    const cells = this.selectedCells().filter((c) => c.type !== type);
    if (!cells.length) return;
    this.transact(() => {
      for (const { ycell } of cells) {
        ycell.set("cell_type", type);
        if (type === "code") {
          ycell.set("outputs", new Y.Array());
          ycell.set("execution_count", null);
          ycell.set("execution_state", "idle");
        } else {
          ycell.delete("outputs");
          ycell.delete("execution_count");
          ycell.delete("execution_state");
        }
      }
    });
    this.select(this.active, { mode: "command", extend: true });
  }

  /** Shift-M: merge the selected cells, or with one selected, it and the cell below. */
  private merge(): void {
    let [from, to] = this.selectedRange();
    if (to - from === 1) to = from + 2;
    if (to > this.cells.length) return;
    const rest = this.cells
      .slice(from + 1, to)
      .map((c) => c.ytext.toString())
      .join("\n");
    const text = this.cells[from].ytext;
    this.transact(() => {
      text.insert(text.length, (text.length ? "\n" : "") + rest);
      this.ycells.delete(from + 1, to - from - 1);
    });
    this.select(from, { mode: "command" });
  }

  splitCell(cell: CellView): void {
    const view = cell.editor;
    if (!view) return;
    const pos = view.state.selection.main.head;
    const text = cell.ytext;
    const rest = text.toString().slice(pos);
    const index = this.cells.indexOf(cell);
    this.transact(() => {
      text.delete(pos, text.length - pos);
      this.ycells.insert(index + 1, [cellToY({ cell_type: cell.type, source: rest.replace(/^\n/, "") })]);
    });
    this.select(index + 1, { mode: "edit" });
    this.cells[index + 1].focusEditor("start");
  }

  // -- running ---------------------------------------------------------------

  private async execute(cells: CellView[]): Promise<void> {
    for (const cell of cells) if (cell.type === "markdown") cell.setEditing(false);
    const ids = cells.filter((c) => c.type === "code").map((c) => c.id);
    if (!ids.length) return;
    await this.barrier();
    try {
      await api("POST", notebookUrl(this.path, "execute"), { cells: ids });
      void this.poll();
    } catch (err) {
      toast(`Could not run: ${(err as Error).message}`, "error");
    }
  }

  /** The cells a run of ``cell`` means: the whole selection if ``cell`` is in it. */
  private runTargets(cell: CellView): CellView[] {
    const selected = this.selectedCells();
    return selected.includes(cell) ? selected : [cell];
  }

  runCell(cell: CellView): void {
    const cells = this.runTargets(cell);
    void this.execute(cells);
    if (cells.length === 1 && cell.type === "markdown") this.select(cell, { mode: "command" });
  }

  runAndAdvance(cell: CellView | undefined): void {
    if (!cell) return;
    const cells = this.runTargets(cell);
    void this.execute(cells);
    const index = this.cells.indexOf(cells[cells.length - 1]);
    if (index + 1 >= this.cells.length) this.insert(index + 1, "code");
    else this.select(index + 1, { mode: "command" });
  }

  runAndInsert(cell: CellView): void {
    const cells = this.runTargets(cell);
    void this.execute(cells);
    this.insert(this.cells.indexOf(cells[cells.length - 1]) + 1, "code");
  }

  async runAll(): Promise<void> {
    await this.runRange(0, this.cells.length);
  }

  async runRange(from: number, to: number): Promise<void> {
    await this.execute(this.cells.slice(from, to));
  }

  async interrupt(): Promise<void> {
    try {
      await api("POST", notebookUrl(this.path, "interrupt"));
    } catch (err) {
      toast(`Interrupt failed: ${(err as Error).message}`, "error");
    }
  }

  async restart(runAll: boolean): Promise<void> {
    if (!confirm(runAll ? "Restart the kernel and run all cells?" : "Restart the kernel? Its variables are lost.")) return;
    try {
      this.kernelPill.textContent = "kernel: restarting";
      await api("POST", notebookUrl(this.path, "restart"));
      toast("Kernel restarted");
      if (runAll) await this.runAll();
    } catch (err) {
      toast(`Restart failed: ${(err as Error).message}`, "error");
    }
    void this.poll();
  }

  async answerInput(value: string): Promise<void> {
    try {
      await api("POST", notebookUrl(this.path, "input"), { value });
    } catch (err) {
      toast(`Could not send input: ${(err as Error).message}`, "error");
    }
  }

  async save(): Promise<void> {
    await this.barrier();
    try {
      await api("POST", notebookUrl(this.path, "save"));
      toast("Saved");
      void this.poll();
    } catch (err) {
      toast(`Save failed: ${(err as Error).message}`, "error");
    }
  }

  // -- environments ----------------------------------------------------------

  private async loadEnvironments(): Promise<void> {
    try {
      this.environments = await api<Environment[]>("GET", "/api/environments");
    } catch {
      this.environments = [];
    }
    clear(this.envSelect);
    for (const env of this.environments) {
      const where = env.placement && env.placement !== "local" ? ` (${env.placement})` : "";
      this.envSelect.append(h("option", { value: env.name, text: `${env.display_name || env.name}${where}` }));
    }
    this.syncEnvSelect();
  }

  /** Show the notebook's environment (or, before any kernel, its kernelspec) in the picker. */
  private syncEnvSelect(): void {
    if (document.activeElement === this.envSelect) return;
    const metadata = this.meta.get("metadata");
    const md = (metadata instanceof Y.Map ? metadata.toJSON() : metadata || {}) as CellJson;
    const name = this.status?.environment?.name || md.kernelspec?.name;
    if (name && this.envSelect.value !== name) this.envSelect.value = name;
  }

  /** Refresh the status soon (cells changed state: the kernel is probably busy or idle). */
  statusSoon(): void {
    if (this.statusTimer) return;
    this.statusTimer = window.setTimeout(() => {
      this.statusTimer = 0;
      void this.poll();
    }, 150);
  }

  private async restartIn(): Promise<void> {
    const env = this.environments.find((e) => e.name === this.envSelect.value);
    if (!env) return;
    const choices = await chooseOptions(env);
    if (choices === null) return;
    this.kernelPill.textContent = "kernel: starting";
    try {
      await api("PUT", notebookUrl(this.path, "environment"), { environment: env.name, choices });
      toast(`Kernel restarted in ${env.display_name || env.name}`);
    } catch (err) {
      toast(`Could not move the kernel: ${(err as Error).message}`, "error");
    }
    void this.poll();
  }

  // -- files -----------------------------------------------------------------

  private async rename(): Promise<void> {
    const name = prompt("New name for the notebook", this.path.split("/").pop());
    if (!name || name === this.path.split("/").pop()) return;
    const dir = this.path.split("/").slice(0, -1).join("/");
    const target = (dir ? `${dir}/` : "") + (name.endsWith(".ipynb") ? name : `${name}.ipynb`);
    try {
      await this.save();
      const model = await api<ContentsModel>("PATCH", contentsUrl(this.path), { path: target });
      location.assign(`/notebooks/${encodePath(model.path)}`);
    } catch (err) {
      toast(`Rename failed: ${(err as Error).message}`, "error");
    }
  }

  private async checkpoint(): Promise<void> {
    await this.save();
    try {
      await api("POST", `${contentsUrl(this.path)}/checkpoints`);
      toast("Checkpoint created");
    } catch (err) {
      toast(`Checkpoint failed: ${(err as Error).message}`, "error");
    }
  }

  private async restoreCheckpoint(): Promise<void> {
    const list = await api<{ id: string; last_modified: string }[]>("GET", `${contentsUrl(this.path)}/checkpoints`);
    if (!list.length) {
      toast("No checkpoints yet");
      return;
    }
    const latest = list[list.length - 1];
    if (!confirm(`Restore the checkpoint of ${new Date(latest.last_modified).toLocaleString()}?`)) return;
    try {
      await api("POST", `${contentsUrl(this.path)}/checkpoints/${encodeURIComponent(latest.id)}`);
      toast("Checkpoint restored");
      setTimeout(() => location.reload(), 500);
    } catch (err) {
      toast(`Restore failed: ${(err as Error).message}`, "error");
    }
  }

  private async downloadIpynb(): Promise<void> {
    await this.save();
    const model = await api<ContentsModel>("GET", `${contentsUrl(this.path)}?content=1`);
    const blob = new Blob([JSON.stringify(model.content, null, 1) + "\n"], { type: "application/x-ipynb+json" });
    download(this.path.split("/").pop() || "notebook.ipynb", blob);
  }

  private async downloadHtml(): Promise<void> {
    const html = await exportHtml(this.path, this.ycells.toJSON() as CellJson[]);
    const name = (this.path.split("/").pop() || "notebook").replace(/\.ipynb$/, "") + ".html";
    download(name, new Blob([html], { type: "text/html" }));
  }

  // -- command mode keys -------------------------------------------------------

  private onCommandKey(e: KeyboardEvent): void {
    if (this.mode !== "command" || e.target !== this.list) return;
    const key = e.key;
    const cell = this.cells[this.active];
    const mod = e.ctrlKey || e.metaKey;
    const handled = () => {
      e.preventDefault();
      e.stopPropagation();
    };
    if (key === "Enter" && e.shiftKey) return handled(), this.runAndAdvance(cell);
    if (key === "Enter" && mod) return handled(), cell && this.runCell(cell);
    if (key === "Enter" && e.altKey) return handled(), cell && this.runAndInsert(cell);
    if (key === "Enter") return handled(), cell && this.edit(cell);
    if (mod && key === "s") return handled(), void this.save();
    if (mod || e.altKey) {
      if (mod && e.shiftKey && key === "ArrowUp") return handled(), this.move(-1);
      if (mod && e.shiftKey && key === "ArrowDown") return handled(), this.move(1);
      return;
    }
    const now = Date.now();
    switch (key) {
      case "ArrowUp":
      case "k":
        return handled(), this.select(this.active - 1, { extend: e.shiftKey });
      case "ArrowDown":
      case "j":
        return handled(), this.select(this.active + 1, { extend: e.shiftKey });
      case "K":
        return handled(), this.select(this.active - 1, { extend: true });
      case "J":
        return handled(), this.select(this.active + 1, { extend: true });
      case "a":
        return handled(), void this.insert(this.active, "code");
      case "b":
        return handled(), void this.insert(this.cells.length ? this.active + 1 : 0, "code");
      case "d":
        handled();
        if (now - this.pendingD < 800) {
          this.pendingD = 0;
          this.deleteSelected();
        } else this.pendingD = now;
        return;
      case "i":
        handled();
        if (now - this.pendingI < 800) {
          this.pendingI = 0;
          void this.interrupt();
        } else this.pendingI = now;
        return;
      case "0":
        handled();
        if (now - this.pending0 < 800) {
          this.pending0 = 0;
          void this.restart(false);
        } else this.pending0 = now;
        return;
      case "m":
        return handled(), this.setType("markdown");
      case "y":
        return handled(), this.setType("code");
      case "r":
        return handled(), this.setType("raw");
      case "c":
        return handled(), this.copy();
      case "x":
        return handled(), this.cut();
      case "v":
        return handled(), this.paste(1);
      case "V":
        return handled(), this.paste(0);
      case "z":
        return handled(), void this.cellUndo.undo();
      case "Z":
        return handled(), void this.cellUndo.redo();
      case "M":
        return handled(), this.merge();
    }
  }
}
