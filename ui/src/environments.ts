// The "Restart in …" dialog: a form for an environment's open choices, built
// from the JSON Schema GET /api/environments gives.
import type { Environment } from "./api";
import { h } from "./dom";

/** Ask for an environment's open choices (schema fields); null if cancelled. */
export function chooseOptions(env: Environment): Promise<Record<string, string | number> | null> {
  const fields = Object.entries(env.schema?.properties || {});
  if (!fields.length) return Promise.resolve({});
  return new Promise((resolve) => {
    const dialog = h("dialog", { class: "dialog", "aria-label": `Options for ${env.name}` });
    const form = h("form", { method: "dialog" }, h("h2", { text: `Restart in ${env.display_name || env.name}` }));
    const inputs: [string, HTMLInputElement | HTMLSelectElement, string | undefined][] = [];
    for (const [name, field] of fields) {
      let input: HTMLInputElement | HTMLSelectElement;
      if (field.enum) {
        input = h("select", { name });
        for (const option of field.enum) input.append(h("option", { value: String(option), text: String(option) }));
      } else {
        input = h("input", {
          name,
          type: field.type === "integer" || field.type === "number" ? "number" : "text",
          min: field.minimum,
          max: field.maximum,
        });
      }
      if (field.default !== undefined) input.value = String(field.default);
      inputs.push([name, input, field.type]);
      form.append(h("label", { class: "field" }, h("span", { text: field.title || name }), input));
    }
    form.append(
      h(
        "div",
        { class: "dialog-buttons" },
        h("button", { class: "btn", value: "cancel", text: "Cancel" }),
        h("button", { class: "btn primary", value: "ok", text: "Restart" }),
      ),
    );
    dialog.append(form);
    document.body.append(dialog);
    dialog.addEventListener("close", () => {
      dialog.remove();
      if (dialog.returnValue !== "ok") return resolve(null);
      const out: Record<string, string | number> = {};
      for (const [name, input, type] of inputs) {
        out[name] = type === "integer" || type === "number" ? Number(input.value) : input.value;
      }
      resolve(out);
    });
    dialog.showModal();
  });
}
