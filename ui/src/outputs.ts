// Rendering nbformat outputs. Untrusted HTML/SVG goes through DOMPurify, text
// through text nodes; long streams show their head and tail only, so the DOM
// stays bounded however much a cell prints. A rich output too big for the document
// (a stand-in) is fetched from the server when it nears the view and rendered as usual.
import { api, notebookUrl } from "./api";
import { appendAnsi, resolveCarriageReturns } from "./ansi";
import { formatBytes, h } from "./dom";
import { renderJson } from "./json";
import { renderMarkdown } from "./markdown";
import { renderLatexOutput } from "./math";
import { sanitizedFragment, sanitizedSvg } from "./sanitize";
import { cachedOutput, loadOutput, whenNearView } from "./spill";

/** Lines of a stream shown at each end before the middle is folded away. */
export const STREAM_EDGE_LINES = 500;

/** Rich outputs up to this size load by themselves near the view; bigger ones on request. */
export const AUTO_LOAD_BYTES = 8 << 20;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Output = Record<string, any>;

const MIME_ORDER = [
  "text/html",
  "text/markdown",
  "text/latex",
  "image/svg+xml",
  "image/png",
  "image/jpeg",
  "image/gif",
  "application/json",
  "text/plain",
];

const joined = (value: unknown): string =>
  Array.isArray(value) ? value.join("") : typeof value === "string" ? value : JSON.stringify(value);

interface Marker {
  output_id: string;
  kind: "stream" | "output";
  total_bytes: number;
  total_lines: number;
}

function spillMarker(output: Output): Marker | null {
  const marker = output.metadata?.adrastea;
  return marker && marker.spilled ? (marker as Marker) : null;
}

/** Lines after which a stream or traceback scrolls in a box of its own. */
const SCROLL_LINES = 60;

/** Text with at most 2 × ``edge`` lines: head, a note, tail; returns the line count. */
function boundedText(target: HTMLElement, text: string, edge: number): number {
  let count = 0;
  let cut = -1;
  for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) {
    count++;
    if (count === edge) cut = i;
  }
  if (count <= 2 * edge + 50) {
    appendAnsi(target, resolveCarriageReturns(text));
    return count;
  }
  let tailStart = text.length;
  for (let seen = 0; seen <= edge && tailStart > 0; seen++) {
    tailStart = text.lastIndexOf("\n", tailStart - 1);
    if (tailStart === -1) break;
  }
  appendAnsi(target, resolveCarriageReturns(text.slice(0, cut + 1)));
  const hidden = count - 2 * edge;
  target.append(
    h("span", { class: "output-fold", text: `… ${hidden.toLocaleString()} lines not shown here …\n` }),
  );
  appendAnsi(target, resolveCarriageReturns(text.slice(tailStart + 1)));
  return count;
}

export interface OutputContext {
  notebookPath: string;
  /** Render once, for a page of its own (export): stand-ins stay as they are. */
  static?: boolean;
}

function spillNote(marker: Marker, ctx: OutputContext): HTMLElement {
  const pages = h("pre", { class: "spill-pages", hidden: true });
  let offset = 0;
  const button = h("button", { class: "link", type: "button", text: "Load the full output page by page" });
  const note = h(
    "div",
    { class: "spill-note" },
    h("span", {
      text: `Large output: ${formatBytes(marker.total_bytes)}${marker.total_lines ? `, ${marker.total_lines.toLocaleString()} lines` : ""}; the notebook shows its head and tail. `,
    }),
    button,
  );
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const page = await api<{ text: string; next_offset: number; eof: boolean; total_bytes: number }>(
        "GET",
        `${notebookUrl(ctx.notebookPath, "outputs")}/${encodeURIComponent(marker.output_id)}?offset=${offset}&limit=${1 << 20}`,
      );
      pages.hidden = false;
      appendAnsi(pages, page.text);
      offset = page.next_offset;
      button.textContent = page.eof
        ? "Whole output loaded"
        : `Load more (${formatBytes(offset)} of ${formatBytes(page.total_bytes)})`;
      button.disabled = page.eof;
    } catch (err) {
      button.textContent = `Could not load: ${(err as Error).message}`;
      button.disabled = false;
    }
  });
  return h("div", {}, note, pages);
}

function renderMime(data: Output, metadata: Output, ctx: OutputContext): HTMLElement {
  const mime = MIME_ORDER.find((m) => m in data) || Object.keys(data).find((m) => m.startsWith("text/"));
  const box = h("div", { class: "output-mime", "data-mime": mime || "none" });
  if (!mime) {
    box.textContent = `[no displayable data: ${Object.keys(data).join(", ")}]`;
    return box;
  }
  const value = data[mime];
  switch (mime) {
    case "text/html":
      box.classList.add("output-html");
      box.append(sanitizedFragment(joined(value)));
      break;
    case "image/svg+xml":
      box.classList.add("output-svg");
      box.append(sanitizedSvg(joined(value)));
      break;
    case "image/png":
    case "image/jpeg":
    case "image/gif": {
      const meta = metadata?.[mime] || {};
      const img = h("img", {
        src: `data:${mime};base64,${joined(value).replace(/\s/g, "")}`,
        alt: joined(data["text/plain"] ?? "image output"),
        width: meta.width,
        height: meta.height,
      });
      box.append(img);
      break;
    }
    case "text/markdown":
      box.classList.add("markdown");
      void renderMarkdown(box, joined(value));
      break;
    case "text/latex":
      void renderLatexOutput(box, joined(value));
      break;
    case "application/json":
      box.append(renderJson(value));
      break;
    default: {
      const pre = h("pre", {});
      boundedText(pre, joined(value), STREAM_EDGE_LINES);
      box.append(pre);
    }
  }
  return box;
}

/** The element showing one output. */
export function renderOutput(output: Output, ctx: OutputContext): HTMLElement {
  const marker = spillMarker(output);
  if (marker?.kind === "output" && !ctx.static) return spilledOutput(output, marker, ctx);
  return renderPlain(output, marker, ctx);
}

/** ``output`` itself, or the full output behind a rich stand-in that is not too big to load. */
export async function fullOutput(output: Output, notebookPath: string): Promise<Output> {
  const marker = spillMarker(output);
  if (marker?.kind !== "output" || marker.total_bytes > AUTO_LOAD_BYTES) return output;
  try {
    return await loadOutput(notebookPath, marker.output_id);
  } catch {
    return output; // the stand-in says what is missing
  }
}

/** A rich output's stand-in: the full output once loaded, meanwhile a placeholder. */
function spilledOutput(standIn: Output, marker: Marker, ctx: OutputContext): HTMLElement {
  const cached = cachedOutput(ctx.notebookPath, marker.output_id);
  if (cached) return renderPlain(cached, null, ctx);
  const size = formatBytes(marker.total_bytes);
  const el = h("div", { class: "output output-spilled", "data-output-id": marker.output_id });
  const action = (label: string): HTMLButtonElement =>
    h("button", { class: "link", type: "button", text: label, onclick: load });
  function load(): void {
    const status = h("div", { class: "spill-status", text: `Loading output (${size})…` });
    el.setAttribute("aria-busy", "true");
    el.replaceChildren(status);
    loadOutput(ctx.notebookPath, marker.output_id, (loaded, total) => {
      status.textContent = `Loading output… ${formatBytes(loaded)} of ${formatBytes(total)}`;
    }).then(
      (full) => el.replaceWith(renderPlain(full, null, ctx)),
      (err: Error) => {
        el.removeAttribute("aria-busy");
        el.replaceChildren(
          renderPlain(standIn, null, ctx),
          h("div", { class: "spill-status", role: "alert" }, `Could not load it: ${err.message} `, action("Retry")),
        );
      },
    );
  }
  if (marker.total_bytes <= AUTO_LOAD_BYTES) {
    el.append(h("div", { class: "spill-status", text: `Output of ${size} loads when scrolled into view` }));
    whenNearView(el, load);
  } else {
    const show = action(`Show this output (${size})`);
    el.append(renderPlain(standIn, null, ctx), h("div", { class: "spill-status" }, show));
  }
  return el;
}

/** An output as it is; a stream stand-in gets a note to read the rest page by page. */
function renderPlain(output: Output, marker: Marker | null, ctx: OutputContext): HTMLElement {
  const kind = output.output_type;
  let el: HTMLElement;
  if (kind === "stream") {
    const pre = h("pre", {});
    const lines = boundedText(pre, joined(output.text), STREAM_EDGE_LINES);
    el = h("div", { class: `output output-stream output-${output.name === "stderr" ? "stderr" : "stdout"}` }, pre);
    if (lines > SCROLL_LINES || marker) el.classList.add("scrolled");
  } else if (kind === "error") {
    const pre = h("pre", {});
    const traceback: string[] = output.traceback || [];
    const text = traceback.length ? traceback.join("\n") : `${output.ename}: ${output.evalue}`;
    boundedText(pre, text, STREAM_EDGE_LINES);
    el = h("div", { class: "output output-error", role: "alert" }, pre);
  } else if (kind === "execute_result" || kind === "display_data") {
    el = h("div", { class: `output output-${kind}` }, renderMime(output.data || {}, output.metadata || {}, ctx));
  } else {
    el = h("div", { class: "output", text: `[unknown output type ${kind}]` });
  }
  if (marker) el.append(spillNote(marker, ctx));
  return el;
}
