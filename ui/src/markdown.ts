// Markdown cells and text/markdown outputs: marked, then DOMPurify, then KaTeX
// for $…$ and $$…$$ (math is cut out before marked sees it, so _ and * in TeX
// stay intact, and put back as placeholders KaTeX fills in).
import { marked } from "marked";
import { renderMath } from "./math";
import { sanitizedFragment } from "./sanitize";

const MATH = /(\$\$[\s\S]+?\$\$|\\\[[\s\S]+?\\\]|\\\([\s\S]+?\\\)|(?<![\\$\w])\$(?!\s)[^$\n]+?(?<![\s\\])\$(?!\w))/g;

interface Piece {
  tex: string;
  display: boolean;
}

function cutMath(source: string): { text: string; pieces: Piece[] } {
  const pieces: Piece[] = [];
  // Leave code spans and fenced code alone.
  const parts = source.split(/(```[\s\S]*?```|`[^`\n]*`)/g);
  const text = parts
    .map((part, i) => {
      if (i % 2 === 1) return part;
      return part.replace(MATH, (m) => {
        let tex: string;
        let display: boolean;
        if (m.startsWith("$$")) [tex, display] = [m.slice(2, -2), true];
        else if (m.startsWith("\\[")) [tex, display] = [m.slice(2, -2), true];
        else if (m.startsWith("\\(")) [tex, display] = [m.slice(2, -2), false];
        else [tex, display] = [m.slice(1, -1), false];
        pieces.push({ tex, display });
        return `<span class="adr-math"></span>`;
      });
    })
    .join("");
  return { text, pieces };
}

/** Render ``source`` (untrusted markdown) into ``target``. */
export async function renderMarkdown(target: HTMLElement, source: string): Promise<void> {
  const { text, pieces } = cutMath(source);
  const html = await marked.parse(text, { gfm: true, breaks: false, async: true });
  // Math slots are found by class; their index rides in the element's order.
  target.replaceChildren(sanitizedFragment(html));
  const slots = target.querySelectorAll<HTMLElement>("span.adr-math");
  const jobs: Promise<void>[] = [];
  slots.forEach((slot, index) => {
    const piece = pieces[index];
    if (!piece) return;
    slot.className = piece.display ? "math math-display" : "math";
    jobs.push(renderMath(slot, piece.tex, piece.display));
  });
  await Promise.all(jobs);
}
