/**
 * Keep exactly one relay connector running for a state dir (SPEC §4: two
 * connectors on one relay id fight and the phone flaps).
 *
 *  - An installed service (systemd unit / launchd agent) owns the connector:
 *    restart it, and stop any connector we started by hand before.
 *  - Else the pid file `<state>/kokochat-relay/<relayId>.pid` names the one we
 *    started. It counts only if that pid is alive AND is our connector for this
 *    config: same command line (`connector --config <path>`) and same process
 *    start time as recorded, so a recycled pid is never taken for ours.
 *  - Else start this binary detached and record it.
 *
 * Processes are only ever found through our own pid files and only signalled
 * after that check; never by name or pattern. All of it runs under a lock so
 * two `pair` runs at once still leave one connector.
 */
import { closeSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { CliError, errno, fsError } from "../errors.ts";
import { writeFileAtomic } from "../store/atomic.ts";
import { isAlive, withLock } from "../store/lock.ts";
import { relayDir } from "./credentials.ts";
import { installedService, restartSteps, runStep, runSteps, type ServicePlace, type StepRunner } from "./service.ts";

export type EnsureResult = "started" | "running" | "restarted-service" | "skipped";

export type PidRecord = {
  pid: number;
  /** Process start time as the OS reports it (Linux: /proc/<pid>/stat field 22; macOS: `ps -o lstart=`). */
  start: string;
  configPath: string;
  startedAtMs: number;
};

export type SupervisorDeps = {
  /** argv that runs this program (the binary, or bun + script). */
  self: string[];
  /** The installed connector service, if any. */
  service: () => ServicePlace | undefined;
  runStep: StepRunner;
  env: NodeJS.ProcessEnv;
  /** How long a fresh connector must stay up before we call it started. */
  settleMs: number;
  /** Lines for people (stderr). */
  say: (line: string) => void;
};

/** argv that runs this very program: the compiled binary, or `bun <script>` from source. */
export function selfCommand(): string[] {
  const main = Bun.main;
  const compiled = main.startsWith("/$bunfs/") || /^[A-Za-z]:[\\/]~BUN[\\/]/.test(main);
  return compiled ? [process.execPath] : [process.execPath, main];
}

export const defaultDeps = (): SupervisorDeps => ({
  self: selfCommand(),
  service: () => installedService(process.env),
  runStep,
  env: process.env,
  settleMs: 250,
  say: (line) => process.stderr.write(`${line}\n`),
});

export const pidPath = (stateDir: string, relayId: string) => join(relayDir(stateDir), `${relayId}.pid`);
export const logPath = (stateDir: string) => join(relayDir(stateDir), "connector.log");

// ── process identity ─────────────────────────────────────────────────────────

export type ProcessIdentity = { args: string[]; start: string };

/** Command line and start time of a live pid, or undefined (gone, zombie, or unknowable here). */
export function processIdentity(pid: number): ProcessIdentity | undefined {
  if (!Number.isSafeInteger(pid) || pid <= 1) return undefined;
  if (process.platform === "linux") {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      // fields[0] is field 3 (state); starttime is field 22.
      if (fields[0] === "Z" || fields[0] === "X") return undefined;
      const start = fields[19];
      const args = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
      if (args.at(-1) === "") args.pop();
      return start ? { args, start } : undefined;
    } catch {
      return undefined;
    }
  }
  if (process.platform === "darwin") {
    const ps = (field: string) => {
      const r = Bun.spawnSync(["/bin/ps", "-ww", "-o", `${field}=`, "-p", String(pid)], { env: { LC_ALL: "C", PATH: "/usr/bin:/bin" }, stderr: "ignore" });
      return r.exitCode === 0 ? r.stdout.toString().trim() : "";
    };
    const state = ps("stat");
    if (!state || state.startsWith("Z")) return undefined;
    const start = ps("lstart");
    const command = ps("command");
    // `ps` joins argv with spaces; `isOurs` matches the tail below on the joined text.
    return start && command ? { args: [command], start } : undefined;
  }
  return undefined;
}

/** The argv tail our connector runs with for a config. */
const connectorTail = (configPath: string) => ["connector", "--config", configPath];

/** Is this pid record a live connector of ours, for `configPath` when given? */
export function isOurs(record: PidRecord, configPath?: string): boolean {
  if (configPath !== undefined && resolve(record.configPath) !== resolve(configPath)) return false;
  const id = processIdentity(record.pid);
  if (!id || id.start !== record.start) return false;
  const tail = connectorTail(record.configPath);
  if (id.args.length === 1 && process.platform === "darwin") return id.args[0]!.endsWith(` ${tail.join(" ")}`);
  const at = id.args.length - tail.length;
  return at >= 1 && tail.every((word, i) => id.args[at + i] === word);
}

/**
 * What a pid record is to the connector of `configPath`: "ours" (verified by
 * start time and command line), "unverified" (Windows, where a live pid cannot
 * be checked: trusted as ours, never signalled), "other-config" (verified ours,
 * but running another config), or undefined (dead, or another program).
 */
export function recordedState(record: PidRecord, configPath: string): "ours" | "unverified" | "other-config" | undefined {
  const sameConfig = resolve(record.configPath) === resolve(configPath);
  if (isOurs(record)) return sameConfig ? "ours" : "other-config";
  return process.platform === "win32" && sameConfig && isAlive(record.pid) ? "unverified" : undefined;
}

// ── pid files ────────────────────────────────────────────────────────────────

/** The pid files of a state dir's kokochat-relay folder (none when it does not exist). */
function pidFiles(stateDir: string): { relayId: string; path: string }[] {
  const dir = relayDir(stateDir);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (error) {
    if (errno(error) === "ENOENT") return [];
    throw fsError(error, "the kokochat-relay folder");
  }
  return names.filter((n) => n.endsWith(".pid")).map((n) => ({ relayId: n.slice(0, -4), path: join(dir, n) }));
}

export function readPidFile(path: string): PidRecord | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    if (errno(error) === "ENOENT") return undefined;
    throw fsError(error, "a connector pid file");
  }
  try {
    const v = JSON.parse(text) as Partial<PidRecord>;
    if (Number.isSafeInteger(v.pid) && typeof v.start === "string" && typeof v.configPath === "string")
      return { pid: v.pid!, start: v.start, configPath: v.configPath, startedAtMs: Number(v.startedAtMs) || 0 };
  } catch {}
  // A bare pid (or junk) carries no start time: it can never be verified as ours.
  return { pid: Number.parseInt(text, 10) || 0, start: "", configPath: "", startedAtMs: 0 };
}

/** Write the pid file (or a unit) atomically with `mode`; file-system failures become CliErrors. */
export function writeFileOrFail(path: string, text: string | Uint8Array, mode = 0o600): void {
  try {
    writeFileAtomic(path, text, mode);
  } catch (error) {
    throw fsError(error, path.endsWith(".pid") ? "a connector pid file" : path);
  }
}

const withConnectorLock = <T>(dir: string, fn: () => Promise<T>) => withLock(join(dir, "connector.lock"), "starting the relay connector", fn);

// ── stopping and starting ───────────────────────────────────────────────────


/** SIGTERM a verified connector, SIGKILL it (re-verified) if it is still there after 3 s. */
async function stopVerified(record: PidRecord): Promise<void> {
  try {
    process.kill(record.pid, "SIGTERM");
  } catch {
    return;
  }
  const deadline = Date.now() + 3_000;
  // Liveness is one cheap syscall; the identity check (which runs `ps` three times on
  // macOS) only every ~250 ms, to stop waiting early if the pid went to another program.
  for (let i = 1; Date.now() < deadline; i++) {
    if (!isAlive(record.pid) || (i % 10 === 0 && !isOurs(record))) return;
    await Bun.sleep(25);
  }
  if (isOurs(record)) {
    try {
      process.kill(record.pid, "SIGKILL");
    } catch {}
  }
}

/**
 * Stop the connectors recorded in pid files of this state dir (all, or all but
 * `keepRelayId`'s), only after verifying each is ours; a pid file that names a
 * dead or foreign process is just removed.
 */
export async function stopRecordedConnectors(stateDir: string, keepRelayId?: string, onUnverified?: (pid: number) => void): Promise<number> {
  let stopped = 0;
  for (const { relayId, path } of pidFiles(stateDir)) {
    if (relayId === keepRelayId) continue;
    const record = readPidFile(path);
    if (record && isOurs(record)) {
      await stopVerified(record);
      stopped++;
    } else if (process.platform === "win32" && record && record.pid > 0 && isAlive(record.pid)) {
      // Windows gives no identity check, so it is never signalled; keep it recorded rather than forget it running.
      onUnverified?.(record.pid);
      continue;
    }
    rmSync(path, { force: true });
  }
  return stopped;
}

function openLog(path: string): number {
  try {
    if (statSync(path).size > 1024 * 1024) renameSync(path, `${path}.1`);
  } catch {}
  return openSync(path, "a", 0o600);
}

/** Only what the connector needs from our environment. */
function childEnv(env: NodeJS.ProcessEnv, stateDir: string): Record<string, string> {
  const out: Record<string, string> = { OPENCLAW_STATE_DIR: stateDir, NO_COLOR: "1" };
  for (const key of ["PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TZ", "TMPDIR", "SYSTEMROOT", "USERPROFILE", "KOKOCHAT_DEBUG"]) {
    const value = env[key];
    if (value !== undefined) out[key] = value;
  }
  return out;
}

async function startDetached(o: { stateDir: string; relayId: string; configPath: string }, deps: SupervisorDeps): Promise<PidRecord> {
  const log = logPath(o.stateDir);
  let fd: number;
  try {
    fd = openLog(log);
  } catch (error) {
    throw fsError(error, "kokochat-relay/connector.log");
  }
  let proc: ReturnType<typeof Bun.spawn>;
  try {
    proc = Bun.spawn([...deps.self, ...connectorTail(o.configPath)], {
      detached: true,
      cwd: relayDir(o.stateDir),
      env: childEnv(deps.env, o.stateDir),
      stdin: "ignore",
      stdout: fd,
      stderr: fd,
    });
  } catch (error) {
    throw new CliError("io", `cannot start the relay connector (${errno(error) ?? "spawn failed"}): check that this binary is still in place`);
  } finally {
    closeSync(fd);
  }
  proc.unref();
  const identity = processIdentity(proc.pid);
  const exited = await Promise.race([proc.exited.then(() => true), Bun.sleep(deps.settleMs).then(() => false)]);
  if (exited || (process.platform !== "win32" && !identity))
    throw new CliError("io", `the relay connector exited at once (code ${proc.exitCode ?? "?"}): see kokochat-relay/connector.log in the state dir`);
  const record: PidRecord = { pid: proc.pid, start: identity?.start ?? "", configPath: o.configPath, startedAtMs: Date.now() };
  writeFileOrFail(pidPath(o.stateDir, o.relayId), `${JSON.stringify(record)}\n`);
  return record;
}

/**
 * Make sure exactly one connector runs for this state dir, for `configPath`.
 * Throws a CliError (busy 75, io 74) when it cannot; `pair` decides whether
 * that fails the pairing. ("skipped" is `pair`'s own answer to --no-connector.)
 */
export async function ensureConnector(
  o: { stateDir: string; relayId: string; configPath: string },
  deps: SupervisorDeps = defaultDeps(),
): Promise<EnsureResult> {
  const stateDir = resolve(o.stateDir);
  const configPath = resolve(o.configPath);
  const dir = relayDir(stateDir);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw fsError(error, "the kokochat-relay folder");
  }
  return withConnectorLock(dir, async () => {
    const service = deps.service();
    if (service) {
      await stopRecordedConnectors(stateDir);
      runSteps(service, restartSteps(service), deps.runStep, deps.say);
      return "restarted-service";
    }
    await stopRecordedConnectors(stateDir, o.relayId);
    const path = pidPath(stateDir, o.relayId);
    const record = readPidFile(path);
    const state = record && recordedState(record, configPath);
    if (state === "ours" || state === "unverified") return "running";
    if (record) {
      // Ours but for another config (a stale pid file): stop it; a foreign or dead pid is left alone.
      if (state === "other-config") await stopVerified(record);
      rmSync(path, { force: true });
    }
    await startDetached({ stateDir, relayId: o.relayId, configPath }, deps);
    return "started";
  });
}

/** Pid-file connectors of a state dir and whether each is verified alive (for `service status`). */
export function recordedConnectors(stateDir: string): Array<{ relayId: string; pid: number; running: boolean }> {
  return pidFiles(stateDir).map(({ relayId, path }) => {
    const record = readPidFile(path);
    return { relayId, pid: record?.pid ?? 0, running: record ? isOurs(record) : false };
  });
}
