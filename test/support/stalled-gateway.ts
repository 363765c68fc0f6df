/**
 * A gateway that accepts the WebSocket handshake and then stops reading
 * (node:net socket.pause()), so the connector's writes back up exactly as
 * they would against a gateway stuck on the other end of a full TCP window.
 */
import { createHash } from "node:crypto";
import { createServer, type Server, type Socket } from "node:net";

export class StalledGateway {
  readonly sockets: Socket[] = [];
  #server: Server;
  readonly ready: Promise<void>;
  /** With `stallAfterFirstData`: settles when the first bytes after the handshake arrived (the connector forwards). */
  readonly forwarding: Promise<void>;
  #forwarding!: () => void;

  /** `stallAfterFirstData`: read the first chunk after the handshake, then stop reading (else stop at once). */
  constructor(options: { stallAfterFirstData?: boolean } = {}) {
    this.forwarding = new Promise((resolve) => (this.#forwarding = resolve));
    this.#server = createServer((socket) => {
      this.sockets.push(socket);
      let head = "";
      const onData = (chunk: Buffer) => {
        head += chunk.toString("latin1");
        const end = head.indexOf("\r\n\r\n");
        if (end < 0) return;
        socket.off("data", onData);
        const key = /sec-websocket-key:\s*(\S+)/i.exec(head)?.[1] ?? "";
        const accept = createHash("sha1").update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest("base64");
        socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
        if (!options.stallAfterFirstData) {
          socket.pause();
          return;
        }
        socket.once("data", () => {
          socket.pause();
          this.#forwarding();
        });
      };
      socket.on("data", onData);
      socket.on("error", () => {});
    });
    this.ready = new Promise((resolve) => this.#server.listen(0, "127.0.0.1", () => resolve()));
  }

  get url(): string {
    const address = this.#server.address();
    return `ws://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
  }

  stop(): void {
    for (const s of this.sockets) s.destroy();
    this.#server.close();
  }
}
