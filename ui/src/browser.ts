// The file browser: list a folder, open, create, rename, delete, upload, download.
import { api, contentsUrl, encodePath } from "./api";
import type { ContentsModel } from "./api";
import { download, formatBytes, h, toast } from "./dom";

/** Links to each ancestor folder of ``dir`` ("" is the root). */
export function breadcrumbs(dir: string): HTMLElement {
  const nav = h("nav", { class: "breadcrumbs", "aria-label": "breadcrumbs" });
  nav.append(h("a", { href: "/tree/", text: "⌂", "aria-label": "root folder" }));
  const parts = dir.split("/").filter(Boolean);
  parts.forEach((part, i) => {
    nav.append(h("span", { class: "crumb-sep", text: "/" }));
    nav.append(h("a", { href: `/tree/${encodePath(parts.slice(0, i + 1).join("/"))}`, text: part }));
  });
  return nav;
}

export function openUrl(model: ContentsModel): string {
  if (model.type === "directory") return `/tree/${encodePath(model.path)}`;
  if (model.type === "notebook") return `/notebooks/${encodePath(model.path)}`;
  return `/edit/${encodePath(model.path)}`;
}

// Simple inline SVG icons: no icon font or emoji font needed.
const ICON_PATHS: Record<string, string> = {
  directory: "M1.5 3.5h5l1.5 1.5h6.5v8.5h-13z",
  notebook: "M3.5 1.5h9v13h-9zM5.5 1.5v13M7.5 5h3.5M7.5 7.5h3.5",
  file: "M3.5 1.5h6l3 3v10h-9zM9.5 1.5v3h3",
};

function icon(type: string): SVGSVGElement {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 16 16");
  svg.setAttribute("width", "16");
  svg.setAttribute("height", "16");
  svg.setAttribute("class", `icon icon-${type}`);
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", ICON_PATHS[type] || ICON_PATHS.file);
  svg.append(path);
  return svg;
}

export class FileBrowser {
  private table: HTMLTableSectionElement;
  private selected = new Set<string>();

  constructor(
    private root: HTMLElement,
    private dir: string,
  ) {
    this.table = h("tbody", {});
    const upload = h("input", { type: "file", multiple: true, hidden: true, "aria-label": "upload files" });
    upload.addEventListener("change", () => void this.upload(upload.files));
    const b = (text: string, fn: () => void, label = text) =>
      h("button", { class: "btn", type: "button", text, "aria-label": label, onclick: fn });
    this.root.replaceChildren(
      h(
        "header",
        { class: "topbar" },
        h("a", { class: "brand", href: "/tree/", text: "Adrastea" }),
        breadcrumbs(dir),
        h("span", { class: "spacer" }),
      ),
      h(
        "nav",
        { class: "toolbar", "aria-label": "file actions" },
        b("New notebook", () => void this.create("notebook")),
        b("New file", () => void this.create("file")),
        b("New folder", () => void this.create("directory")),
        b("Upload", () => upload.click()),
        h("span", { class: "sep" }),
        b("Rename", () => void this.rename()),
        b("Download", () => void this.download()),
        b("Delete", () => void this.remove()),
        upload,
      ),
      h(
        "main",
        { class: "files" },
        h(
          "table",
          { class: "file-table", "aria-label": "files" },
          h(
            "thead",
            {},
            h("tr", {}, h("th", { class: "check" }), h("th", { text: "Name" }), h("th", { text: "Modified" }), h("th", { class: "num", text: "Size" })),
          ),
          this.table,
        ),
      ),
    );
    document.title = `${dir || "/"} – Adrastea`;
  }

  async load(): Promise<void> {
    let model: ContentsModel;
    try {
      model = await api<ContentsModel>("GET", `${contentsUrl(this.dir)}?content=1`);
    } catch (err) {
      this.table.replaceChildren(h("tr", {}, h("td", { colspan: 4, text: `Cannot list: ${(err as Error).message}` })));
      return;
    }
    const items = ((model.content as ContentsModel[]) || []).slice().sort((a, b) => {
      const dirs = Number(b.type === "directory") - Number(a.type === "directory");
      return dirs || a.name.localeCompare(b.name);
    });
    this.selected.clear();
    const rows = items.map((item) => {
      const box = h("input", { type: "checkbox", "aria-label": `select ${item.name}` });
      box.addEventListener("change", () => {
        if (box.checked) this.selected.add(item.path);
        else this.selected.delete(item.path);
      });
      return h(
        "tr",
        { "data-path": item.path },
        h("td", { class: "check" }, box),
        h("td", {}, h("a", { href: openUrl(item), class: `file-link file-${item.type}` }, icon(item.type), item.name)),
        h("td", { text: new Date(item.last_modified).toLocaleString() }),
        h("td", { class: "num", text: item.type === "directory" || item.size == null ? "" : formatBytes(item.size) }),
      );
    });
    if (!rows.length) rows.push(h("tr", {}, h("td", { colspan: 4, class: "empty", text: "This folder is empty." })));
    this.table.replaceChildren(...rows);
  }

  private only(): string | null {
    if (this.selected.size !== 1) {
      toast("Select one item first");
      return null;
    }
    return [...this.selected][0];
  }

  private async create(type: "notebook" | "file" | "directory"): Promise<void> {
    try {
      const body = type === "file" ? { type, ext: ".py" } : { type };
      const model = await api<ContentsModel>("POST", contentsUrl(this.dir), body);
      if (type === "directory") await this.load();
      else location.assign(openUrl(model));
    } catch (err) {
      toast(`Could not create: ${(err as Error).message}`, "error");
    }
  }

  private async rename(): Promise<void> {
    const path = this.only();
    if (!path) return;
    const name = prompt("New name", path.split("/").pop());
    if (!name) return;
    const target = (this.dir ? `${this.dir}/` : "") + name;
    try {
      await api("PATCH", contentsUrl(path), { path: target });
      await this.load();
    } catch (err) {
      toast(`Rename failed: ${(err as Error).message}`, "error");
    }
  }

  private async remove(): Promise<void> {
    if (!this.selected.size) return void toast("Select items first");
    if (!confirm(`Delete ${this.selected.size} item(s)?`)) return;
    for (const path of this.selected) {
      try {
        await api("DELETE", contentsUrl(path));
      } catch (err) {
        toast(`Delete failed: ${(err as Error).message}`, "error");
      }
    }
    await this.load();
  }

  private async download(): Promise<void> {
    const path = this.only();
    if (!path) return;
    const model = await api<ContentsModel>("GET", `${contentsUrl(path)}?content=1`);
    let blob: Blob;
    if (model.type === "notebook") blob = new Blob([JSON.stringify(model.content, null, 1) + "\n"]);
    else if (model.format === "base64") {
      const bytes = Uint8Array.from(atob(String(model.content)), (c) => c.charCodeAt(0));
      blob = new Blob([bytes], { type: model.mimetype || "application/octet-stream" });
    } else if (model.type === "directory") return void toast("Folders cannot be downloaded");
    else blob = new Blob([String(model.content)], { type: model.mimetype || "text/plain" });
    download(model.name, blob);
  }

  private async upload(files: FileList | null): Promise<void> {
    for (const file of Array.from(files || [])) {
      const path = (this.dir ? `${this.dir}/` : "") + file.name;
      try {
        if (file.name.endsWith(".ipynb")) {
          await api("PUT", contentsUrl(path), { type: "notebook", format: "json", content: JSON.parse(await file.text()) });
        } else {
          const buffer = new Uint8Array(await file.arrayBuffer());
          let binary = "";
          for (let i = 0; i < buffer.length; i += 0x8000) binary += String.fromCharCode(...buffer.subarray(i, i + 0x8000));
          await api("PUT", contentsUrl(path), { type: "file", format: "base64", content: btoa(binary) });
        }
        toast(`Uploaded ${file.name}`);
      } catch (err) {
        toast(`Upload of ${file.name} failed: ${(err as Error).message}`, "error");
      }
    }
    await this.load();
  }
}
