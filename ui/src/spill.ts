// Full outputs behind the document's stand-ins: read from the server page by page and
// kept in a small cache, so re-rendering a cell (the document changed) does not fetch
// them again.
import { api, notebookUrl } from "./api";
import type { Output } from "./outputs";

/** Bytes asked for per request. */
const PAGE_BYTES = 4 << 20;
/** Bytes of full outputs kept; the least recently used go first. */
const CACHE_BYTES = 64 << 20;

interface Page {
  text: string;
  next_offset: number;
  eof: boolean;
  total_bytes: number;
}

const cache = new Map<string, { output: Output; bytes: number }>();
const loading = new Map<string, Promise<Output>>();
let cachedBytes = 0;

const cacheKey = (path: string, outputId: string): string => `${path}\n${outputId}`;

/** The full output if it has been loaded already. */
export function cachedOutput(path: string, outputId: string): Output | undefined {
  const key = cacheKey(path, outputId);
  const hit = cache.get(key);
  if (!hit) return undefined;
  cache.delete(key); // most recently used last
  cache.set(key, hit);
  return hit.output;
}

function remember(key: string, output: Output, bytes: number): void {
  cache.set(key, { output, bytes });
  cachedBytes += bytes;
  for (const [old, entry] of cache) {
    if (cachedBytes <= CACHE_BYTES || old === key) break;
    cache.delete(old);
    cachedBytes -= entry.bytes;
  }
}

async function readAll(
  path: string,
  outputId: string,
  onProgress?: (loaded: number, total: number) => void,
): Promise<{ output: Output; bytes: number }> {
  const url = `${notebookUrl(path, "outputs")}/${encodeURIComponent(outputId)}`;
  const parts: string[] = [];
  let offset = 0;
  for (;;) {
    const page = await api<Page>("GET", `${url}?offset=${offset}&limit=${PAGE_BYTES}`);
    parts.push(page.text);
    onProgress?.(page.next_offset, page.total_bytes);
    if (!page.eof && page.next_offset <= offset) throw new Error("the server sent no more of this output");
    offset = page.next_offset;
    if (page.eof) break;
  }
  const output: unknown = JSON.parse(parts.join(""));
  if (!output || typeof output !== "object" || Array.isArray(output)) throw new Error("not an output");
  return { output: output as Output, bytes: offset };
}

/** The full output behind a stand-in (one request at a time per output). */
export function loadOutput(
  path: string,
  outputId: string,
  onProgress?: (loaded: number, total: number) => void,
): Promise<Output> {
  const hit = cachedOutput(path, outputId);
  if (hit) return Promise.resolve(hit);
  const key = cacheKey(path, outputId);
  let promise = loading.get(key);
  if (!promise) {
    promise = readAll(path, outputId, onProgress)
      .then(({ output, bytes }) => {
        remember(key, output, bytes);
        return output;
      })
      .finally(() => loading.delete(key));
    loading.set(key, promise);
  }
  return promise;
}

const waiting = new Map<Element, () => void>();
let observer: IntersectionObserver | null = null;

function nearView(entries: IntersectionObserverEntry[]): void {
  for (const entry of entries) {
    const callback = waiting.get(entry.target);
    if (!callback || !entry.isIntersecting) continue;
    forget(entry.target);
    callback();
  }
  // Placeholders replaced before they came near (the cell was re-rendered) are let go.
  for (const el of waiting.keys()) if (!el.isConnected) forget(el);
}

function forget(el: Element): void {
  waiting.delete(el);
  observer?.unobserve(el);
}

/** Call ``callback`` once, when ``el`` comes within a screen of the viewport. */
export function whenNearView(el: Element, callback: () => void): void {
  observer ??= new IntersectionObserver(nearView, { rootMargin: "100% 0px" });
  waiting.set(el, callback);
  observer.observe(el);
}
