/**
 * A loopback port where a TCP connect neither opens nor fails: a listener in
 * a child process that is stopped (SIGSTOP) with its accept queue full, so
 * the kernel drops every further SYN and the client waits, as it would for a
 * gateway host that has gone silent. Stopped by pid.
 */
import { connect, type Socket } from "node:net";

const LISTENER = `const s = require("node:net").createServer(() => {});
s.listen({ port: 0, host: "127.0.0.1" }, () => console.log(s.address().port));`;

// Bun listens with a backlog of 512; the kernel queues one more than that.
const QUEUE = 520;

export class SilentPort implements Disposable {
  #child: ReturnType<typeof Bun.spawn>;
  #sockets: Socket[] = [];
  port = 0;

  constructor() {
    this.#child = Bun.spawn([process.execPath, "-e", LISTENER], { stdout: "pipe", stderr: "inherit" });
  }

  async start(): Promise<this> {
    const reader = (this.#child.stdout as ReadableStream<Uint8Array>).getReader();
    let text = "";
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) throw new Error("silent-port listener exited before listening");
      text += new TextDecoder().decode(value);
    }
    reader.releaseLock();
    this.port = Number(text.trim());
    process.kill(this.#child.pid, "SIGSTOP");
    await Promise.all(
      Array.from({ length: QUEUE }, () => new Promise<void>((resolve) => {
        const socket = connect(this.port, "127.0.0.1", () => resolve());
        socket.on("error", () => resolve());
        setTimeout(resolve, 500); // the last few stay pending: the queue is full
        this.#sockets.push(socket);
      })),
    );
    return this;
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  [Symbol.dispose](): void {
    for (const socket of this.#sockets) socket.destroy();
    try {
      process.kill(this.#child.pid, "SIGKILL");
    } catch {}
  }
}
