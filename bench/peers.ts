/**
 * A benchmark peer in its own process, so the connector is measured against
 * servers that do not share its CPU time with the client:
 *   bun bench/peers.ts gateway [acceptDelayMs]   an echo gateway
 *   bun bench/peers.ts relay                     a test relay (BENCH_RELAY_ID, BENCH_RELAY_SECRET)
 *   bun bench/peers.ts bare URL GATEWAY_URL       the least a connector can do (no limits, no
 *                                                backpressure, no logs): the floor ours is compared with
 * Prints one JSON line {port} on stdout, then runs until stdin closes or SIGTERM.
 */
import { EchoGateway } from "../test/support/echo-gateway.ts";
import { TestRelay } from "../test/support/relay.ts";

const [mode, arg] = process.argv.slice(2);
let stop: () => void;
if (mode === "gateway") {
  const g = new EchoGateway({ acceptDelayMs: Number(arg ?? 0) });
  stop = () => g.stop();
  console.log(JSON.stringify({ port: g.port }));
} else if (mode === "relay") {
  const r = new TestRelay({ relayId: process.env.BENCH_RELAY_ID!, relaySecret: process.env.BENCH_RELAY_SECRET! });
  stop = () => r.stop();
  console.log(JSON.stringify({ port: r.port }));
} else if (mode === "bare") {
  const gatewayUrl = process.argv[4]!;
  const relay = new WebSocket(arg!);
  const streams = new Map<unknown, WebSocket>();
  relay.onmessage = (e) => {
    const f = JSON.parse(String(e.data));
    if (f.type === "open") {
      const gw = new WebSocket(gatewayUrl);
      const queue: string[] = [];
      streams.set(f.streamId, gw);
      gw.onopen = () => queue.splice(0).forEach((d) => gw.send(d));
      gw.onmessage = (m) => relay.send(JSON.stringify({ type: "data", streamId: f.streamId, data: m.data }));
      gw.onclose = (c) => streams.delete(f.streamId) && relay.send(JSON.stringify({ type: "close", streamId: f.streamId, code: 1000, reason: c.reason }));
      (gw as unknown as { queue: string[] }).queue = queue;
    } else if (f.type === "data") {
      const gw = streams.get(f.streamId);
      if (gw?.readyState === WebSocket.OPEN) gw.send(f.data);
      else (gw as unknown as { queue?: string[] })?.queue?.push(f.data);
    } else if (f.type === "close") {
      const gw = streams.get(f.streamId);
      streams.delete(f.streamId);
      gw?.close();
    }
  };
  stop = () => relay.close();
  relay.onopen = () => console.log(JSON.stringify({ port: 0 }));
} else {
  console.error("usage: bun bench/peers.ts gateway [acceptDelayMs] | relay");
  process.exit(64);
}
const quit = () => {
  stop();
  process.exit(0);
};
process.on("SIGTERM", quit);
process.on("SIGINT", quit);
// Bounded: a peer never outlives the benchmark by more than this.
setTimeout(quit, 10 * 60_000).unref?.();
for await (const _ of Bun.stdin.stream()) {
}
quit();
