/**
 * Compiled by bench/startup.ts into a throwaway executable: times each part
 * of a `pair` start in the order the pipeline loads it, and how much resident
 * memory it added. Not part of the tool.
 */
// [label, wall ms, CPU ms (user + system: steadier on a busy machine), RSS added in MiB]
export {};

const cpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};
const rssMiB = () => process.memoryUsage.rss() / 2 ** 20;
const marks: [string, number, number, number][] = [["runtime start → entry", performance.now(), cpuMs(), rssMiB()]];
let last = performance.now();
let lastCpu = cpuMs();
let lastRss = rssMiB();
async function step(label: string, fn: () => unknown): Promise<void> {
  await fn();
  const now = performance.now();
  const cpu = cpuMs();
  const rss = rssMiB();
  marks.push([label, now - last, cpu - lastCpu, rss - lastRss]);
  last = now;
  lastCpu = cpu;
  lastRss = rss;
}

await step("main: errors, output", () => import("../src/cli/output.ts"));
await step("args", () => import("../src/cli/args.ts"));
await step("store/sqlite (bun:sqlite)", () => import("../src/store/sqlite.ts"));
await step("store/json, lock, atomic", () => import("../src/store/json.ts"));
await step("crypto/keys (@noble/ed25519)", () => import("../src/crypto/keys.ts"));
let schema: typeof import("../src/request/schema.ts") | undefined;
await step("request/schema (import)", async () => (schema = await import("../src/request/schema.ts")));
await step("first validation (check compiled)", () => schema!.validateRequest(JSON.parse(process.env.BENCH_REQUEST!)));
await step("second validation", () => schema!.validateRequest(JSON.parse(process.env.BENCH_REQUEST!)));
await step("rest of pair (relay, openclaw config)", () => import("../src/pair.ts"));
await step("gateway probe (Bun.connect, refused)", async () => (await import("../src/openclaw/gateway.ts")).gatewayListening("ws://127.0.0.1:9"));
await step("a refusal explained (loads @ark/schema)", () => {
  try {
    schema!.validateRequest({ ...JSON.parse(process.env.BENCH_REQUEST!), role: "node" });
  } catch {}
});
console.log(JSON.stringify(marks));
