/**
 * A test gateway on 127.0.0.1: echoes every text frame. A frame
 * `close:<code>:<reason>` makes it close the socket with that code and reason;
 * `bytes:<n>` makes it answer with a frame of n bytes.
 */
import type { Server } from "bun";

export type EchoGatewayOptions = {
  /** Wait this long before accepting each WebSocket (a slow gateway). */
  acceptDelayMs?: number;
  port?: number;
};

export class EchoGateway {
  opened = 0;
  open = 0;
  readonly closes: Array<{ code: number; reason: string }> = [];
  #server: Server<undefined>;
  acceptDelayMs: number;

  constructor(o: EchoGatewayOptions = {}) {
    this.acceptDelayMs = o.acceptDelayMs ?? 0;
    this.#server = Bun.serve<undefined>({
      hostname: "127.0.0.1",
      port: o.port ?? 0,
      fetch: async (req, server) => {
        if (this.acceptDelayMs > 0) await Bun.sleep(this.acceptDelayMs);
        if (server.upgrade(req, { data: undefined })) return undefined;
        return new Response("expected a WebSocket", { status: 426 });
      },
      websocket: {
        maxPayloadLength: 64 * 1024 * 1024,
        perMessageDeflate: false,
        open: () => {
          this.opened++;
          this.open++;
        },
        message: (ws, message) => {
          const text = String(message);
          if (text.startsWith("close:")) {
            const [, code, ...reason] = text.split(":");
            ws.close(Number(code), reason.join(":"));
          } else if (text.startsWith("bytes:")) {
            ws.send("y".repeat(Number(text.slice(6))));
          } else ws.send(text);
        },
        close: (_ws, code, reason) => {
          this.open--;
          this.closes.push({ code, reason });
        },
      },
    });
  }

  get port(): number {
    return this.#server.port!;
  }
  get url(): string {
    return `ws://127.0.0.1:${this.port}`;
  }
  stop(): void {
    this.#server.stop(true);
  }
}
