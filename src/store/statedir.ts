/**
 * OpenClaw's state dir, resolved the way OpenClaw resolves it (SPEC §3), as a
 * pure function of the environment, the home dir, what exists on disk and the
 * platform's path rules (on Windows: drive letters, `\` or `/`, `~\`).
 */
import { existsSync, statSync } from "node:fs";
import { CliError } from "../errors.ts";
import nodePath from "node:path";

export type StateDir = { dir: string; source: string };

/** `path` defaults to this platform's rules; tests pass `path.win32` or `path.posix`. */
export type Probe = { home: string; cwd: string; exists: (path: string) => boolean; path?: typeof nodePath.win32 };

const LEGACY_NAMES = [".clawdbot", ".moldbot", ".moltbot"];
const OVERRIDES = ["OPENCLAW_STATE_DIR", "CLAWDBOT_STATE_DIR", "OPENCLAW_CONFIG_DIR"] as const;

const nonEmpty = (value: string | undefined) => (value !== undefined && value.trim() !== "" ? value.trim() : undefined);

function expand(path: string, probe: Probe): string {
  const { join, resolve } = probe.path ?? nodePath;
  const tilde = path === "~" ? probe.home : path.startsWith("~/") || path.startsWith("~\\") ? join(probe.home, path.slice(2)) : path;
  return resolve(probe.cwd, tilde);
}

export function resolveStateDir(env: NodeJS.ProcessEnv, probe: Probe, flag?: string): StateDir {
  const { join } = probe.path ?? nodePath;
  if (nonEmpty(flag)) return { dir: expand(flag!.trim(), probe), source: "--state-dir" };
  for (const name of OVERRIDES) {
    const value = nonEmpty(env[name]);
    if (value) return { dir: expand(value, probe), source: name };
  }
  const customHome = nonEmpty(env.OPENCLAW_HOME);
  const home = customHome ? expand(customHome, probe) : probe.home;
  const source = customHome ? "OPENCLAW_HOME" : "home";
  const current = join(home, ".openclaw");
  if (!probe.exists(current))
    for (const legacy of LEGACY_NAMES) if (probe.exists(join(home, legacy))) return { dir: join(home, legacy), source: `${source} (legacy ${legacy})` };
  return { dir: current, source };
}

/** The OS's idea of home, asked only when no variable says it: node:os costs a run ~1 MiB to load. */
export const osHomedir = (): string => (require("node:os") as typeof import("node:os")).homedir();

/** The real machine's probe: HOME, else USERPROFILE, else the OS's idea of home. */
export const systemProbe = (env: NodeJS.ProcessEnv): Probe => ({
  home: nonEmpty(env.HOME) ?? nonEmpty(env.USERPROFILE) ?? osHomedir(),
  cwd: process.cwd(),
  exists: existsSync,
});

/**
 * Files we write get our owner. Written by another user (say, root via sudo)
 * they would lock the gateway out of its own store, so refuse (POSIX only).
 */
export function assertOwnedByUs(stateDir: string): void {
  const uid = process.getuid?.();
  if (uid === undefined) return;
  const owner = statSync(stateDir).uid;
  if (owner !== uid)
    throw new CliError("refused", `the OpenClaw state dir ${stateDir} belongs to uid ${owner}, not to this user (uid ${uid}): run kokochat-pairing as that user`);
}
