// KaTeX, loaded on first use (its JS and CSS are split from the main bundle).
import type katexType from "katex";

let loading: Promise<typeof katexType> | null = null;

function loadCss(): void {
  const href = document.querySelector('meta[name="adrastea-katex-css"]')?.getAttribute("content");
  if (!href || document.querySelector(`link[href="${href}"]`)) return;
  const link = document.createElement("link");
  link.rel = "stylesheet";
  link.href = href;
  document.head.append(link);
}

export function loadKatex(): Promise<typeof katexType> {
  if (!loading) {
    loadCss();
    loading = import("katex").then((m) => m.default);
  }
  return loading;
}

/** Render ``tex`` into ``target`` (errors show as red source, never throw). */
export async function renderMath(target: HTMLElement, tex: string, display: boolean): Promise<void> {
  const katex = await loadKatex();
  try {
    // KaTeX builds DOM itself and trusts no input: \href and \url are off.
    katex.render(tex, target, { displayMode: display, throwOnError: false, trust: false });
  } catch {
    target.textContent = tex;
  }
}

/** Math delimiters in ``text/latex`` outputs: $$…$$, \[…\], $…$ or the whole thing. */
export async function renderLatexOutput(target: HTMLElement, source: string): Promise<void> {
  const trimmed = source.trim();
  const m = /^\$\$([\s\S]*)\$\$$/.exec(trimmed) || /^\\\[([\s\S]*)\\\]$/.exec(trimmed);
  if (m) return renderMath(target, m[1], true);
  const inline = /^\$([\s\S]*)\$$/.exec(trimmed);
  if (inline) return renderMath(target, inline[1], false);
  const begin = /^\\begin\{/.test(trimmed);
  return renderMath(target, trimmed, begin);
}
