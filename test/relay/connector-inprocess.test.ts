import { afterEach, describe, expect, it, setDefaultTimeout } from "bun:test";
import { randomToken } from "../../src/crypto/random.ts";
import { createServer, type Socket } from "node:net";
import { Connector, type ConnectorLimits } from "../../src/relay/connector.ts";
import { EchoGateway } from "../support/echo-gateway.ts";
import { Phone } from "../support/ws-peer.ts";
import { TestRelay } from "../support/relay.ts";
import { StalledGateway } from "../support/stalled-gateway.ts";

setDefaultTimeout(30_000);


const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function start(relayUrl: string, relayId: string, relaySecret: string, gatewayUrl: string, limits: Partial<ConnectorLimits>) {
  const lines: string[] = [];
  const c = new Connector({ relayUrl, relayId, relaySecret, gatewayUrl }, { limits, log: (l) => lines.push(l), backoff: { initialDelayMs: 50, maxDelayMs: 200 } });
  c.start();
  cleanups.push(() => c.stop());
  return { c, lines };
}

const until = async (what: () => boolean, ms = 5_000) => {
  const deadline = Date.now() + ms;
  while (!what()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await Bun.sleep(10);
  }
};

describe("connector keepalive", () => {
  it("keeps a quiet but healthy relay link open: pongs count as life", async () => {
    const relay = new TestRelay();
    const gateway = new EchoGateway();
    cleanups.push(() => relay.stop(), () => gateway.stop());
    // Quiet for 3× the timeout: without pongs counting as life the link would drop; the margin
    // keeps a loaded machine's scheduling hiccups from looking like a dead relay.
    const { lines } = start(relay.url, relay.relayId, relay.relaySecret, gateway.url, { keepaliveIntervalMs: 50, keepaliveTimeoutMs: 1_000 });
    await relay.waitForConnector();
    await Bun.sleep(3_000);
    expect(relay.connectorConnections).toBe(1);
    expect(lines.filter((l) => l.includes("disconnected"))).toEqual([]);
  });

  it("drops and redials a relay link that stopped answering", async () => {
    // A relay that completes the handshake and then goes silent (no pongs).
    const sockets: Socket[] = [];
    let accepted = 0;
    const server = createServer((socket) => {
      sockets.push(socket);
      socket.once("data", (chunk) => {
        accepted++;
        const key = /sec-websocket-key:\s*(\S+)/i.exec(chunk.toString("latin1"))?.[1] ?? "";
        const accept = new Bun.CryptoHasher("sha1").update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest("base64");
        socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
        socket.on("data", () => {});
      });
      socket.on("error", () => {});
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
    cleanups.push(() => {
      for (const s of sockets) s.destroy();
      server.close();
    });
    const port = (server.address() as { port: number }).port;
    const secret = randomToken(32);
    const { lines } = start(`ws://127.0.0.1:${port}`, randomToken(18), secret, "ws://127.0.0.1:1", { keepaliveIntervalMs: 50, keepaliveTimeoutMs: 200 });
    await until(() => accepted >= 2);
    expect(lines.some((l) => /relay: disconnected \(.*no answer for/.test(l))).toBe(true);
    for (const line of lines) expect(line).not.toContain(secret);
  });
});

describe("connector stall limit", () => {
  it("closes a stream with 1013 when its gateway stays congested past maxStallMs", async () => {
    const relay = new TestRelay();
    const stalled = new StalledGateway();
    await stalled.ready;
    cleanups.push(() => relay.stop(), () => stalled.stop());
    const { c, lines } = start(relay.url, relay.relayId, relay.relaySecret, stalled.url, { maxStallMs: 300, highWaterBytes: 64 * 1024, lowWaterBytes: 16 * 1024 });
    await relay.waitForConnector();
    const phone = await Phone.connect(relay.phoneUrl);
    const frame = "s".repeat(64 * 1024);
    for (let i = 0; i < 256 && phone.ws.readyState === WebSocket.OPEN; i++) {
      phone.send(frame);
      if (i % 32 === 0) await Bun.sleep(1);
    }
    expect(await phone.closed).toEqual({ code: 1013, reason: "gateway too slow" });
    expect(lines.some((l) => l.includes("closed by connector (1013 gateway too slow)"))).toBe(true);
    await until(() => c.streamCount === 0);
  });
});
