// Entry point: pick the view from the address (/tree/…, /notebooks/…, /edit/…).
import "./style.css";
import { FileBrowser } from "./browser";
import { h } from "./dom";

function route(): void {
  const url = new URL(location.href);
  if (url.searchParams.has("token")) {
    // The server set the auth cookie on this response; keep the token out of history.
    url.searchParams.delete("token");
    history.replaceState(null, "", url.pathname + url.search + url.hash);
  }
  const root = document.getElementById("app") as HTMLElement;
  const path = decodeURIComponent(url.pathname);
  const [, view, ...rest] = path.split("/");
  const target = rest.join("/").replace(/\/$/, "");
  if (view === "notebooks" && target) {
    void import("./notebook").then(({ NotebookView }) => {
      const nb = new NotebookView(root, target);
      (window as unknown as { adrastea: unknown }).adrastea = nb;
      void nb.start();
    });
  } else if (view === "edit" && target) {
    void import("./editor").then(({ openEditor }) => openEditor(root, target));
  } else if (view === "tree" || !view) {
    void new FileBrowser(root, target).load();
  } else {
    root.replaceChildren(h("p", { text: "Nothing here." }));
  }
}

route();
