/**
 * A test relay: the relay side of SPEC §4 on 127.0.0.1. Phones dial
 * /v1/gateway/<id>?secret=…, the connector dials /v1/connector/<id>?secret=…;
 * each phone socket becomes a stream multiplexed over the connector socket.
 */
import type { Server, ServerWebSocket } from "bun";
import { randomToken } from "../../src/crypto/random.ts";

type Peer =
  | { kind: "connector"; relayId: string }
  | { kind: "phone"; relayId: string; streamId: number };

export type RelayEvent =
  | { type: "connector-open" }
  | { type: "connector-close"; code: number }
  | { type: "close-from-connector"; streamId: number; code: number; reason: string };

export type TestRelayOptions = { relayId?: string; relaySecret?: string; port?: number };

export class TestRelay {
  readonly relayId: string;
  readonly relaySecret: string;
  readonly events: RelayEvent[] = [];
  /** Every connector socket the relay accepted, for counting. */
  connectorConnections = 0;
  #server: Server<Peer>;
  #port: number;
  #connector: ServerWebSocket<Peer> | undefined;
  #phones = new Map<number, ServerWebSocket<Peer>>();
  #nextStream = 1;
  #waiters: Array<() => void> = [];

  /** A relay for a fresh relay id and secret (the sizes `pair` mints), unless given. */
  constructor(o: TestRelayOptions = {}) {
    this.relayId = o.relayId ?? randomToken(18);
    this.relaySecret = o.relaySecret ?? randomToken(32);
    this.#server = this.#listen(o.port ?? 0);
    this.#port = this.#server.port!;
  }

  get port(): number {
    return this.#port;
  }
  /** The relay base URL (what relay.json holds). */
  get url(): string {
    return `ws://127.0.0.1:${this.port}`;
  }
  /** What the phone dials (contains the secret: tests must not print it). */
  get phoneUrl(): string {
    return `${this.url}/v1/gateway/${encodeURIComponent(this.relayId)}?secret=${encodeURIComponent(this.relaySecret)}`;
  }
  /** relay.json for this relay, as `pair` writes it (SPEC §3). */
  credentialsJson(createdAtMs = 1): string {
    return JSON.stringify({ relayUrl: this.url, relayId: this.relayId, relaySecret: this.relaySecret, createdAtMs });
  }
  /** A connector config file for this relay and a gateway (SPEC §4). */
  connectorConfigJson(gatewayUrl: string): string {
    return JSON.stringify({ relayUrl: this.url, relayId: this.relayId, relaySecret: this.relaySecret, gatewayUrl });
  }
  get connectorOnline(): boolean {
    return this.#connector !== undefined;
  }
  /** Connector sockets open right now. */
  get connectorsOpen(): number {
    return this.#connector ? 1 : 0;
  }

  /** Wait until a connector is attached (polls events; bounded). */
  async waitForConnector(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.#connector) {
      if (Date.now() > deadline) throw new Error("no connector attached to the test relay in time");
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  }

  stop(): void {
    this.#server.stop(true);
    this.#connector = undefined;
    this.#phones.clear();
  }

  /** Start listening again on the same port (a relay restart). */
  restart(): void {
    this.#server = this.#listen(this.port);
  }

  #listen(port: number): Server<Peer> {
    return Bun.serve<Peer>({
      hostname: "127.0.0.1",
      port,
      fetch: (req, server) => {
        const url = new URL(req.url);
        const m = /^\/v1\/(connector|gateway)\/([^/]+)$/.exec(url.pathname);
        if (!m) return new Response("not found", { status: 404 });
        const relayId = decodeURIComponent(m[2]!);
        if (relayId !== this.relayId || url.searchParams.get("secret") !== this.relaySecret)
          return new Response("unauthorized", { status: 401 });
        const data: Peer = m[1] === "connector" ? { kind: "connector", relayId } : { kind: "phone", relayId, streamId: this.#nextStream++ };
        if (server.upgrade(req, { data })) return undefined;
        return new Response("upgrade failed", { status: 400 });
      },
      websocket: {
        maxPayloadLength: 64 * 1024 * 1024,
        backpressureLimit: 64 * 1024 * 1024,
        perMessageDeflate: false,
        open: (ws) => this.#open(ws),
        message: (ws, message) => this.#message(ws, message),
        close: (ws, code, reason) => this.#close(ws, code, reason),
      },
    });
  }

  #open(ws: ServerWebSocket<Peer>): void {
    const peer = ws.data;
    if (peer.kind === "connector") {
      this.connectorConnections++;
      // A newer connector replaces the older one (what makes two connectors fight).
      this.#connector?.close(4409, "replaced by a newer connector");
      this.#connector = ws;
      this.events.push({ type: "connector-open" });
      for (const w of this.#waiters.splice(0)) w();
      return;
    }
    if (!this.#connector) {
      ws.close(1013, "connector offline");
      return;
    }
    this.#phones.set(peer.streamId, ws);
    this.#connector.send(JSON.stringify({ type: "open", streamId: peer.streamId }));
  }

  #message(ws: ServerWebSocket<Peer>, message: string | Buffer): void {
    const peer = ws.data;
    if (peer.kind === "phone") {
      this.#connector?.send(JSON.stringify({ type: "data", streamId: peer.streamId, data: String(message) }));
      return;
    }
    if (ws !== this.#connector) return;
    const frame = JSON.parse(String(message)) as { type: string; streamId: number; data?: string; code?: number; reason?: string };
    const phone = this.#phones.get(frame.streamId);
    if (frame.type === "data") phone?.send(frame.data!);
    else if (frame.type === "close") {
      this.events.push({ type: "close-from-connector", streamId: frame.streamId, code: frame.code!, reason: frame.reason ?? "" });
      this.#phones.delete(frame.streamId);
      phone?.close(frame.code, frame.reason);
    }
  }

  #close(ws: ServerWebSocket<Peer>, code: number, reason: string): void {
    const peer = ws.data;
    if (peer.kind === "phone") {
      if (this.#phones.delete(peer.streamId))
        this.#connector?.send(JSON.stringify({ type: "close", streamId: peer.streamId, code, reason }));
      return;
    }
    if (ws !== this.#connector) return;
    this.#connector = undefined;
    this.events.push({ type: "connector-close", code });
    for (const phone of this.#phones.values()) phone.close(1012, "connector went away");
    this.#phones.clear();
  }
}
