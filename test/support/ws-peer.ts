/** A phone-side WebSocket client for tests: queued messages, awaitable close. */
export class Phone {
  readonly ws: WebSocket;
  readonly opened: Promise<void>;
  readonly closed: Promise<{ code: number; reason: string }>;
  #messages: string[] = [];
  #waiting: Array<(m: string) => void> = [];

  constructor(url: string) {
    this.ws = new WebSocket(url);
    this.opened = new Promise((resolve, reject) => {
      this.ws.addEventListener("open", () => resolve(), { once: true });
      this.ws.addEventListener("close", () => reject(new Error("phone socket closed before it opened")), { once: true });
    });
    this.opened.catch(() => {});
    this.closed = new Promise((resolve) =>
      this.ws.addEventListener("close", (e) => resolve({ code: e.code, reason: e.reason }), { once: true }),
    );
    this.ws.addEventListener("message", (e) => {
      const text = String(e.data);
      const waiter = this.#waiting.shift();
      if (waiter) waiter(text);
      else this.#messages.push(text);
    });
  }

  static async connect(url: string): Promise<Phone> {
    const phone = new Phone(url);
    await phone.opened;
    return phone;
  }

  send(text: string): void {
    this.ws.send(text);
  }

  /** The next message, or a rejection after `timeoutMs`. */
  next(timeoutMs = 5_000): Promise<string> {
    const queued = this.#messages.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("no message in time")), timeoutMs);
      this.#waiting.push((m) => {
        clearTimeout(timer);
        resolve(m);
      });
    });
  }

  close(code = 1000, reason = ""): void {
    this.ws.close(code, reason);
  }
}
