// CodeMirror language support by kernel language or file name, loaded on demand.
import type { Extension } from "@codemirror/state";

type Loader = () => Promise<Extension>;

const legacy = (load: () => Promise<{ [k: string]: unknown }>, name: string): Loader => async () => {
  const [{ StreamLanguage }, mode] = await Promise.all([import("@codemirror/language"), load()]);
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return StreamLanguage.define(mode[name] as any);
};

const LOADERS: Record<string, Loader> = {
  python: async () => (await import("@codemirror/lang-python")).python(),
  markdown: async () => (await import("@codemirror/lang-markdown")).markdown(),
  shell: legacy(() => import("@codemirror/legacy-modes/mode/shell"), "shell"),
  julia: legacy(() => import("@codemirror/legacy-modes/mode/julia"), "julia"),
  r: legacy(() => import("@codemirror/legacy-modes/mode/r"), "r"),
  toml: legacy(() => import("@codemirror/legacy-modes/mode/toml"), "toml"),
  yaml: legacy(() => import("@codemirror/legacy-modes/mode/yaml"), "yaml"),
  json: legacy(() => import("@codemirror/legacy-modes/mode/javascript"), "json"),
};

const ALIASES: Record<string, string> = {
  bash: "shell",
  sh: "shell",
  zsh: "shell",
  ipython: "python",
  ipython3: "python",
  python3: "python",
  md: "markdown",
};

const EXTENSIONS: Record<string, string> = {
  py: "python",
  pyi: "python",
  sh: "shell",
  bash: "shell",
  sbatch: "shell",
  slurm: "shell",
  md: "markdown",
  markdown: "markdown",
  jl: "julia",
  r: "r",
  toml: "toml",
  yaml: "yaml",
  yml: "yaml",
  json: "json",
  ipynb: "json",
};

const cache = new Map<string, Promise<Extension>>();

/** The language extension for a kernel language name (empty for unknown ones). */
export function languageSupport(language: string | null | undefined): Promise<Extension> {
  const key = ALIASES[(language || "").toLowerCase()] || (language || "").toLowerCase();
  const loader = LOADERS[key];
  if (!loader) return Promise.resolve([]);
  let loaded = cache.get(key);
  if (!loaded) {
    loaded = loader().catch((err) => {
      console.warn(`language ${key} failed to load`, err);
      return [];
    });
    cache.set(key, loaded);
  }
  return loaded;
}

/** The language name for a file path, from its extension (or a shebang line). */
export function languageForFile(path: string, text: string): string | null {
  const ext = path.split(".").pop()?.toLowerCase() || "";
  if (EXTENSIONS[ext]) return EXTENSIONS[ext];
  const shebang = /^#!.*\b(bash|sh|zsh|python3?)\b/.exec(text);
  if (shebang) return ALIASES[shebang[1]] || shebang[1];
  return null;
}
