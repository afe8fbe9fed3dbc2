// Cells as jupyter_ydoc's YNotebook schema has them: a Y.Map per cell whose
// source is a Y.Text, metadata a Y.Map and outputs a Y.Array of Y.Maps (a
// stream's text a Y.Text), as the server writes them.
import * as Y from "yjs";
import type { CellType } from "./cell";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type CellJson = Record<string, any>;

function newCellId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function joined(value: unknown): string {
  return Array.isArray(value) ? value.join("") : typeof value === "string" ? value : "";
}

/** A prelim Y cell from nbformat JSON (a fresh id unless ``keepId``). */
export function cellToY(cell: CellJson, keepId = false): Y.Map<unknown> {
  const ycell = new Y.Map<unknown>();
  const type: CellType = cell.cell_type || "code";
  ycell.set("id", keepId && cell.id ? cell.id : newCellId());
  ycell.set("cell_type", type);
  ycell.set("source", new Y.Text(joined(cell.source)));
  ycell.set("metadata", new Y.Map(Object.entries(cell.metadata || {})));
  if (type === "code") {
    const outputs = new Y.Array<Y.Map<unknown>>();
    outputs.push(
      (cell.outputs || []).map((o: CellJson) => {
        const entries = Object.entries(o).map(([k, v]) =>
          o.output_type === "stream" && k === "text" ? [k, new Y.Text(joined(v))] : [k, v],
        ) as [string, unknown][];
        return new Y.Map(entries);
      }),
    );
    ycell.set("outputs", outputs);
    ycell.set("execution_count", cell.execution_count ?? null);
    ycell.set("execution_state", "idle");
  } else if (cell.attachments) {
    ycell.set("attachments", cell.attachments);
  }
  return ycell;
}
