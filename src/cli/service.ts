/**
 * `kokochat-pairing service install|uninstall|status [--state-dir DIR] [--dry-run]`:
 * run the relay connector as a systemd unit (Linux) or launchd agent (macOS)
 * that restarts it always. stdout: the unit with --dry-run, else one result
 * line; stderr: what was done.
 */
import { mkdirSync, rmSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { CliError, errno, fsError, usageError } from "../errors.ts";
import { parse } from "./args.ts";
import { info, result, resultText, warn } from "./output.ts";
import { relayDir, stateDirFrom } from "../relay/connector-config.ts";
import {
  afterUninstallSteps,
  installSteps,
  installedService,
  renderUnit,
  runStep,
  runSteps,
  servicePlace,
  serviceState,
  stateDirOwner,
  systemdRunning,
  uninstallSteps,
  unsupportedOs,
  unitBytes,
  type ServicePlace,
} from "../relay/service.ts";
import { logPath, recordedConnectors, selfCommand, stopRecordedConnectors, writeFileOrFail } from "../relay/supervisor.ts";

/** Settings the service connector needs that are not in the state dir itself. */
const PASSED_ENV = ["KOKOCHAT_LOCAL_GATEWAY_URL", "OPENCLAW_GATEWAY_PORT", "OPENCLAW_CONFIG_PATH"];

function unitFor(place: ServicePlace, stateDir: string): string {
  const environment: Record<string, string> = { OPENCLAW_STATE_DIR: stateDir };
  for (const key of PASSED_ENV) {
    const value = process.env[key]?.trim();
    if (!value) continue;
    // A logon task carries no environment: the connector would silently use another gateway.
    if (place.kind === "schtasks")
      throw new CliError("usage", `${key} cannot be passed to a Windows logon task: put the gateway's port in openclaw.json (gateway.port) and unset ${key}`);
    environment[key] = value;
  }
  const user = place.kind === "systemd-system" ? stateDirOwner(stateDir) : undefined;
  return renderUnit(place, {
    command: [...selfCommand(), "connector", "--state-dir", stateDir],
    environment,
    ...(user !== undefined && { user }),
    logPath: logPath(stateDir),
  });
}

async function install(place: ServicePlace, stateDir: string, dryRun: boolean): Promise<number> {
  const unit = unitFor(place, stateDir);
  if (dryRun) {
    resultText(unit); // synchronous, like every result: the process exits right after
    info(`dry run: would write ${place.path} and run: ${installSteps(place).map((s) => s.argv.join(" ")).join("; ")}`);
    return 0;
  }
  try {
    mkdirSync(dirname(place.path), { recursive: true, mode: 0o755 });
    if (place.kind === "launchd") mkdirSync(relayDir(stateDir), { recursive: true, mode: 0o700 });
  } catch (error) {
    throw fsError(error, dirname(place.path));
  }
  writeFileOrFail(place.path, unitBytes(place, unit), 0o644);
  info(`wrote ${place.path}`);
  const stopped = await stopRecordedConnectors(stateDir, undefined, (pid) =>
    warn(`a connector started by 'pair' may still run as pid ${pid}: end it (Task Manager, or 'taskkill /PID ${pid}') so only the service's connector serves the relay`),
  );
  if (stopped) info(`stopped ${stopped} connector${stopped === 1 ? "" : "s"} started by 'pair': the service runs it now`);
  runSteps(place, installSteps(place), runStep, info);
  if (place.kind === "systemd-user")
    info("a user unit stops at logout unless lingering is on: run 'loginctl enable-linger' once to keep it running");
  result(place.path);
  return 0;
}

function uninstall(place: ServicePlace, dryRun: boolean): number {
  let present = true;
  try {
    statSync(place.path);
  } catch (error) {
    if (errno(error) !== "ENOENT") throw fsError(error, place.path);
    present = false;
  }
  if (!present) {
    info(`no connector service at ${place.path}`);
    result("not installed");
    return 0;
  }
  if (dryRun) {
    info(`dry run: would run: ${uninstallSteps(place).map((s) => s.argv.join(" ")).join("; ")}; and remove ${place.path}`);
    result(place.path);
    return 0;
  }
  runSteps(place, uninstallSteps(place), runStep, info);
  try {
    rmSync(place.path, { force: true });
  } catch (error) {
    throw fsError(error, place.path);
  }
  runSteps(place, afterUninstallSteps(place), runStep, info);
  info(`removed ${place.path}`);
  result("removed");
  return 0;
}

function status(place: ServicePlace, stateDir: string): number {
  const found = installedService(process.env);
  const state = found ? serviceState(found) : undefined;
  if (found) info(`${found.kind} service: ${found.path} (${state})`);
  else info(`no connector service installed (would be ${place.path})`);
  const recorded = recordedConnectors(stateDir);
  for (const r of recorded)
    info(`connector started by 'pair' for relay id ${r.relayId.slice(0, 6)}…: pid ${r.pid}, ${r.running ? "running" : "not running"}`);
  const running = recorded.some((r) => r.running);
  result(found ? `service ${state}` : running ? "detached running" : "not running");
  return 0;
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { "state-dir": { type: "string" }, "dry-run": { type: "boolean" } });
  const action = positionals[0];
  if (positionals.length !== 1 || !["install", "uninstall", "status"].includes(action!))
    throw usageError("expected 'service install', 'service uninstall' or 'service status': see 'kokochat-pairing --help'");
  if (!["linux", "darwin", "win32"].includes(process.platform)) throw unsupportedOs(process.platform);
  const stateDir = stateDirFrom(process.env, values["state-dir"]);
  const place = servicePlace(process.env);
  const dryRun = values["dry-run"] === true;
  if (action === "install") {
    if (!dryRun && !place.overridden && place.kind.startsWith("systemd") && !systemdRunning())
      throw new CliError("refused", "systemd is not running here: run 'kokochat-pairing connector' under your own process supervisor");
    return install(place, stateDir, dryRun);
  }
  if (action === "uninstall") return uninstall(place, dryRun);
  return status(place, stateDir);
}
