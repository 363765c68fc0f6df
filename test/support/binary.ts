/**
 * The compiled host binary, built once per test process from the current
 * sources, and a helper to run it as a real child process.
 */
import { buildTarget, hostTarget } from "../../build.ts";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

let built: Promise<string> | undefined;

export function binary(): Promise<string> {
  built ??= buildTarget(hostTarget(), mkdtempSync(join(tmpdir(), "kokochat-bin-")));
  return built;
}

export type RunResult = { exitCode: number; stdout: string; stderr: string };

export type RunOptions = { env?: Record<string, string | undefined>; stdin?: string; cwd?: string };

/**
 * Run the compiled binary with a clean environment (HOME from the preload,
 * nothing else inherited but PATH). The relay connector is off unless a test
 * turns it on (with a loopback relay): no test may dial a real relay.
 */
export async function run(args: string[], options: RunOptions = {}): Promise<RunResult> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: process.env.HOME!,
    NO_COLOR: "1",
    KOKOCHAT_SKIP_RELAY_CONNECTOR_START: "1",
  };
  for (const [key, value] of Object.entries(options.env ?? {})) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  const proc = Bun.spawn([await binary(), ...args], {
    env,
    cwd: options.cwd ?? process.env.HOME,
    stdin: options.stdin === undefined ? "ignore" : new TextEncoder().encode(options.stdin),
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, exitCode] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { exitCode, stdout, stderr };
}
