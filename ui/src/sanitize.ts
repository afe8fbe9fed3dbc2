// Untrusted HTML and SVG from notebooks: DOMPurify with no scripts, no event
// handlers, no javascript: URLs, no forms, no frames; links open in a new tab.
// Inline styles stay (tables and rich text need them); the containers they are
// put in use `contain: paint`, so nothing can be positioned over the app.
import DOMPurify from "dompurify";

let hooked = false;

function hook(): void {
  if (hooked) return;
  hooked = true;
  DOMPurify.addHook("afterSanitizeAttributes", (node) => {
    if (node instanceof Element && node.tagName === "A" && node.hasAttribute("href")) {
      node.setAttribute("target", "_blank");
      node.setAttribute("rel", "noopener noreferrer");
    }
  });
}

const CONFIG = {
  FORBID_TAGS: ["script", "style", "iframe", "object", "embed", "form", "base", "meta", "link"],
  FORBID_ATTR: ["srcdoc", "formaction", "action"],
  ALLOW_DATA_ATTR: false,
  ADD_ATTR: ["target"],
};

/** A sanitised fragment of ``html`` (HTML or inline SVG). */
export function sanitizedFragment(html: string): DocumentFragment {
  hook();
  return DOMPurify.sanitize(html, { ...CONFIG, RETURN_DOM_FRAGMENT: true }) as DocumentFragment;
}

/** A sanitised SVG document rendered as an element. */
export function sanitizedSvg(svg: string): DocumentFragment {
  hook();
  return DOMPurify.sanitize(svg, {
    ...CONFIG,
    USE_PROFILES: { svg: true, svgFilters: true },
    RETURN_DOM_FRAGMENT: true,
  }) as DocumentFragment;
}

export function sanitizedHtml(html: string): string {
  hook();
  return DOMPurify.sanitize(html, CONFIG) as string;
}
