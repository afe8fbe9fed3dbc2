// One notebook cell: a prompt, a CodeMirror editor bound to the cell's Y.Text
// (mounted lazily, when the cell nears the viewport), and its outputs.
import { autocompletion, completionStatus, startCompletion } from "@codemirror/autocomplete";
import type { CompletionContext, CompletionResult } from "@codemirror/autocomplete";
import { defaultKeymap, indentLess, indentMore } from "@codemirror/commands";
import { bracketMatching, defaultHighlightStyle, indentOnInput, syntaxHighlighting } from "@codemirror/language";
import { Compartment, EditorState, Prec } from "@codemirror/state";
import type { Extension } from "@codemirror/state";
import { EditorView, drawSelection, keymap, placeholder } from "@codemirror/view";
import { yCollab, yUndoManagerKeymap } from "y-codemirror.next";
import * as Y from "yjs";
import { appendAnsi } from "./ansi";
import { h } from "./dom";
import { languageSupport } from "./languages";
import { renderMarkdown } from "./markdown";
import { renderOutput } from "./outputs";
import type { Output } from "./outputs";
import type { NotebookView } from "./notebook";

export type CellType = "code" | "markdown" | "raw";

const PLACEHOLDER_LINES = 40;
const DRAG_TYPE = "application/x-adrastea-cell";

export class CellView {
  readonly el: HTMLElement;
  // Built on first need (see build()): a cell far from the viewport is one empty
  // element of about the right height, so a 2,000-cell notebook opens fast.
  private built = false;
  private promptEl!: HTMLElement;
  private timerEl!: HTMLElement;
  private inputEl!: HTMLElement;
  private renderedEl!: HTMLElement;
  outputsEl!: HTMLElement;
  private peersEl!: HTMLElement;
  private inputBox: HTMLElement | null = null;
  editor: EditorView | null = null;
  mounted = false;
  /** Markdown cells show their rendering unless being edited. */
  editing = false;
  private outputsDirty = true;
  private outputsFrame = 0;
  private language = new Compartment();
  private wantedLanguage = "";
  runningSince: number | null = null;
  private tooltip: HTMLElement | null = null;

  constructor(
    readonly nb: NotebookView,
    readonly ycell: Y.Map<unknown>,
  ) {
    this.el = h("div", { class: "cell", role: "group", tabindex: -1 });
    this.el.dataset.type = this.type;
    this.el.style.height = `${this.estimateHeight()}px`;
  }

  private estimateHeight(): number {
    const source = this.ycell.get("source");
    let lines = 1;
    if (source instanceof Y.Text) {
      const text = source.toString();
      for (let i = text.indexOf("\n"); i !== -1 && lines < PLACEHOLDER_LINES; i = text.indexOf("\n", i + 1)) lines++;
    }
    const outputs = this.ycell.get("outputs");
    const count = outputs instanceof Y.Array ? outputs.length : 0;
    return 26 + lines * 19.5 + Math.min(400, 24 * count);
  }

  /** Create the cell's elements (idempotent). */
  build(): void {
    if (this.built) return;
    this.built = true;
    this.promptEl = h("div", { class: "prompt", "aria-label": "execution count" });
    this.timerEl = h("div", { class: "timer" });
    this.peersEl = h("div", { class: "peers" });
    this.inputEl = h("div", { class: "cell-input" });
    this.renderedEl = h("div", { class: "markdown rendered", hidden: true });
    this.outputsEl = h("div", { class: "outputs", "aria-live": "polite", "aria-label": "outputs" });
    this.el.style.height = "";
    const gutter = h(
      "div",
      { class: "gutter", draggable: "true", title: "Drag to move the cell" },
      this.promptEl,
      this.timerEl,
    );
    gutter.addEventListener("dragstart", (e) => {
      e.dataTransfer?.setData(DRAG_TYPE, this.id);
      if (e.dataTransfer) e.dataTransfer.effectAllowed = "move";
    });
    this.el.addEventListener("dragover", (e) => {
      if (!e.dataTransfer?.types.includes(DRAG_TYPE)) return;
      e.preventDefault();
      this.el.classList.add("drop-target");
    });
    this.el.addEventListener("dragleave", () => this.el.classList.remove("drop-target"));
    this.el.addEventListener("drop", (e) => {
      this.el.classList.remove("drop-target");
      const id = e.dataTransfer?.getData(DRAG_TYPE);
      if (!id) return;
      e.preventDefault();
      this.nb.moveCellTo(id, this);
    });
    this.el.append(
      gutter,
      h("div", { class: "cell-body" }, this.inputEl, this.renderedEl, this.outputsEl),
    );
    // Shift-click in command mode selects cells, before the editor can take the click.
    this.el.addEventListener(
      "mousedown",
      (e) => {
        if (!e.shiftKey || this.nb.mode !== "command") return;
        e.preventDefault();
        e.stopPropagation();
        this.nb.select(this, { extend: true });
      },
      true,
    );
    this.el.addEventListener("mousedown", (e) => {
      if (!this.el.contains(document.activeElement) || !this.editor?.hasFocus) {
        this.nb.select(this, { mode: this.editor && this.editor.dom.contains(e.target as Node) ? "edit" : "command" });
      }
    });
    this.el.addEventListener("dblclick", () => {
      if (this.type === "markdown" && !this.editing) this.nb.edit(this);
    });
    this.showPlaceholder();
    this.renderPrompt();
  }

  /** A change inside this cell's Y map (dispatched by the notebook's one deep observer). */
  onYEvent(event: Y.YEvent<Y.AbstractType<unknown>>): void {
    if (event.target === this.ycell) {
      const keys = (event as Y.YMapEvent<unknown>).keysChanged;
      if (keys.has("cell_type")) {
        this.rebuild();
        return;
      }
      if (keys.has("execution_state") || keys.has("execution_count")) {
        this.renderPrompt();
        this.nb.statusSoon();
      }
      if (keys.has("outputs")) this.outputsChanged();
      return;
    }
    const outputs = this.ycell.get("outputs");
    if (outputs && isInside(event.target, outputs)) this.outputsChanged();
  }

  get id(): string {
    return String(this.ycell.get("id") ?? "");
  }

  get type(): CellType {
    return (this.ycell.get("cell_type") as CellType) || "code";
  }

  get ytext(): Y.Text {
    let text = this.ycell.get("source");
    if (!(text instanceof Y.Text)) {
      const value = typeof text === "string" ? text : "";
      text = new Y.Text(value);
      this.ycell.set("source", text);
    }
    return text as Y.Text;
  }

  get executionState(): string {
    return String(this.ycell.get("execution_state") ?? "idle");
  }

  private showPlaceholder(): void {
    this.el.dataset.type = this.type;
    const source = this.ytext.toString();
    const lines = source.split("\n");
    const shown = lines.slice(0, PLACEHOLDER_LINES).join("\n") + (lines.length > PLACEHOLDER_LINES ? "\n…" : "");
    this.inputEl.replaceChildren(h("pre", { class: "cm-placeholder-source", text: shown || " " }));
    if (this.type === "markdown") {
      this.renderedEl.hidden = false;
      this.inputEl.hidden = true;
      this.renderedEl.replaceChildren(h("div", { class: "md-placeholder", text: source.slice(0, 2000) }));
    }
    const outputs = this.ycell.get("outputs");
    const count = outputs instanceof Y.Array ? outputs.length : 0;
    this.outputsEl.style.minHeight = count ? `${Math.min(400, 24 * count)}px` : "";
  }

  /** Create the editor and render outputs (idempotent). */
  mount(): void {
    if (this.mounted) return;
    this.build();
    this.mounted = true;
    this.outputsEl.style.minHeight = "";
    const state = EditorState.create({
      doc: this.ytext.toString(),
      extensions: this.extensions(),
    });
    this.editor = new EditorView({ state, parent: this.inputEl });
    this.inputEl.querySelector(".cm-placeholder-source")?.remove();
    this.editor.contentDOM.setAttribute("aria-label", `${this.type} cell source`);
    this.refreshLanguage();
    if (this.type === "markdown") this.setEditing(this.editing);
    this.outputsDirty = true;
    this.renderOutputs();
    this.renderPrompt();
  }

  /** Highlight the source as its language (code cells: the kernel's; called again when it changes). */
  refreshLanguage(): void {
    const editor = this.editor;
    if (!editor) return;
    const language = this.type === "code" ? this.nb.codeLanguage() : this.type === "markdown" ? "markdown" : "";
    this.wantedLanguage = language;
    void languageSupport(language).then((ext) => {
      if (this.editor !== editor || this.wantedLanguage !== language) return; // changed meanwhile
      editor.dispatch({ effects: this.language.reconfigure(ext) });
    });
  }

  private extensions(): Extension[] {
    const undo = new Y.UndoManager(this.ytext);
    const nb = this.nb;
    return [
      Prec.highest(
        keymap.of([
          { key: "Shift-Enter", run: () => (nb.runAndAdvance(this), true) },
          { key: "Mod-Enter", run: () => (nb.runCell(this), true) },
          { key: "Alt-Enter", run: () => (nb.runAndInsert(this), true) },
          { key: "Mod-s", run: () => (void nb.save(), true), preventDefault: true },
          { key: "Mod-Shift--", run: () => (nb.splitCell(this), true) },
          { key: "Shift-Tab", run: (view) => (this.inspect(view), true) },
        ]),
      ),
      keymap.of([
        { key: "Escape", run: () => (completionStatus(this.editor!.state) ? false : (nb.commandMode(), true)) },
        {
          key: "Tab",
          run: (view) => {
            const { from, to } = view.state.selection.main;
            const before = view.state.doc.sliceString(Math.max(0, from - 1), from);
            if (from === to && this.type === "code" && /[\w.\]\)'"]/.test(before)) return startCompletion(view);
            return indentMore(view);
          },
          shift: indentLess,
        },
        {
          key: "ArrowUp",
          run: (view) => {
            const head = view.state.selection.main.head;
            if (view.state.doc.lineAt(head).number !== 1) return false;
            return nb.moveEditing(this, -1);
          },
        },
        {
          key: "ArrowDown",
          run: (view) => {
            const head = view.state.selection.main.head;
            if (view.state.doc.lineAt(head).number !== view.state.doc.lines) return false;
            return nb.moveEditing(this, 1);
          },
        },
        ...yUndoManagerKeymap,
        ...defaultKeymap,
      ]),
      drawSelection(),
      indentOnInput(),
      bracketMatching(),
      syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
      this.type === "code" ? [] : EditorView.lineWrapping,
      placeholder(this.type === "markdown" ? "Markdown text" : this.type === "raw" ? "Raw text" : ""),
      this.language.of([]),
      autocompletion({
        override: [(ctx) => this.complete(ctx)],
        activateOnTyping: false,
        icons: false,
      }),
      yCollab(this.ytext, nb.awareness, { undoManager: undo }),
      EditorView.updateListener.of((update) => {
        if (update.focusChanged && update.view.hasFocus) nb.select(this, { mode: "edit", focus: false });
        if (update.docChanged || update.selectionSet) this.hideTooltip();
      }),
    ];
  }

  private async complete(ctx: CompletionContext): Promise<CompletionResult | null> {
    if (!ctx.explicit) return null;
    const channel = this.nb.kernelChannel();
    if (!channel) return null;
    const code = ctx.state.doc.toString();
    try {
      const reply = await channel.request("complete_request", { code, cursor_pos: codePoints(code, ctx.pos) });
      if (reply.status !== "ok" || !reply.matches?.length) return null;
      const from = utf16Offset(code, reply.cursor_start);
      const to = utf16Offset(code, reply.cursor_end);
      const types: Record<string, string> = {};
      for (const item of reply.metadata?._jupyter_types_experimental || []) types[item.text] = item.type;
      return {
        from,
        to,
        options: reply.matches.map((m: string) => ({ label: m, type: types[m] })),
        filter: false,
      };
    } catch {
      return null;
    }
  }

  private async inspect(view: EditorView): Promise<void> {
    const channel = this.nb.kernelChannel();
    if (!channel) return;
    const code = view.state.doc.toString();
    const pos = view.state.selection.main.head;
    try {
      const reply = await channel.request("inspect_request", { code, cursor_pos: codePoints(code, pos), detail_level: 0 });
      if (reply.status !== "ok" || !reply.found) return;
      const text = reply.data?.["text/plain"] ?? "";
      const coords = view.coordsAtPos(pos);
      this.hideTooltip();
      const pre = h("pre", {});
      appendAnsi(pre, String(text));
      this.tooltip = h("div", { class: "inspect-tooltip", role: "tooltip" }, pre);
      document.body.append(this.tooltip);
      const top = (coords?.bottom ?? 0) + window.scrollY + 4;
      this.tooltip.style.top = `${top}px`;
      this.tooltip.style.left = `${Math.max(8, (coords?.left ?? 0) + window.scrollX)}px`;
      const close = () => this.hideTooltip();
      setTimeout(() => document.addEventListener("mousedown", close, { once: true }), 0);
    } catch {
      // the kernel did not answer in time: no tooltip
    }
  }

  hideTooltip(): void {
    this.tooltip?.remove();
    this.tooltip = null;
  }

  outputs(): Output[] {
    const youtputs = this.ycell.get("outputs");
    return youtputs instanceof Y.Array ? (youtputs.toJSON() as Output[]) : [];
  }

  private outputsChanged(): void {
    this.outputsDirty = true;
    if (!this.mounted || this.outputsFrame) return;
    this.outputsFrame = requestAnimationFrame(() => {
      this.outputsFrame = 0;
      this.renderOutputs();
    });
  }

  renderOutputs(): void {
    if (!this.outputsDirty || !this.mounted) return;
    this.outputsDirty = false;
    if (this.type !== "code") {
      this.outputsEl.replaceChildren();
      return;
    }
    const ctx = { notebookPath: this.nb.path };
    const items = this.outputs().map((o) => renderOutput(o, ctx));
    this.outputsEl.replaceChildren(...items);
    if (this.inputBox) this.outputsEl.append(this.inputBox);
    // Long streams scroll in their own box, kept at the newest line.
    for (const pre of this.outputsEl.querySelectorAll<HTMLElement>(".scrolled > pre")) pre.scrollTop = pre.scrollHeight;
  }

  renderPrompt(): void {
    if (!this.built) return;
    const state = this.executionState;
    this.el.dataset.state = state;
    this.el.dataset.type = this.type;
    if (this.type !== "code") {
      this.promptEl.textContent = "";
      this.timerEl.textContent = "";
      return;
    }
    const count = this.ycell.get("execution_count");
    const mark = state === "running" ? "*" : state === "queued" ? "…" : count == null ? " " : String(count);
    this.promptEl.textContent = `[${mark}]:`;
    this.promptEl.title = state === "idle" ? "" : state;
    this.promptEl.setAttribute("aria-label", state === "idle" ? `execution count ${count ?? "none"}` : state);
    if (state === "running") {
      if (this.runningSince === null) this.runningSince = this.nb.serverStartOf(this.id) ?? Date.now();
    } else {
      this.runningSince = null;
      this.timerEl.textContent = state === "queued" ? "queued" : this.lastDuration();
    }
    this.tick();
  }

  private lastDuration(): string {
    const metadata = this.ycell.get("metadata");
    const timing = metadata instanceof Y.Map ? (metadata.get("execution") as Record<string, string> | undefined) : undefined;
    const start = timing?.["shell.execute_reply.started"] || timing?.["iopub.execute_input"];
    const end = timing?.["shell.execute_reply"];
    if (!start || !end) return "";
    const ms = Date.parse(end) - Date.parse(start);
    return Number.isFinite(ms) && ms >= 0 ? formatSeconds(ms) : "";
  }

  /** The server says this cell started running at ``time`` (ms since the epoch). */
  startedAt(time: number): void {
    if (this.executionState !== "running") return;
    this.runningSince = time;
    this.tick();
  }

  /** Update the running timer (called every few hundred ms by the notebook). */
  tick(): void {
    if (this.built && this.runningSince !== null) {
      // max(): a browser clock a little behind the server's must not show a negative time.
      this.timerEl.textContent = formatSeconds(Math.max(0, Date.now() - this.runningSince));
    }
  }

  /** Show (or with null, remove) the box answering a pending input(). */
  showInput(prompt: { prompt: string; password: boolean } | null): void {
    if (prompt) this.mount();
    if (!prompt) {
      this.inputBox?.remove();
      this.inputBox = null;
      return;
    }
    if (this.inputBox) return;
    const field = h("input", {
      type: prompt.password ? "password" : "text",
      class: "stdin-field",
      "aria-label": prompt.prompt || "input",
      autocomplete: "off",
    });
    const submit = async () => {
      const value = field.value;
      field.disabled = true;
      await this.nb.answerInput(value);
      this.showInput(null);
    };
    field.addEventListener("keydown", (e) => {
      e.stopPropagation();
      if (e.key === "Enter") void submit();
    });
    this.inputBox = h("div", { class: "stdin" }, h("label", { class: "stdin-prompt", text: prompt.prompt }), field);
    this.outputsEl.append(this.inputBox);
    field.focus();
  }

  /** Markdown cells: show the editor (true) or the rendering (false). */
  setEditing(editing: boolean): void {
    this.editing = editing;
    if (!this.built) return;
    if (this.type !== "markdown") {
      this.inputEl.hidden = false;
      this.renderedEl.hidden = true;
      return;
    }
    if (!this.mounted) return;
    this.inputEl.hidden = !editing;
    this.renderedEl.hidden = editing;
    if (!editing) {
      const source = this.ytext.toString();
      if (source.trim()) void renderMarkdown(this.renderedEl, source);
      else this.renderedEl.replaceChildren(h("p", { class: "empty-md", text: "Empty markdown cell: double-click to edit" }));
    }
  }

  showPeers(names: { name: string; color: string }[]): void {
    if (!this.built) return;
    if (!names.length && !this.peersEl.isConnected) return;
    if (!this.peersEl.isConnected) this.inputEl.before(this.peersEl);
    this.peersEl.replaceChildren(
      ...names.map((p) => h("span", { class: "peer", style: `background:${safeColor(p.color)}`, text: p.name })),
    );
    this.el.classList.toggle("peer-selected", names.length > 0);
    this.el.style.setProperty("--peer-color", names.length ? safeColor(names[0].color) : "transparent");
  }

  /** The cell type changed: rebuild editor and rendering. */
  private rebuild(): void {
    if (!this.built) {
      this.el.dataset.type = this.type;
      return;
    }
    const wasMounted = this.mounted;
    this.editor?.destroy();
    this.editor = null;
    this.mounted = false;
    this.editing = false;
    this.renderedEl.hidden = true;
    this.inputEl.hidden = false;
    this.outputsDirty = true;
    this.showPlaceholder();
    if (wasMounted) this.mount();
    this.renderPrompt();
  }

  focusEditor(where: "start" | "end" | null = null): void {
    this.mount();
    if (this.type === "markdown") this.setEditing(true);
    const view = this.editor;
    if (!view) return;
    if (where) {
      const pos = where === "start" ? 0 : view.state.doc.length;
      view.dispatch({ selection: { anchor: pos } });
    }
    view.focus();
  }

  destroy(): void {
    this.editor?.destroy();
    this.hideTooltip();
    if (this.outputsFrame) cancelAnimationFrame(this.outputsFrame);
    this.el.remove();
  }
}

function isInside(type: Y.AbstractType<unknown>, ancestor: unknown): boolean {
  for (let t: Y.AbstractType<unknown> | null = type; t; t = t.parent as Y.AbstractType<unknown> | null) {
    if (t === ancestor) return true;
  }
  return false;
}

function formatSeconds(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.floor(ms / 1000);
  return `${Math.floor(s / 60)} min ${s % 60} s`;
}

function safeColor(color: string): string {
  return /^#[0-9a-fA-F]{3,8}$/.test(color) ? color : "#888";
}

/** Jupyter counts cursor positions in code points; JS strings in UTF-16 units. */
function codePoints(text: string, offset: number): number {
  return [...text.slice(0, offset)].length;
}

function utf16Offset(text: string, points: number): number {
  let units = 0;
  let seen = 0;
  for (const ch of text) {
    if (seen >= points) break;
    units += ch.length;
    seen++;
  }
  return units;
}
