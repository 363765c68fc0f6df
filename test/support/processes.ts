/**
 * Child processes a test started, stopped by pid in afterEach/afterAll, and
 * the compiled binary's connector run as a real child with its stderr kept.
 */
import type { Subprocess } from "bun";
import { isAlive } from "../../src/store/lock.ts";
import { binary } from "./binary.ts";

const started = new Set<number>();

/** Remember a pid this test started so `stopAll` ends it. */
export function track(pid: number): number {
  started.add(pid);
  return pid;
}

/** Whether a pid names a live process: the tool's own check (src/store/lock.ts). */
export const alive = isAlive;

/** SIGTERM every tracked pid, then SIGKILL what is left after 2 s. */
export async function stopAll(): Promise<void> {
  const pids = [...started];
  started.clear();
  for (const pid of pids) if (alive(pid)) process.kill(pid, "SIGTERM");
  const deadline = Date.now() + 2_000;
  while (pids.some(alive) && Date.now() < deadline) await Bun.sleep(20);
  for (const pid of pids) if (alive(pid)) process.kill(pid, "SIGKILL");
}

export type ConnectorProcess = {
  proc: Subprocess<"ignore", "pipe", "pipe">;
  /** stderr lines so far. */
  lines: string[];
  /** Resolves with the first stderr line matching `pattern` (bounded). */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Count of stderr lines matching `pattern`. */
  count(pattern: RegExp): number;
  stdout: Promise<string>;
};

export async function startConnector(args: string[], env: Record<string, string> = {}): Promise<ConnectorProcess> {
  const proc = Bun.spawn([await binary(), "connector", ...args], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME!, NO_COLOR: "1", ...env },
    cwd: process.env.HOME,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  track(proc.pid);
  const lines: string[] = [];
  const stdout = new Response(proc.stdout).text();
  void (async () => {
    let rest = "";
    const decoder = new TextDecoder();
    for await (const chunk of proc.stderr) {
      rest += decoder.decode(chunk, { stream: true });
      const parts = rest.split("\n");
      rest = parts.pop()!;
      lines.push(...parts);
    }
    if (rest) lines.push(rest);
  })();
  return {
    proc,
    lines,
    stdout,
    count: (pattern) => lines.filter((l) => pattern.test(l)).length,
    async waitFor(pattern, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const hit = lines.find((l) => pattern.test(l));
        if (hit) return hit;
        if (Date.now() > deadline) throw new Error(`connector never logged ${pattern}; last lines:\n${lines.slice(-10).join("\n")}`);
        await Bun.sleep(20);
      }
    },
  };
}
