/**
 * A loopback port where a TCP connect neither opens nor fails: a listener in
 * a child process that is stopped (SIGSTOP) with its accept queue full, so
 * the kernel drops every further SYN and the client waits, as it would for a
 * gateway host that has gone silent. Stopped by pid.
 *
 * Bun's listeners ignore a requested backlog (512 here), so the queue is filled
 * until a connect is seen to stay pending; start() fails rather than hand out
 * a port that still answers.
 */
import { connect, type Socket } from "node:net";

const LISTENER = `const s = require("node:net").createServer(() => {});
s.listen({ port: 0, host: "127.0.0.1" }, () => console.log(s.address().port));`;

const BATCH = 256;
const MAX_QUEUED = 8192;
const PENDING_MS = 300;

export class SilentPort implements Disposable {
  #child: ReturnType<typeof Bun.spawn>;
  #sockets: Socket[] = [];
  port = 0;

  constructor() {
    this.#child = Bun.spawn([process.execPath, "-e", LISTENER], { stdout: "pipe", stderr: "inherit" });
  }

  async start(): Promise<this> {
    try {
      this.port = await this.#listening();
      process.kill(this.#child.pid, "SIGSTOP");
      while (!(await this.#staysPending())) {
        if (this.#sockets.length >= MAX_QUEUED) throw new Error(`silent-port: ${MAX_QUEUED} queued connections and the port still answers`);
        await Promise.all(Array.from({ length: BATCH }, () => this.#open()));
      }
      return this;
    } catch (error) {
      this[Symbol.dispose]();
      throw error;
    }
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  async #listening(): Promise<number> {
    const reader = (this.#child.stdout as ReadableStream<Uint8Array>).getReader();
    let text = "";
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) throw new Error("silent-port: the listener exited before listening");
      text += new TextDecoder().decode(value);
    }
    reader.releaseLock();
    return Number(text.trim());
  }

  /** One more connection into the queue; settles when it opens, fails, or is left pending. */
  #open(): Promise<boolean> {
    return new Promise((resolve) => {
      const socket = connect(this.port, "127.0.0.1", () => resolve(true));
      socket.on("error", () => resolve(true));
      setTimeout(() => resolve(false), PENDING_MS);
      this.#sockets.push(socket);
    });
  }

  /** Whether a new connect is left pending: the queue is full. */
  async #staysPending(): Promise<boolean> {
    return !(await this.#open());
  }

  [Symbol.dispose](): void {
    for (const socket of this.#sockets) socket.destroy();
    try {
      process.kill(this.#child.pid, "SIGKILL");
    } catch {}
  }
}
