// A text file in CodeMirror, saved through the contents API.
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import { bracketMatching, defaultHighlightStyle, indentOnInput, syntaxHighlighting } from "@codemirror/language";
import { searchKeymap } from "@codemirror/search";
import { Compartment, EditorState } from "@codemirror/state";
import { EditorView, drawSelection, highlightActiveLine, keymap, lineNumbers } from "@codemirror/view";
import { api, contentsUrl } from "./api";
import type { ContentsModel } from "./api";
import { breadcrumbs } from "./browser";
import { h, toast } from "./dom";
import { languageForFile, languageSupport } from "./languages";

export async function openEditor(root: HTMLElement, path: string): Promise<void> {
  const status = h("span", { class: "pill subtle", "aria-label": "save status", text: "loading…" });
  const host = h("main", { class: "editor-host", "aria-label": `editor for ${path}` });
  let view: EditorView | null = null;
  let saved = "";
  const save = async () => {
    if (!view) return;
    const text = view.state.doc.toString();
    try {
      await api("PUT", contentsUrl(path), { type: "file", format: "text", content: text });
      saved = text;
      status.textContent = "saved";
      toast("Saved");
    } catch (err) {
      toast(`Save failed: ${(err as Error).message}`, "error");
    }
  };
  root.replaceChildren(
    h(
      "header",
      { class: "topbar" },
      h("a", { class: "brand", href: "/tree/", text: "Adrastea" }),
      breadcrumbs(path.split("/").slice(0, -1).join("/")),
      h("span", { class: "notebook-name", text: path.split("/").pop() || path }),
      status,
      h("span", { class: "spacer" }),
      h("button", { class: "btn", type: "button", text: "Save", onclick: () => void save() }),
    ),
    host,
  );
  document.title = `${path.split("/").pop()} – Adrastea`;
  let model: ContentsModel;
  try {
    model = await api<ContentsModel>("GET", `${contentsUrl(path)}?content=1&format=text&type=file`);
  } catch (err) {
    host.textContent = `Cannot open ${path}: ${(err as Error).message}`;
    return;
  }
  saved = String(model.content ?? "");
  status.textContent = "saved";
  const language = new Compartment();
  view = new EditorView({
    parent: host,
    state: EditorState.create({
      doc: saved,
      extensions: [
        lineNumbers(),
        history(),
        drawSelection(),
        highlightActiveLine(),
        indentOnInput(),
        bracketMatching(),
        syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
        language.of([]),
        keymap.of([{ key: "Mod-s", run: () => (void save(), true), preventDefault: true }, indentWithTab, ...defaultKeymap, ...historyKeymap, ...searchKeymap]),
        EditorView.updateListener.of((u) => {
          if (u.docChanged) status.textContent = u.state.doc.toString() === saved ? "saved" : "unsaved changes";
        }),
      ],
    }),
  });
  view.focus();
  const ext = await languageSupport(languageForFile(path, saved));
  view.dispatch({ effects: language.reconfigure(ext) });
}
