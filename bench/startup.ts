/**
 * Where a `pair` start goes: compile bench/startup-entry.ts with the options
 * build.ts uses for the release binaries, run it N times, print the median of
 * each step: wall and CPU time, and resident memory added (for the first row,
 * the runtime's own). Figures only; nothing is asserted.
 *
 *   bun bench/startup.ts [--runs N]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { BUNDLE_OPTIONS, COMPILE_OPTIONS } from "../build.ts";
import { newIdentity, requestJson } from "../test/support/requests.ts";

const { values: opts } = parseArgs({ args: Bun.argv.slice(2), options: { runs: { type: "string", default: "15" } } });
const RUNS = Math.max(5, Number(opts.runs) || 15);

const out = mkdtempSync(join(tmpdir(), "kokochat-startup-"));
try {
  const outfile = join(out, "startup");
  const build = await Bun.build({
    entrypoints: [join(import.meta.dir, "startup-entry.ts")],
    ...BUNDLE_OPTIONS,
    compile: { outfile, ...COMPILE_OPTIONS },
  });
  if (!build.success) throw new AggregateError(build.logs, "startup bench build failed");

  const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: out, BENCH_REQUEST: JSON.stringify(requestJson(newIdentity())) };
  const runs: [string, number, number, number][][] = [];
  for (let i = 0; i < RUNS + 1; i++) {
    const proc = Bun.spawn([outfile], { env, cwd: out, stdout: "pipe", stderr: "inherit" });
    const text = await new Response(proc.stdout).text();
    if ((await proc.exited) !== 0) throw new Error("startup bench entry failed");
    if (i > 0) runs.push(JSON.parse(text)); // first run warms the page cache
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
  const f = (n: number) => n.toFixed(1).padStart(8);
  console.log(`  ${"step (median of runs)".padEnd(40)}${"wall ms".padStart(8)}${"cpu ms".padStart(8)}${"rss MiB".padStart(8)}`);
  let [wall, cpu, rss] = [0, 0, 0];
  for (const [i, [label]] of runs[0]!.entries()) {
    const [w, c, m] = [1, 2, 3].map((k) => median(runs.map((r) => r[i]![k] as number))) as [number, number, number];
    [wall, cpu, rss] = [wall + w, cpu + c, rss + m];
    console.log(`  ${label.padEnd(40)}${f(w)}${f(c)}${f(m)}`);
  }
  console.log(`  ${"sum of medians".padEnd(40)}${f(wall)}${f(cpu)}${f(rss)}`);
} finally {
  rmSync(out, { recursive: true, force: true });
}
