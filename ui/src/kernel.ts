// Completion and inspection over the kernel channels WebSocket (Jupyter
// messaging, JSON frames). Opened lazily, one per kernel id.

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Content = Record<string, any>;

const uuid = (): string =>
  crypto.randomUUID ? crypto.randomUUID() : Math.random().toString(16).slice(2) + Date.now().toString(16);

export class KernelChannel {
  private socket: WebSocket | null = null;
  private opened: Promise<WebSocket> | null = null;
  private waiting = new Map<string, (content: Content) => void>();
  private readonly session = uuid();

  constructor(public readonly kernelId: string) {}

  private open(): Promise<WebSocket> {
    if (this.opened) return this.opened;
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const url = `${scheme}//${location.host}/api/kernels/${encodeURIComponent(this.kernelId)}/channels?session_id=${this.session}&iopub=false`;
    this.opened = new Promise((resolve, reject) => {
      const socket = new WebSocket(url);
      socket.onopen = () => resolve(socket);
      socket.onerror = () => reject(new Error("kernel channel failed"));
      socket.onclose = () => {
        this.opened = null;
        this.socket = null;
      };
      socket.onmessage = (event) => {
        if (typeof event.data !== "string") return;
        const msg = JSON.parse(event.data);
        const parent = msg.parent_header?.msg_id;
        const done = parent && this.waiting.get(parent);
        if (done && msg.channel === "shell") {
          this.waiting.delete(parent);
          done(msg.content);
        }
      };
      this.socket = socket;
    });
    return this.opened;
  }

  /** Send a shell request; resolves with the reply's content (rejects after ``timeout`` ms). */
  async request(msgType: string, content: Content, timeout = 5000): Promise<Content> {
    const socket = await this.open();
    const msgId = uuid();
    const message = {
      header: {
        msg_id: msgId,
        msg_type: msgType,
        session: this.session,
        username: "adrastea-ui",
        date: new Date().toISOString(),
        version: "5.3",
      },
      parent_header: {},
      metadata: {},
      content,
      channel: "shell",
      buffers: [],
    };
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(msgId);
        reject(new Error(`${msgType} timed out`));
      }, timeout);
      this.waiting.set(msgId, (reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
      socket.send(JSON.stringify(message));
    });
  }

  close(): void {
    this.socket?.close();
  }
}
