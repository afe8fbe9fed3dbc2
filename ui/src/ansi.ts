// ANSI SGR escapes to DOM spans (colours, bold, italic, underline), and \r / \b
// handling so progress bars show their last state. Everything else is dropped.

const BASIC = ["black", "red", "green", "yellow", "blue", "magenta", "cyan", "white"];

interface Style {
  fg: string | null;
  bg: string | null;
  bold: boolean;
  italic: boolean;
  underline: boolean;
  inverse: boolean;
}

const plain = (): Style => ({
  fg: null,
  bg: null,
  bold: false,
  italic: false,
  underline: false,
  inverse: false,
});

function color256(n: number): string {
  if (n < 16) return n < 8 ? `var(--ansi-${BASIC[n]})` : `var(--ansi-bright-${BASIC[n - 8]})`;
  if (n < 232) {
    const i = n - 16;
    const level = (v: number) => (v === 0 ? 0 : 55 + v * 40);
    return `rgb(${level(Math.floor(i / 36))},${level(Math.floor(i / 6) % 6)},${level(i % 6)})`;
  }
  const g = 8 + (n - 232) * 10;
  return `rgb(${g},${g},${g})`;
}

function apply(style: Style, params: number[]): void {
  for (let i = 0; i < params.length; i++) {
    const p = params[i];
    if (p === 0) Object.assign(style, plain());
    else if (p === 1) style.bold = true;
    else if (p === 3) style.italic = true;
    else if (p === 4) style.underline = true;
    else if (p === 7) style.inverse = true;
    else if (p === 22) style.bold = false;
    else if (p === 23) style.italic = false;
    else if (p === 24) style.underline = false;
    else if (p === 27) style.inverse = false;
    else if (p >= 30 && p <= 37) style.fg = `var(--ansi-${BASIC[p - 30]})`;
    else if (p === 39) style.fg = null;
    else if (p >= 40 && p <= 47) style.bg = `var(--ansi-${BASIC[p - 40]})`;
    else if (p === 49) style.bg = null;
    else if (p >= 90 && p <= 97) style.fg = `var(--ansi-bright-${BASIC[p - 90]})`;
    else if (p >= 100 && p <= 107) style.bg = `var(--ansi-bright-${BASIC[p - 100]})`;
    else if (p === 38 || p === 48) {
      let value: string | null = null;
      if (params[i + 1] === 5 && params[i + 2] !== undefined) {
        value = color256(params[i + 2]);
        i += 2;
      } else if (params[i + 1] === 2 && params[i + 4] !== undefined) {
        value = `rgb(${params[i + 2]},${params[i + 3]},${params[i + 4]})`;
        i += 4;
      }
      if (p === 38) style.fg = value;
      else style.bg = value;
    }
  }
}

/** Resolve carriage returns and backspaces line by line, as a terminal shows them. */
export function resolveCarriageReturns(text: string): string {
  if (!text.includes("\r") && !text.includes("\b")) return text;
  const lines = text.replace(/\r\n/g, "\n").split("\n");
  return lines
    .map((line) => {
      if (line.includes("\b")) {
        let out = "";
        for (const ch of line) out = ch === "\b" ? out.slice(0, -1) : out + ch;
        line = out;
      }
      if (!line.includes("\r")) return line;
      const parts = line.split("\r");
      let shown = "";
      for (const part of parts) shown = part + shown.slice(part.length);
      return shown;
    })
    .join("\n");
}

// eslint-disable-next-line no-control-regex
const ESCAPE = /\x1b\[([0-9;?]*)([A-Za-z])|\x1b\][^\x07]*(?:\x07|\x1b\\)|\x1b[()][A-Z0-9]/g;

/** Append ``text`` with ANSI escapes to ``target`` as text nodes and styled spans. */
export function appendAnsi(target: Node, text: string): void {
  const style = plain();
  let last = 0;
  const emit = (chunk: string) => {
    if (!chunk) return;
    const styled =
      style.fg || style.bg || style.bold || style.italic || style.underline || style.inverse;
    if (!styled) {
      target.appendChild(document.createTextNode(chunk));
      return;
    }
    const span = document.createElement("span");
    span.textContent = chunk;
    const fg = style.inverse ? style.bg || "var(--bg)" : style.fg;
    const bg = style.inverse ? style.fg || "var(--fg)" : style.bg;
    if (fg) span.style.color = fg;
    if (bg) span.style.backgroundColor = bg;
    if (style.bold) span.style.fontWeight = "bold";
    if (style.italic) span.style.fontStyle = "italic";
    if (style.underline) span.style.textDecoration = "underline";
    target.appendChild(span);
  };
  ESCAPE.lastIndex = 0;
  for (let m = ESCAPE.exec(text); m; m = ESCAPE.exec(text)) {
    emit(text.slice(last, m.index));
    last = m.index + m[0].length;
    if (m[2] === "m") {
      const params = (m[1] || "0").split(";").map((s) => (s === "" ? 0 : Number(s)));
      apply(style, params);
    }
  }
  emit(text.slice(last));
}

/** Text without ANSI escapes (for copying and searching). */
export function stripAnsi(text: string): string {
  return text.replace(ESCAPE, "");
}
