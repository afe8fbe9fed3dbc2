// The server's REST API, with the XSRF header cookie-authenticated writes need.

export class ApiError extends Error {
  constructor(
    public status: number,
    public detail: string,
  ) {
    super(detail);
  }
}

export function xsrfToken(): string {
  const match = document.cookie.match(/(?:^|;\s*)_xsrf=([^;]*)/);
  return match ? decodeURIComponent(match[1]) : "";
}

/** Encode an API path segment by segment (slashes stay). */
export function encodePath(path: string): string {
  return path.split("/").map(encodeURIComponent).join("/");
}

export async function api<T = unknown>(method: string, url: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { "X-XSRFToken": xsrfToken() };
  let payload: string | undefined;
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  const response = await fetch(url, { method, headers, body: payload, credentials: "same-origin" });
  if (!response.ok) {
    let detail = `${response.status} ${response.statusText}`;
    try {
      const problem = await response.json();
      detail = problem.detail || problem.title || detail;
    } catch {
      // not JSON: keep the status line
    }
    throw new ApiError(response.status, detail);
  }
  if (response.status === 204) return undefined as T;
  const type = response.headers.get("content-type") || "";
  return (type.includes("json") ? await response.json() : await response.text()) as T;
}

export interface ContentsModel {
  name: string;
  path: string;
  type: "directory" | "file" | "notebook";
  last_modified: string;
  created?: string;
  size?: number | null;
  writable?: boolean;
  mimetype?: string | null;
  format?: string | null;
  content?: unknown;
}

export const contentsUrl = (path: string): string => `/api/contents/${encodePath(path)}`;
export const notebookUrl = (path: string, action: string): string =>
  `/api/notebooks/${encodePath(path)}/${action}`;

export interface KernelInfo {
  id: string;
  name?: string;
  execution_state?: string;
  connections?: number;
}

export interface NotebookStatus {
  path: string;
  session_id: string;
  kernel: KernelInfo | null;
  environment: { name: string; choices: Record<string, unknown> } | null;
  job: { job_id: string; node?: string | null; time_left?: string | null; state?: string } | null;
  running: string | null;
  /** When the running cell was sent to the kernel (ISO), null while it waits for the kernel. */
  running_since?: string | null;
  queue: string[];
  last_error: unknown;
  pending_input: { prompt: string; password: boolean } | null;
  dirty: boolean;
  conflict: string | null;
  clients: number;
}

export interface Environment {
  name: string;
  display_name?: string;
  kernelspec?: string;
  placement?: string;
  language?: string;
  schema?: { properties?: Record<string, SchemaField>; required?: string[] };
}

export interface SchemaField {
  type?: string;
  title?: string;
  description?: string;
  default?: string | number;
  enum?: (string | number)[];
  minimum?: number;
  maximum?: number;
}
