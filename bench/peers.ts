/**
 * A benchmark peer in its own process, so the connector is measured against
 * servers that do not share its CPU time with the client:
 *   bun bench/peers.ts gateway [acceptDelayMs]   an echo gateway
 *   bun bench/peers.ts relay                     a test relay (BENCH_RELAY_ID, BENCH_RELAY_SECRET)
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
