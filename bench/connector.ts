/**
 * Connector benchmark (figures, never asserted): round-trip latency p50/p99
 * and frames/s for 1 and 50 concurrent streams, through relay + connector and
 * direct to the gateway in the same run; the connector's idle RSS; its peak
 * RSS under a flood while the gateway is slow to accept, and whether it then
 * still works and stops cleanly. Loopback only; every loop is bounded and the
 * whole run stops itself after MAX_RUN_MS.
 *
 *   bun bench/connector.ts
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { buildTarget, hostTarget } from "../build.ts";

const MAX_RUN_MS = 240_000;
const BUDGET = { throughputRatio: 0.8, addedP50Ms: 0.13, idleRssMiB: 30, floodPeakRssMiB: 64 };

const hardStop = setTimeout(() => {
  console.error("benchmark: over its time limit, stopping");
  cleanup();
  process.exit(1);
}, MAX_RUN_MS);

const children: Subprocess[] = [];
function cleanup(): void {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
}

const b64url = (n: number) => Buffer.from(crypto.getRandomValues(new Uint8Array(n))).toString("base64url");
const MiB = 1024 * 1024;

async function peer(args: string[], env: Record<string, string> = {}): Promise<{ port: number; proc: Subprocess }> {
  const proc = Bun.spawn([process.execPath, join(import.meta.dir, "peers.ts"), ...args], {
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? tmpdir(), ...env },
    stdin: "pipe",
    stdout: "pipe",
    stderr: "inherit",
  });
  children.push(proc);
  const reader = proc.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`peer ${args[0]} did not start`);
    text += new TextDecoder().decode(value);
  }
  return { port: JSON.parse(text.split("\n")[0]!).port, proc };
}

/** CPU seconds (user + system) a process has used so far (Linux; NaN elsewhere). */
function cpuSeconds(pid: number): number {
  if (process.platform !== "linux") return Number.NaN;
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / 100;
}

/** Private (anonymous) resident memory; the rest of RSS is the runtime's shared, file-backed pages. */
function anonMiB(pid: number): number {
  if (process.platform !== "linux") return Number.NaN;
  const m = /RssAnon:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

function rssMiB(pid: number): number {
  if (process.platform === "linux") {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : Number.NaN;
  }
  const r = Bun.spawnSync(["ps", "-o", "rss=", "-p", String(pid)]);
  return Number(r.stdout.toString().trim()) / 1024;
}

type Setup = { relayUrl: string; phoneUrl: string; connector: Subprocess; relay: Subprocess; gateway: Subprocess; gatewayUrl: string };

async function setup(bin: string, acceptDelayMs = 0, bare = false): Promise<Setup> {
  const relayId = b64url(18);
  const relaySecret = b64url(32);
  const gateway = await peer(["gateway", String(acceptDelayMs)]);
  const relay = await peer(["relay"], { BENCH_RELAY_ID: relayId, BENCH_RELAY_SECRET: relaySecret });
  const relayUrl = `ws://127.0.0.1:${relay.port}`;
  const gatewayUrl = `ws://127.0.0.1:${gateway.port}`;
  const dir = mkdtempSync(join(tmpdir(), "kokochat-bench-"));
  const config = join(dir, `${relayId}.json`);
  writeFileSync(config, JSON.stringify({ relayUrl, relayId, relaySecret, gatewayUrl }), { mode: 0o600 });
  const connector = bare
    ? (await peer(["bare", `${relayUrl}/v1/connector/${relayId}?secret=${relaySecret}`, gatewayUrl])).proc
    : Bun.spawn([bin, "connector", "--config", config], {
        env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? dir, NO_COLOR: "1" },
        stdin: "ignore",
        stdout: "ignore",
        stderr: "ignore",
      });
  children.push(connector);
  const phoneUrl = `${relayUrl}/v1/gateway/${relayId}?secret=${relaySecret}`;
  // Wait for the connector to attach: the relay refuses phones with 1013 until then.
  for (let i = 0; i < 200; i++) {
    const ws = await open(phoneUrl).catch(() => undefined);
    if (ws) {
      const closed = await Promise.race([new Promise<boolean>((r) => ws.addEventListener("close", () => r(true))), Bun.sleep(100).then(() => false)]);
      if (!closed) {
        ws.close();
        break;
      }
    }
    await Bun.sleep(25);
  }
  return { relayUrl, phoneUrl, connector, relay: relay.proc, gateway: gateway.proc, gatewayUrl };
}

function open(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false } as Bun.WebSocketOptions);
    ws.addEventListener("open", () => resolve(ws), { once: true });
    ws.addEventListener("error", () => reject(new Error("connect failed")), { once: true });
  });
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

/** Sequential ping-pong on each stream; RTT of every frame. */
async function latency(url: string, streams: number, perStream: number): Promise<{ p50: number; p99: number }> {
  const sockets = await Promise.all(Array.from({ length: streams }, () => open(url)));
  const rtts: number[] = [];
  const payload = JSON.stringify({ type: "req", id: "x", method: "health", params: { pad: "p".repeat(64) } });
  await Promise.all(
    sockets.map(
      (ws) =>
        new Promise<void>((resolve) => {
          let n = 0;
          let t0 = 0;
          ws.addEventListener("message", () => {
            rtts.push(performance.now() - t0);
            if (++n >= perStream) return resolve();
            t0 = performance.now();
            ws.send(payload);
          });
          t0 = performance.now();
          ws.send(payload);
        }),
    ),
  );
  for (const ws of sockets) ws.close();
  rtts.sort((a, b) => a - b);
  return { p50: percentile(rtts, 50), p99: percentile(rtts, 99) };
}

/** Pipelined echo with `window` frames in flight per stream; echoed frames per second. */
async function throughput(url: string, streams: number, perStream: number, window: number): Promise<number> {
  const sockets = await Promise.all(Array.from({ length: streams }, () => open(url)));
  const payload = "d".repeat(256);
  const t0 = performance.now();
  await Promise.all(
    sockets.map(
      (ws) =>
        new Promise<void>((resolve) => {
          let sent = 0;
          let got = 0;
          ws.addEventListener("message", () => {
            if (++got >= perStream) return resolve();
            if (sent < perStream) {
              sent++;
              ws.send(payload);
            }
          });
          for (; sent < Math.min(window, perStream); sent++) ws.send(payload);
        }),
    ),
  );
  const seconds = (performance.now() - t0) / 1000;
  for (const ws of sockets) ws.close();
  return (streams * perStream) / seconds;
}

async function stopConnector(c: Subprocess): Promise<{ code: number | null; ms: number }> {
  const t0 = performance.now();
  c.kill("SIGTERM");
  const code = await Promise.race([c.exited, Bun.sleep(5_000).then(() => null)]);
  return { code, ms: performance.now() - t0 };
}

function stopPeers(s: Setup): void {
  for (const p of [s.relay, s.gateway]) p.kill("SIGTERM");
}

const fmt = (n: number, digits = 3) => n.toFixed(digits);

async function main(): Promise<void> {
  const bin = await buildTarget(hostTarget(), mkdtempSync(join(tmpdir(), "kokochat-bench-bin-")));
  console.log(`connector benchmark (${process.platform}-${process.arch}, loopback; relay, gateway and connector each in their own process)`);

  const s = await setup(bin);
  // The same relay and gateway code with the least a connector can do, to show what ours adds to it.
  const bare = await setup(bin, 0, true);
  await Bun.sleep(1_000);
  const idleRss = rssMiB(s.connector.pid!);
  const idleAnon = anonMiB(s.connector.pid!);

  // Warm up every path.
  for (const url of [s.gatewayUrl, s.phoneUrl, bare.phoneUrl]) {
    await latency(url, 1, 300);
    await throughput(url, 1, 2_000, 32);
  }

  // Rounds interleave the paths so a busy machine hurts them alike; each figure is the median of ROUNDS.
  const ROUNDS = 3;
  const paths = [
    ["direct", s.gatewayUrl],
    ["relay+connector", s.phoneUrl],
    ["relay+bare", bare.phoneUrl],
  ] as const;
  const samples = new Map<string, Array<{ p50: number; p99: number; fps: number }>>();
  const cpu0 = { connector: cpuSeconds(s.connector.pid!), relay: cpuSeconds(s.relay.pid!), gateway: cpuSeconds(s.gateway.pid!), bench: cpuSeconds(process.pid) };
  for (let round = 0; round < ROUNDS; round++) {
    for (const streams of [1, 50]) {
      for (const [path, url] of paths) {
        const lat = await latency(url, streams, streams === 1 ? 3_000 : 100);
        const fps = await throughput(url, streams, streams === 1 ? 20_000 : 500, streams === 1 ? 64 : 16);
        const key = `${path}/${streams}`;
        samples.set(key, [...(samples.get(key) ?? []), { ...lat, fps }]);
      }
    }
  }
  const cpu = {
    connector: cpuSeconds(s.connector.pid!) - cpu0.connector,
    relay: cpuSeconds(s.relay.pid!) - cpu0.relay,
    gateway: cpuSeconds(s.gateway.pid!) - cpu0.gateway,
    bench: cpuSeconds(process.pid) - cpu0.bench,
  };
  const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
  const rows: Array<{ path: string; streams: number; p50: number; p99: number; fps: number }> = [];
  for (const streams of [1, 50])
    for (const [path] of paths) {
      const xs = samples.get(`${path}/${streams}`)!;
      rows.push({ path, streams, p50: median(xs.map((x) => x.p50)), p99: median(xs.map((x) => x.p99)), fps: median(xs.map((x) => x.fps)) });
    }
  await Bun.sleep(500);
  const idleAfterRss = rssMiB(s.connector.pid!);
  const idleAfterAnon = anonMiB(s.connector.pid!);
  const stopped = await stopConnector(s.connector);
  stopPeers(s);
  bare.connector.kill("SIGTERM");
  stopPeers(bare);

  console.log(`median of ${ROUNDS} interleaved rounds; load average now ${(await import("node:os")).loadavg()[0]!.toFixed(1)}\n`);
  console.log("path              streams   p50 ms   p99 ms   frames/s");
  for (const r of rows)
    console.log(`${r.path.padEnd(16)} ${String(r.streams).padStart(8)} ${fmt(r.p50).padStart(8)} ${fmt(r.p99).padStart(8)} ${Math.round(r.fps).toString().padStart(10)}`);

  // Flood: 50 streams push 64 KiB frames as fast as they can while the gateway takes 2 s to accept.
  const f = await setup(bin, 2_000);
  await Bun.sleep(500);
  const floodIdle = rssMiB(f.connector.pid!);
  let peak = floodIdle;
  let peakAnon = anonMiB(f.connector.pid!);
  const sampler = setInterval(() => {
    peak = Math.max(peak, rssMiB(f.connector.pid!));
    peakAnon = Math.max(peakAnon, anonMiB(f.connector.pid!));
  }, 10);
  const frame = "f".repeat(64 * 1024);
  const closes: number[] = [];
  let sentBytes = 0;
  await Promise.all(
    Array.from({ length: 50 }, async () => {
      const ws = await open(f.phoneUrl);
      const closed = new Promise<void>((resolve) =>
        ws.addEventListener("close", (e) => {
          closes.push(e.code);
          resolve();
        }),
      );
      const deadline = performance.now() + 4_000;
      let open_ = true;
      void closed.then(() => (open_ = false));
      for (let i = 0; i < 400 && open_ && performance.now() < deadline; i++) {
        while (ws.bufferedAmount > 4 * MiB && open_ && performance.now() < deadline) await Bun.sleep(1);
        if (!open_) break;
        ws.send(frame);
        sentBytes += frame.length;
        if (i % 16 === 0) await Bun.sleep(0);
      }
      await Promise.race([closed, Bun.sleep(5_000)]);
      if (open_) ws.close();
    }),
  );
  await Bun.sleep(2_500); // the gateway accepts by now: a new stream must work
  let worksAfter = false;
  try {
    const ws = await open(f.phoneUrl);
    worksAfter = await Promise.race([
      new Promise<boolean>((resolve) => {
        ws.addEventListener("message", () => resolve(true));
        ws.send("after the flood");
      }),
      Bun.sleep(5_000).then(() => false),
    ]);
    ws.close();
  } catch {}
  clearInterval(sampler);
  const floodStop = await stopConnector(f.connector);
  stopPeers(f);
  const code1013 = closes.filter((c) => c === 1013).length;

  const direct = (n: number) => rows.find((r) => r.path === "direct" && r.streams === n)!;
  const via = (n: number) => rows.find((r) => r.path === "relay+connector" && r.streams === n)!;
  const bareRow = (n: number) => rows.find((r) => r.path === "relay+bare" && r.streams === n)!;
  const ratio1 = via(1).fps / direct(1).fps;
  const ratio50 = via(50).fps / direct(50).fps;
  const added1 = via(1).p50 - direct(1).p50;
  const added50 = via(50).p50 - direct(50).p50;
  const mark = (ok: boolean) => (ok ? "within budget" : "OVER budget");

  console.log(`\nCPU seconds during the measured runs: ${Object.entries(cpu).map(([k, v]) => `${k} ${fmt(v, 2)}`).join(", ")}`);
  console.log(`
throughput relay+connector / direct: 1 stream ${fmt(ratio1, 2)}x, 50 streams ${fmt(ratio50, 2)}x (budget >= ${BUDGET.throughputRatio}x: ${mark(Math.min(ratio1, ratio50) >= BUDGET.throughputRatio)})
ours / bare connector on the same relay: throughput 1 stream ${fmt(via(1).fps / bareRow(1).fps, 2)}x, 50 streams ${fmt(via(50).fps / bareRow(50).fps, 2)}x; p50 RTT 1 stream ${fmt(via(1).p50 - bareRow(1).p50)} ms more
added p50 RTT: 1 stream ${fmt(added1)} ms, 50 streams ${fmt(added50)} ms (budget <= ${BUDGET.addedP50Ms} ms: ${mark(added1 <= BUDGET.addedP50Ms)} for 1 stream)
connector idle RSS: ${fmt(idleRss, 1)} MiB at start, ${fmt(idleAfterRss, 1)} MiB after the load (budget <= ${BUDGET.idleRssMiB} MiB: ${mark(idleRss <= BUDGET.idleRssMiB)})
  of which private (anonymous): ${fmt(idleAnon, 1)} MiB at start, ${fmt(idleAfterAnon, 1)} MiB after the load; the rest is the runtime's shared file-backed pages
connector stop after the load: exit ${stopped.code} in ${fmt(stopped.ms, 0)} ms

flood (50 streams x up to 400 x 64 KiB while the gateway takes 2 s to accept): ${fmt(sentBytes / MiB, 0)} MiB offered
  peak RSS ${fmt(peak, 1)} MiB (idle ${fmt(floodIdle, 1)} MiB; budget <= ${BUDGET.floodPeakRssMiB} MiB: ${mark(peak <= BUDGET.floodPeakRssMiB)}); peak private ${fmt(peakAnon, 1)} MiB
  streams closed with 1013: ${code1013}/50 (other codes: ${closes.filter((c) => c !== 1013).join(", ") || "none"})
  a new stream after the flood: ${worksAfter ? "works" : "FAILED"}; connector stop: exit ${floodStop.code} in ${fmt(floodStop.ms, 0)} ms`);
}

try {
  await main();
} finally {
  clearTimeout(hardStop);
  cleanup();
}
