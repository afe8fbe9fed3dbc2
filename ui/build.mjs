// Bundle the UI into ../src/adrastea/static (committed; shipped in the Python package).
// Deterministic: same sources and node_modules give byte-identical files, so CI can
// rebuild and `git diff --exit-code src/adrastea/static` to catch a stale bundle.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "src", "adrastea", "static");

// KaTeX's CSS lists woff2, woff and ttf fonts; every browser we support takes
// woff2, so the others are dropped to keep the package small.
const woff2Only = {
  name: "katex-woff2-only",
  setup(build) {
    build.onLoad({ filter: /katex(\.min)?\.css$/ }, (args) => {
      const css = readFileSync(args.path, "utf8").replace(
        /,\s*url\([^)]*\.(woff|ttf)\) format\("(woff|truetype)"\)/g,
        "",
      );
      return { contents: css, loader: "css" };
    });
  },
};

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

const result = await esbuild.build({
  absWorkingDir: here,
  entryPoints: { app: "src/main.ts", katex: "src/katex.css" },
  bundle: true,
  splitting: true,
  format: "esm",
  target: ["es2020", "chrome100", "firefox100", "safari15"],
  minify: true,
  sourcemap: false,
  legalComments: "eof",
  outdir: out,
  publicPath: "/static",
  entryNames: "[name]-[hash]",
  chunkNames: "chunks/[name]-[hash]",
  assetNames: "fonts/[name]-[hash]",
  loader: { ".woff2": "file", ".woff": "file", ".ttf": "file" },
  metafile: true,
  logLevel: "warning",
  plugins: [woff2Only],
});

const outputs = Object.entries(result.metafile.outputs);
const url = (file) => "/static/" + relative(out, join(here, file)).split("\\").join("/");
const app = outputs.find(([, o]) => o.entryPoint === "src/main.ts");
const katex = outputs.find(([file]) => /katex-[A-Z0-9]+\.css$/.test(file));
if (!app || !katex) throw new Error("build: missing app or katex output");
const appJs = url(app[0]);
const appCss = app[1].cssBundle ? url(app[1].cssBundle) : null;
// The notebook view is a lazy chunk; preload it and what it imports so that
// opening a notebook does not wait for a second round of module fetches.
const byFile = Object.fromEntries(outputs);
const notebook = outputs.find(([, o]) => o.entryPoint === "src/notebook.ts");
const preload = new Set();
const walk = (file) => {
  for (const imp of byFile[file]?.imports || []) {
    if (imp.kind !== "import-statement" || preload.has(imp.path)) continue;
    preload.add(imp.path);
    walk(imp.path);
  }
};
if (notebook) {
  preload.add(notebook[0]);
  walk(notebook[0]);
}
const preloadLinks = [...preload]
  .sort()
  .map((file) => `<link rel="modulepreload" href="${url(file)}">\n`)
  .join("");

const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<meta name="adrastea-katex-css" content="${url(katex[0])}">
<title>Adrastea</title>
${appCss ? `<link rel="stylesheet" href="${appCss}">\n` : ""}<link rel="icon" href="data:,">
<script type="module" src="${appJs}"></script>
${preloadLinks}
</head>
<body>
<div id="app"></div>
</body>
</html>
`;
writeFileSync(join(out, "index.html"), html);
console.log(`built ${outputs.length} files into ${relative(process.cwd(), out)}`);
