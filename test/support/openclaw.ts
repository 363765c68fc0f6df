/**
 * Real OpenClaw gateways for the end-to-end suite.
 *
 * `ensureOpenclaw(version)` installs Node 24 (the `node` npm package) and
 * `openclaw@<version>` with npm into separate prefixes under the repo's
 * gitignored `.cache/e2e/`, once; later runs reuse them.
 *
 * `startGateway(version)` runs `openclaw gateway run` on 127.0.0.1 only, on a
 * free port, with its own temp state dir, a minimal environment and a config
 * holding only keys that version's `openclaw config schema` lists: local mode,
 * loopback bind, token auth with a random token nobody else gets, silent
 * local pairing off where the version has it, mDNS off, update check off,
 * browser control off, logging into the gateway's temp folder. The gateway and
 * every process group it starts are stopped by pid, always.
 */
import { Database } from "bun:sqlite";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, openSync, closeSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { dirname, join, resolve } from "node:path";
import { isAlive } from "../../src/store/lock.ts";

export const NODE_VERSION = "24.21.0";
export const OPENCLAW_VERSIONS = ["2026.9.6", "2026.5.22"] as const;
export type OpenclawVersion = (typeof OPENCLAW_VERSIONS)[number];

/** Where the installs are kept: the repo's gitignored .cache/e2e, or E2E_CACHE_DIR (e.g. to time a cold install). */
const CACHE = process.env.E2E_CACHE_DIR ? resolve(process.env.E2E_CACHE_DIR) : resolve(import.meta.dir, "../../.cache/e2e");

export type Installed = {
  version: string;
  node: string;
  entry: string;
  schema: JsonSchema;
  /** this version logs when its post-ready provider-auth warm-up (which blocks the event loop) is done */
  logsWarmup: boolean;
};

/** 2026.5.x warms provider auth state right after "ready" and holds connects meanwhile; it logs this line when done. */
const WARMUP_DONE = /provider auth state pre-warm(ed| failed)/;
const WARMUP_MARKER = "provider auth state pre-warmed";

type JsonSchema = { properties?: Record<string, JsonSchema>; additionalProperties?: unknown };

const nodePrefix = () => join(CACHE, `node-${NODE_VERSION}`);
const nodeBin = () => join(nodePrefix(), "node_modules", "node", "bin", "node");
const openclawPrefix = (version: string) => join(CACHE, `openclaw-${version}`);
const openclawEntry = (version: string) => join(openclawPrefix(version), "node_modules", "openclaw", "openclaw.mjs");
const schemaFile = (version: string) => join(openclawPrefix(version), "config-schema.json");
const metaFile = (version: string) => join(openclawPrefix(version), "e2e-meta.json");

function installedVersion(packageJson: string): string | undefined {
  try {
    return JSON.parse(readFileSync(packageJson, "utf8")).version;
  } catch {
    return undefined;
  }
}

/** npm's own config and cache live in the real home, not the tests' temp HOME. */
const realHome = () => userInfo().homedir;

async function exec(argv: string[], env: Record<string, string>, cwd: string): Promise<{ code: number; output: string }> {
  const proc = Bun.spawn(argv, { env, cwd, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, output: `${out}${err}` };
}

/**
 * `npm install <spec>` in a fresh folder beside `prefix`, then rename it into
 * place, so a half-finished install is never taken for a good one. npm runs as
 * it is set up on this machine (the whole environment, the real home's npmrc
 * and cache, the default global npmrc): only PATH is extended, so install
 * scripts run on Node 24.
 */
async function npmInstall(prefix: string, spec: string, pathDirs: string[]): Promise<void> {
  mkdirSync(CACHE, { recursive: true });
  const partial = `${prefix}.partial-${process.pid}-${Date.now()}`;
  mkdirSync(partial, { recursive: true });
  writeFileSync(join(partial, "package.json"), `${JSON.stringify({ private: true, description: "kokochat-pairing e2e cache" })}\n`);
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined) env[key] = value;
  env.PATH = [...pathDirs, process.env.PATH ?? "/usr/bin:/bin"].join(":");
  env.HOME = realHome();
  const { code, output } = await exec(["npm", "install", "--no-audit", "--no-fund", "--save-exact", "--loglevel=error", spec], env, partial);
  if (code !== 0) {
    rmSync(partial, { recursive: true, force: true });
    throw new Error(`npm install ${spec} failed (exit ${code}):\n${output.slice(-2000)}`);
  }
  try {
    renameSync(partial, prefix);
  } catch {
    // another run won the race; its copy is as good as ours
    rmSync(partial, { recursive: true, force: true });
  }
}

let nodeInstall: Promise<void> | undefined;

async function ensureNode(): Promise<void> {
  nodeInstall ??= (async () => {
    if (existsSync(nodeBin())) return;
    rmSync(nodePrefix(), { recursive: true, force: true });
    await npmInstall(nodePrefix(), `node@${NODE_VERSION}`, []);
  })();
  return nodeInstall;
}

const installs = new Map<string, Promise<Installed>>();

export type InstallReport = { version: string; npmInstalled: string[]; ms: number };

/** Install (or reuse) Node 24 and openclaw@version; report what npm had to install and how long it all took. */
export function ensureOpenclaw(version: string, report?: (r: InstallReport) => void): Promise<Installed> {
  let promise = installs.get(version);
  if (!promise) {
    promise = (async () => {
      const started = performance.now();
      const npmInstalled: string[] = [];
      if (!existsSync(nodeBin())) npmInstalled.push(`node@${NODE_VERSION}`);
      await ensureNode();
      if (installedVersion(join(dirname(openclawEntry(version)), "package.json")) !== version) {
        npmInstalled.push(`openclaw@${version}`);
        rmSync(openclawPrefix(version), { recursive: true, force: true });
        await npmInstall(openclawPrefix(version), `openclaw@${version}`, [dirname(nodeBin())]);
      }
      if (!existsSync(schemaFile(version))) await writeSchema(version);
      if (!existsSync(metaFile(version))) writeFileSync(metaFile(version), JSON.stringify({ logsWarmup: await distContains(version, WARMUP_MARKER) }));
      const schema = JSON.parse(readFileSync(schemaFile(version), "utf8")) as JsonSchema;
      const meta = JSON.parse(readFileSync(metaFile(version), "utf8")) as { logsWarmup: boolean };
      report?.({ version, npmInstalled, ms: Math.round(performance.now() - started) });
      return { version, node: nodeBin(), entry: openclawEntry(version), schema, logsWarmup: meta.logsWarmup };
    })();
    installs.set(version, promise);
  }
  return promise;
}

/** Does any file of the installed dist contain this text? (Looked up once per install.) */
async function distContains(version: string, text: string): Promise<boolean> {
  const dist = join(dirname(openclawEntry(version)), "dist");
  for (const name of readdirSync(dist)) {
    if (!/\.m?js$/.test(name)) continue;
    if ((await Bun.file(join(dist, name)).text()).includes(text)) return true;
  }
  return false;
}

/** `openclaw config schema`, run once per install and kept beside it. */
async function writeSchema(version: string): Promise<void> {
  const scratch = mkdtempSync(join(tmpdir(), "openclaw-schema-"));
  try {
    const env = baseEnv(join(scratch, "home"), join(scratch, "state"));
    mkdirSync(join(scratch, "home"), { recursive: true });
    const proc = Bun.spawn([nodeBin(), openclawEntry(version), "config", "schema"], { env, cwd: scratch, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
    const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    if (code !== 0) throw new Error(`openclaw@${version} config schema failed (exit ${code}): ${err.slice(-1000)}`);
    JSON.parse(out); // must be JSON
    writeFileSync(schemaFile(version), out);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

function baseEnv(home: string, stateDir: string): Record<string, string> {
  return {
    PATH: `${dirname(nodeBin())}:/usr/bin:/bin`,
    HOME: home,
    OPENCLAW_STATE_DIR: stateDir,
    NO_COLOR: "1",
    DO_NOT_TRACK: "1",
    LANG: "C.UTF-8",
  };
}

/** Does the version's config schema list this dotted key? */
export function schemaHas(schema: JsonSchema, key: string): boolean {
  let node: JsonSchema | undefined = schema;
  for (const part of key.split(".")) {
    node = node?.properties?.[part];
    if (!node) return false;
  }
  return true;
}

/**
 * Build the gateway config from the wanted dotted keys, keeping only those the
 * version's schema lists (older gateways refuse unknown keys).
 */
export function buildConfig(schema: JsonSchema, wanted: Record<string, unknown>): { config: Record<string, unknown>; dropped: string[] } {
  const config: Record<string, unknown> = {};
  const dropped: string[] = [];
  for (const [key, value] of Object.entries(wanted)) {
    if (!schemaHas(schema, key)) {
      dropped.push(key);
      continue;
    }
    const parts = key.split(".");
    let node = config;
    for (const part of parts.slice(0, -1)) node = (node[part] ??= {}) as Record<string, unknown>;
    node[parts.at(-1)!] = value;
  }
  return { config, dropped };
}

/** A port nothing listens on right now (127.0.0.1). */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

/** Pids of every live descendant of `root` (read from /proc), root first. */
function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  let entries: string[] = [];
  try {
    entries = readdirSync("/proc");
  } catch {
    return [root];
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(entry));
      children.set(ppid, list);
    } catch {}
  }
  const out: number[] = [];
  const walk = (pid: number) => {
    out.push(pid);
    for (const child of children.get(pid) ?? []) walk(child);
  };
  walk(root);
  return out;
}

function processGroup(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]);
  } catch {
    return undefined;
  }
}

function signalGroups(pgids: Iterable<number>, signal: NodeJS.Signals): void {
  for (const pgid of pgids) {
    try {
      process.kill(-pgid, signal);
    } catch {}
  }
}

export type Gateway = {
  version: string;
  port: number;
  url: string;
  /** OPENCLAW_STATE_DIR of this gateway */
  stateDir: string;
  /** the gateway's temp folder: state/, home/, gateway.log, gateway.out */
  dir: string;
  logFile: string;
  pid: number;
  /** ms until /readyz said ready */
  readyzMs: number;
  /** ms until ready for connects (after any warm-up) */
  startMs: number;
  /** the device store this gateway created and reads: SQLite (2026.7+) or the JSON files */
  store: "sqlite" | "json";
  /** the gateway's shared auth token: only for checking that nothing printed it; never log it */
  secret: string;
  droppedConfigKeys: string[];
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
};

const running = new Set<Gateway>();

// Last resort: a test process that exits or is interrupted leaves no gateway behind.
function killAllNow(): void {
  for (const gateway of running) {
    const groups = new Set<number>([gateway.pid]);
    for (const pid of processTree(gateway.pid)) groups.add(processGroup(pid) ?? pid);
    signalGroups(groups, "SIGKILL");
  }
  running.clear();
}
process.on("exit", killAllNow);
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const)
  process.once(signal, () => {
    killAllNow();
    process.exit(128 + ({ SIGINT: 2, SIGTERM: 15, SIGHUP: 1 } as const)[signal]);
  });

export type StartOptions = {
  /** how long to wait for readiness */
  timeoutMs?: number;
  /** called once per poll failure kind, for progress output */
  onProgress?: (line: string) => void;
};

/** Start `openclaw gateway run` for an installed version and wait until it answers /readyz. */
export async function startGateway(installed: Installed, options: StartOptions = {}): Promise<Gateway> {
  const started = performance.now();
  const dir = mkdtempSync(join(tmpdir(), `openclaw-e2e-${installed.version}-`));
  const stateDir = join(dir, "state");
  const home = join(dir, "home");
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const logFile = join(dir, "gateway.log");
  const port = await freePort();
  const token = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");

  const { config, dropped } = buildConfig(installed.schema, {
    "gateway.mode": "local",
    "gateway.bind": "loopback",
    "gateway.port": port,
    "gateway.auth.mode": "token",
    "gateway.auth.token": token,
    "gateway.nodes.pairing.autoApproveLocal": false,
    "discovery.mdns.mode": "off",
    "update.checkOnStart": false,
    "telemetry.enabled": false,
    "browser.enabled": false,
    "logging.file": logFile,
  });
  for (const key of ["gateway.mode", "gateway.bind", "gateway.port", "gateway.auth.mode", "gateway.auth.token", "discovery.mdns.mode", "update.checkOnStart", "logging.file"])
    if (dropped.includes(key)) throw new Error(`openclaw@${installed.version} config schema lacks ${key}`);
  writeFileSync(join(stateDir, "openclaw.json"), `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });

  const out = openSync(join(dir, "gateway.out"), "a", 0o600);
  const child = spawn(installed.node, [installed.entry, "gateway", "run", "--port", String(port), "--bind", "loopback"], {
    cwd: dir,
    env: baseEnv(home, stateDir),
    detached: true, // its own process group, stopped as a group
    stdio: ["ignore", out, out],
  });
  closeSync(out);
  const pid = child.pid;
  if (pid === undefined) throw new Error(`openclaw@${installed.version}: gateway did not start`);
  let exited: number | null | undefined;
  child.on("exit", (code) => {
    exited = code;
  });
  const exitedPromise = new Promise<void>((resolveExit) => child.once("exit", () => resolveExit()));

  let stopped: Promise<void> | undefined;
  const gateway: Gateway = {
    version: installed.version,
    port,
    url: `ws://127.0.0.1:${port}`,
    stateDir,
    dir,
    logFile,
    pid,
    readyzMs: 0,
    startMs: 0,
    store: "json",
    secret: token,
    droppedConfigKeys: dropped,
    stop() {
      stopped ??= (async () => {
        const groups = new Set<number>([pid]);
        for (const p of processTree(pid)) groups.add(processGroup(p) ?? p);
        const pids = processTree(pid);
        signalGroups(groups, "SIGTERM");
        const deadline = Date.now() + 10_000;
        while (Date.now() < deadline && (exited === undefined || pids.some(isAlive))) await Bun.sleep(100);
        if (exited === undefined || pids.some(isAlive)) {
          signalGroups(groups, "SIGKILL");
          for (const p of pids) {
            try {
              process.kill(p, "SIGKILL");
            } catch {}
          }
          await Promise.race([exitedPromise, Bun.sleep(2_000)]);
        }
        running.delete(gateway);
      })();
      return stopped;
    },
    [Symbol.asyncDispose]() {
      return gateway.stop();
    },
  };
  running.add(gateway);

  try {
    const deadline = Date.now() + (options.timeoutMs ?? 90_000);
    for (;;) {
      if (exited !== undefined) throw new Error(`openclaw@${installed.version} gateway exited (code ${exited}) before it was ready; see ${join(dir, "gateway.out")}`);
      if (Date.now() > deadline) throw new Error(`openclaw@${installed.version} gateway not ready after ${options.timeoutMs ?? 90_000} ms; see ${join(dir, "gateway.out")}`);
      try {
        const res = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(2_000) });
        const body = (await res.json().catch(() => ({}))) as { ready?: boolean };
        if (res.ok && body.ready === true) {
          gateway.readyzMs = Math.round(performance.now() - started);
          break;
        }
      } catch {}
      await Bun.sleep(250);
    }
    if (installed.logsWarmup) {
      const warmupDeadline = Date.now() + 120_000;
      const outFile = join(dir, "gateway.out");
      while (!WARMUP_DONE.test(readFileSync(outFile, "utf8"))) {
        if (exited !== undefined) throw new Error(`openclaw@${installed.version} gateway exited (code ${exited}) while warming up; see ${outFile}`);
        if (Date.now() > warmupDeadline) throw new Error(`openclaw@${installed.version} gateway did not finish its warm-up in 120 s; see ${outFile}`);
        await Bun.sleep(250);
      }
    }
  } catch (error) {
    await gateway.stop();
    throw error;
  }
  gateway.startMs = Math.round(performance.now() - started);
  gateway.store = hasDeviceTable(join(stateDir, "state", "openclaw.sqlite")) ? "sqlite" : "json";
  return gateway;
}

function hasDeviceTable(path: string): boolean {
  if (!existsSync(path)) return false;
  const db = new Database(path, { readonly: true });
  try {
    return db.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'device_pairing_paired'").get() !== null;
  } finally {
    db.close();
  }
}

/** Remove a stopped gateway's temp folder (keep it when a test failed, for its logs). */
export function removeGatewayDir(gateway: Gateway): void {
  rmSync(gateway.dir, { recursive: true, force: true });
}
