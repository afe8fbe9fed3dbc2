// application/json outputs as a collapsible tree (<details> elements, built lazily).
import { h } from "./dom";

function summary(value: unknown): string {
  if (Array.isArray(value)) return `Array(${value.length})`;
  if (value && typeof value === "object") return `{${Object.keys(value).length} keys}`;
  return JSON.stringify(value);
}

function node(key: string | null, value: unknown, open: boolean): HTMLElement {
  const label = key === null ? null : h("span", { class: "json-key", text: `${key}: ` });
  if (!value || typeof value !== "object") {
    const kind = value === null ? "null" : typeof value;
    return h("div", { class: "json-leaf" }, label, h("span", { class: `json-${kind}`, text: JSON.stringify(value) }));
  }
  const details = h("details", { class: "json-node" }, h("summary", {}, label, h("span", { class: "json-summary", text: summary(value) })));
  const fill = () => {
    if (details.dataset.filled) return;
    details.dataset.filled = "1";
    // Keys sorted, as in the saved .ipynb (nbformat sorts them; the live document keeps no order).
    const entries = Array.isArray(value)
      ? value.map((v, i) => [String(i), v] as const)
      : Object.entries(value as object).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    for (const [k, v] of entries.slice(0, 1000)) details.append(node(k, v, false));
    if (entries.length > 1000) details.append(h("div", { class: "json-leaf", text: `… ${entries.length - 1000} more` }));
  };
  details.addEventListener("toggle", fill);
  if (open) {
    details.open = true;
    fill();
  }
  return details;
}

export function renderJson(value: unknown): HTMLElement {
  return h("div", { class: "json-tree" }, node(null, value, true));
}
