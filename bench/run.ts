/**
 * `npm run bench`: whole-process figures for the compiled host binary. It
 * prints numbers; it never passes or fails.
 *
 *   bun bench/run.ts [--runs N] [--binary PATH] [--rebuild] [--skip-startup]
 *
 * Builds dist/<host binary> when it is missing or older than the sources, then
 * times each case N times (after two warm-up runs): median, min and max wall
 * time, median CPU time (user+system, less sensitive to a busy machine), and
 * the largest peak RSS of 5 more runs under /usr/bin/time (when present).
 * Each `pair` run gets a fresh copy of its store.
 * Finally it runs bench/startup.ts: where the time of a `pair` start goes.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { binaryName, buildTarget, hostTarget } from "../build.ts";
import { newIdentity, requestCode } from "../test/support/requests.ts";
import { freshCopy, makeTemplate, type Backend } from "./fixtures.ts";

const ROOT = join(import.meta.dir, "..");

const { values: opts } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    runs: { type: "string", default: "15" },
    binary: { type: "string" },
    rebuild: { type: "boolean", default: false },
    "skip-startup": { type: "boolean", default: false },
  },
});
const RUNS = Math.max(10, Number(opts.runs) || 15);
const WARMUP = 2;

function newestSource(dir: string): number {
  let newest = 0;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const stat = statSync(path);
    newest = Math.max(newest, stat.isDirectory() ? newestSource(path) : stat.mtimeMs);
  }
  return newest;
}

async function hostBinary(): Promise<string> {
  if (opts.binary) return opts.binary;
  const path = join(ROOT, "dist", binaryName(hostTarget()));
  const inputs = Math.max(newestSource(join(ROOT, "src")), statSync(join(ROOT, "build.ts")).mtimeMs, statSync(join(ROOT, "package.json")).mtimeMs);
  if (opts.rebuild || !existsSync(path) || statSync(path).mtimeMs < inputs) {
    process.stderr.write(`building ${binaryName(hostTarget())}…\n`);
    const cwd = process.cwd();
    process.chdir(ROOT); // build.ts names its entry point relative to the project
    try {
      return join(ROOT, await buildTarget(hostTarget(), "dist"));
    } finally {
      process.chdir(cwd);
    }
  }
  return path;
}

type Sample = { wallMs: number; cpuMs: number };

/** One run of the binary itself, timed from spawn to exit. */
async function once(bin: string, args: string[], env: Record<string, string>, cwd: string): Promise<Sample> {
  const start = performance.now();
  const proc = Bun.spawn([bin, ...args], { env, cwd, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  const wallMs = performance.now() - start;
  if (code !== 0) throw new Error(`${args.join(" ")} exited ${code}: ${stderr.trim()}`);
  if (stdout.trim() === "") throw new Error(`${args.join(" ")} printed nothing`);
  return { wallMs, cpuMs: Number(proc.resourceUsage()!.cpuTime.total) / 1000 };
}

// Peak RSS comes from separate runs under /usr/bin/time. A child spawned by this
// (large) process can report this process's RSS as its own peak, and timing the
// binary under /usr/bin/time would add time's own start to every figure.
const TIME = "/usr/bin/time";
const hasTime = existsSync(TIME);
const RSS_RUNS = 5;

async function peakRssMiB(bin: string, args: string[], env: Record<string, string>, cwd: string): Promise<number> {
  const proc = Bun.spawn([TIME, "-f", "peak-rss-kib %M", bin, ...args], { env, cwd, stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  const [stderr, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
  const peak = /peak-rss-kib (\d+)\s*$/.exec(stderr);
  if (code !== 0 || !peak) throw new Error(`${args.join(" ")} under ${TIME} exited ${code}: ${stderr.trim()}`);
  return Number(peak[1]) / 1024;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

type Row = { name: string; samples: Sample[]; rssMiB: number };
const rows: Row[] = [];

function report(row: Row): void {
  const wall = row.samples.map((s) => s.wallMs);
  const cpu = row.samples.map((s) => s.cpuMs);
  const f = (n: number) => (Number.isNaN(n) ? "-" : n.toFixed(1)).padStart(7);
  console.log(`${row.name.padEnd(30)}${f(median(wall))}${f(Math.min(...wall))}${f(Math.max(...wall))}${f(median(cpu))}${f(row.rssMiB)}`);
}

async function bench(name: string, prepare: () => { args: string[]; env: Record<string, string>; cwd: string; done?: () => void }, bin: string) {
  const samples: Sample[] = [];
  let rssMiB = hasTime ? 0 : NaN;
  for (let i = 0; i < WARMUP + RUNS + (hasTime ? RSS_RUNS : 0); i++) {
    const p = prepare();
    try {
      if (i < WARMUP + RUNS) {
        const s = await once(bin, p.args, p.env, p.cwd);
        if (i >= WARMUP) samples.push(s);
      } else rssMiB = Math.max(rssMiB, await peakRssMiB(bin, p.args, p.env, p.cwd));
    } finally {
      p.done?.();
    }
  }
  const row = { name, samples, rssMiB };
  rows.push(row);
  report(row);
}

const bin = await hostBinary();
const work = mkdtempSync(join(tmpdir(), "kokochat-bench-"));
const home = mkdtempSync(join(work, "home-"));
const baseEnv = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home, NO_COLOR: "1" };
const code = requestCode(newIdentity());

try {
  console.log(`binary: ${binaryName(hostTarget())} (${(statSync(bin).size / 2 ** 20).toFixed(0)} MiB), ${RUNS} runs per case after ${WARMUP} warm-up`);
  // Wall times on a busy machine measure the queue for a CPU; CPU time and RSS much less so.
  console.log(`machine: ${availableParallelism()} CPUs, load average ${loadavg().map((l) => l.toFixed(1)).join(" ")}`);
  console.log(`${"case".padEnd(30)}${"median".padStart(7)}${"min".padStart(7)}${"max".padStart(7)}${"cpu".padStart(7)}${"rss".padStart(7)}`);
  console.log(`${"".padEnd(30)}${"ms".padStart(7)}${"ms".padStart(7)}${"ms".padStart(7)}${"ms".padStart(7)}${"MiB".padStart(7)}`);

  for (const flag of ["--version", "--help"]) await bench(flag, () => ({ args: [flag], env: baseEnv, cwd: home }), bin);

  for (const backend of ["sqlite", "json"] as Backend[]) {
    for (const count of [0, 1000, 10000]) {
      const template = makeTemplate(work, backend, count);
      await bench(
        `pair ${backend} ${count} devices`,
        () => {
          const state = freshCopy(template, work);
          return {
            args: ["pair", "--no-connector", "--store", backend, "--state-dir", state],
            env: { ...baseEnv, KOKOCHAT_PAIRING_REQUEST: code },
            cwd: home,
            done: () => rmSync(state, { recursive: true, force: true }),
          };
        },
        bin,
      );
      if (count === 1000 && existsSync(join(ROOT, "src/cli/devices.ts")))
        await bench(`devices ${backend} ${count}`, () => ({ args: ["devices", "--state-dir", template], env: baseEnv, cwd: home }), bin);
      rmSync(template, { recursive: true, force: true });
    }
  }
  if (!existsSync(join(ROOT, "src/cli/devices.ts"))) console.log("devices: skipped (no `devices` command in this tree yet)");
  const medianOf = (name: string) => median(rows.find((r) => r.name === name)!.samples.map((s) => s.wallMs));
  for (const backend of ["sqlite", "json"])
    console.log(`pair ${backend}: 10,000 devices take ${(medianOf(`pair ${backend} 10000 devices`) / medianOf(`pair ${backend} 1000 devices`)).toFixed(2)}× the 1,000-device time`);
} finally {
  rmSync(work, { recursive: true, force: true });
}

if (!opts["skip-startup"]) {
  console.log("\nwhere a `pair` start goes (bench/startup.ts):");
  const proc = Bun.spawn([process.execPath, join(import.meta.dir, "startup.ts")], { stdout: "inherit", stderr: "inherit" });
  await proc.exited;
}
