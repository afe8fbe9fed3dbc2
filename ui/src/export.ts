// "Download as HTML": a standalone page of the notebook, rendered with the same
// (sanitising) renderers as the live view.
import { renderMarkdown } from "./markdown";
import { fullOutput, renderOutput } from "./outputs";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type CellJson = Record<string, any>;

const STYLE = `body{font:15px/1.5 system-ui,sans-serif;max-width:980px;margin:2em auto;padding:0 1em}
pre{background:#f6f8fa;padding:.6em;overflow:auto;font:13px/1.4 ui-monospace,monospace;white-space:pre-wrap}
.output pre{background:none}.prompt{color:#888;font:12px monospace}.output-stderr{background:#fff0f0}
img{max-width:100%}`;

export async function exportHtml(path: string, cells: CellJson[]): Promise<string> {
  const body = document.createElement("div");
  for (const cell of cells) {
    const source = String(cell.source ?? "");
    const box = document.createElement("section");
    if (cell.cell_type === "markdown") {
      await renderMarkdown(box, source);
    } else {
      const prompt = document.createElement("div");
      prompt.className = "prompt";
      prompt.textContent = cell.cell_type === "code" ? `In [${cell.execution_count ?? " "}]:` : "";
      const pre = document.createElement("pre");
      pre.textContent = source;
      box.append(prompt, pre);
      for (const output of cell.outputs || []) {
        box.append(renderOutput(await fullOutput(output, path), { notebookPath: path, static: true }));
      }
    }
    body.append(box);
  }
  const title = path.split("/").pop() || "notebook";
  const katex = document.querySelector('meta[name="adrastea-katex-css"]')?.getAttribute("content");
  const link = katex ? `<link rel="stylesheet" href="${new URL(katex, location.href).href}">` : "";
  const escaped = title.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<!doctype html><html><head><meta charset="utf-8"><title>${escaped}</title>${link}<style>${STYLE}</style></head><body>${body.innerHTML}</body></html>\n`;
}
