/**
 * What the tool sees and what is wrong, each problem with its fix. Read-only:
 * no file is created, changed or removed, no process is signalled, and the
 * service manager is only asked for the connector's state.
 */
import { accessSync, constants, existsSync, readFileSync, statSync } from "node:fs";
import { gatewayAddress, tcpAnswers } from "./openclaw/gateway.ts";
import { join } from "node:path";
import { CliError, errno, type ErrorCode } from "./errors.ts";
import { KOKOCHAT_CLIENT_IDS, readDevices, summarise } from "./devices.ts";
import { configPath, effectiveEnv, localGatewayUrl, readOpenClawConfig, type OpenClawConfig } from "./openclaw/config.ts";
import { connectorConfigPath, credentialsPath, readCredentials, relayDir, relayUrlFrom, reusable, RELAY_ID_RE, RELAY_SECRET_RE, type RelayCredentials } from "./relay/credentials.ts";
import { installedService, serviceState, TASK_NAME, UNIT_NAME } from "./relay/service.ts";
import { pidPath, readPidFile, recordedState } from "./relay/supervisor.ts";
import { jsonFiles } from "./store/json.ts";
import { selectStore, sqlitePath, storeJson, type StoreTarget } from "./store/select.ts";
import { checkSchema, openDatabase } from "./store/sqlite.ts";
import { resolveStateDir, systemProbe } from "./store/statedir.ts";

/**
 * The credentials serve this relay URL (a stored https:// or trailing / still counts): `reusable` as a
 * plain boolean, since its type guard would narrow `creds` to never in the branch that reports them.
 */
const sameRelay = (c: RelayCredentials, url: string): boolean => reusable(c, url);

export type CheckStatus = "ok" | "note" | "problem";
export type Check = { check: string; status: CheckStatus; summary: string; fix?: string };

export type Report = {
  ok: boolean;
  problems: number;
  stateDir: string;
  stateDirSource: string;
  store?: { backend: string; path: string; schemaVersion?: number; openclawVersion?: string };
  relay?: { url: string; id?: string };
  gatewayUrl?: string;
  checks: Check[];
};

/** Generic fixes for the store errors `pair` would raise. */
const FIXES: Partial<Record<ErrorCode, string>> = {
  "store-missing": "start the OpenClaw gateway once so it creates its store, or pass --state-dir / set OPENCLAW_STATE_DIR to the right folder",
  "bad-store": "repair the file or move it aside (try 'openclaw doctor'); kokochat-pairing will not write it as it is",
  refused: "run kokochat-pairing as the user that owns the OpenClaw state dir",
  busy: "try again in a moment",
  io: "check the disk and the path",
};

const quotePath = (path: string) => `'${path.replace(/'/g, `'\\''`)}'`;
const octal = (mode: number) => (mode & 0o777).toString(8).padStart(4, "0");

export async function diagnose(options: { stateDir?: string }, processEnv: NodeJS.ProcessEnv): Promise<Report> {
  const checks: Check[] = [];
  const add = (check: string, status: CheckStatus, summary: string, fix?: string) => checks.push({ check, status, summary, ...(fix && { fix }) });
  /** Run one check; anything it throws is a problem of that check, never a crash. */
  const guard = async (check: string, fn: () => void | Promise<void>) => {
    try {
      await fn();
    } catch (error) {
      if (error instanceof CliError) add(check, "problem", error.message, FIXES[error.code]);
      else add(check, "problem", `could not check (${error instanceof Error ? error.name : typeof error})`, "run with KOKOCHAT_DEBUG=1 and report it");
    }
  };

  const state = resolveStateDir(processEnv, systemProbe(processEnv), options.stateDir);
  const report: Report = { ok: true, problems: 0, stateDir: state.dir, stateDirSource: state.source, checks };
  let isDir = false;
  try {
    isDir = statSync(state.dir).isDirectory();
  } catch {}
  if (isDir) add("state dir", "ok", `${state.dir} (from ${state.source})`);
  else
    add(
      "state dir",
      "problem",
      `no OpenClaw state dir at ${state.dir} (from ${state.source})`,
      "install and start OpenClaw once, or pass --state-dir / set OPENCLAW_STATE_DIR to the folder it uses",
    );

  // Config: openclaw.env (names only: values may be secrets) and openclaw.json.
  let env: NodeJS.ProcessEnv = processEnv;
  let config: OpenClawConfig = {};
  let gatewayUrl: string | undefined; // undefined: KOKOCHAT_LOCAL_GATEWAY_URL is refused, a config problem already reported
  await guard("config", () => {
    env = effectiveEnv(state.dir, processEnv);
    const envFile = join(state.dir, "openclaw.env");
    if (existsSync(envFile)) {
      const keys = Object.keys(env).filter((k) => /^(KOKOCHAT|OPENCLAW)_/.test(k) && processEnv[k] === undefined);
      add("config", "note", `openclaw.env supplies ${keys.length > 0 ? keys.sort().join(", ") : "no KOKOCHAT_/OPENCLAW_ settings"}`);
    }
    const path = configPath(state.dir, env);
    config = readOpenClawConfig(state.dir, env);
    if (!existsSync(path)) add("config", "note", `no ${path}: OpenClaw's defaults assumed`);
    else add("config", "ok", `${path}: OpenClaw ${config.lastTouchedVersion ?? "version not recorded"}, gateway port ${config.gatewayPort ?? "default"}`);
    gatewayUrl = localGatewayUrl(config, env);
  });

  // Store: which one, its version, readable and writable, its devices.
  let store: StoreTarget | undefined;
  if (isDir)
    await guard("store", () => {
      store = selectStore(state.dir, state.source, "auto", config);
      const where = store.kind === "sqlite" ? `SQLite ${store.path}` : `JSON ${store.path}`;
      if (store.kind === "sqlite") {
        const db = openDatabase(store.path, "read");
        try {
          checkSchema(db, store.path);
        } finally {
          db.close();
        }
        const i = store.info!;
        add("store", "ok", `${where}: schema ${i.schemaVersion ?? "?"} (user_version ${i.userVersion}), OpenClaw ${i.appVersion ?? "version not recorded"}`);
        if (existsSync(jsonFiles(state.dir).paired))
          add("store", "note", "devices/paired.json is ignored by this gateway: phones paired only there must be paired again");
      } else {
        add("store", "ok", `${where} (OpenClaw before 2026.7${config.lastTouchedVersion ? `, config written by ${config.lastTouchedVersion}` : ""})${existsSync(store.path) ? "" : "; nothing paired yet"}`);
      }
      report.store = storeJson(store);
      const devices = readDevices({ state, store }).map(summarise);
      const kokochat = devices.filter((d) => d.kokochat);
      const count = (s: string) => kokochat.filter((d) => d.token === s).length;
      add(
        "devices",
        "ok",
        `${devices.length} paired device${devices.length === 1 ? "" : "s"}, ${kokochat.length} KokoChat (client ${KOKOCHAT_CLIENT_IDS.join("/")}): ${count("active") + count("rotated")} active, ${count("revoked")} revoked`,
      );
      for (const d of devices.filter((d) => d.unreadable))
        add("devices", "problem", `device ${d.shortId}…: ${d.unreadable!.join(", ")} not JSON`, "remove the device with 'openclaw devices remove <deviceId>' and pair it again");
    });

  // Permissions and access of every file we (or the gateway) keep secrets in.
  if (isDir)
    await guard("permissions", () => {
      const posix = process.platform !== "win32";
      const paths: [string, "dir" | "file"][] = [[state.dir, "dir"]];
      if (store?.kind === "sqlite") paths.push([join(state.dir, "state"), "dir"], [sqlitePath(state.dir), "file"]);
      else {
        const f = jsonFiles(state.dir);
        paths.push([f.dir, "dir"], [f.paired, "file"], [f.pending, "file"]);
      }
      paths.push([relayDir(state.dir), "dir"], [credentialsPath(state.dir), "file"]);
      const creds = readCredentials(credentialsPath(state.dir));
      if (creds && /^[A-Za-z0-9_-]{1,160}$/.test(creds.relayId)) paths.push([connectorConfigPath(state.dir, creds.relayId), "file"]);
      let bad = 0;
      for (const [path, kind] of paths) {
        let mode: number;
        try {
          mode = statSync(path).mode;
        } catch (error) {
          if (errno(error) === "ENOENT") continue;
          throw error;
        }
        try {
          accessSync(path, constants.R_OK | constants.W_OK | (kind === "dir" ? constants.X_OK : 0));
        } catch {
          bad++;
          add("permissions", "problem", `${path} is not ${kind === "dir" ? "writable" : "readable and writable"} by this user`, "run as the user that owns the OpenClaw state dir (or fix the owner with chown)");
          continue;
        }
        // A file open to group or others exposes tokens, a folder they can write lets them swap files:
        // problems. A folder they can only list (older gateways make devices/ 0755 themselves) shows
        // names, not secrets: a note.
        const want = kind === "dir" ? 0o700 : 0o600;
        const exposed = kind === "dir" ? mode & 0o022 : mode & 0o077;
        if (posix && exposed !== 0) {
          bad++;
          add("permissions", "problem", `${path} is ${octal(mode)}, expected ${octal(want)}: group or others have access`, `chmod ${want.toString(8)} ${quotePath(path)}`);
        } else if (posix && (mode & 0o077) !== 0)
          add("permissions", "note", `${path} is ${octal(mode)}: others can list it (its files are what must stay private)`, `chmod ${want.toString(8)} ${quotePath(path)} if you prefer`);
      }
      if (bad === 0) add("permissions", "ok", posix ? "state dir, device store and relay files: readable and writable, files 0600, no folder writable by others" : "state dir, device store and relay files: readable and writable");
    });

  // Relay URL and credentials (never the secret).
  let relayId: string | undefined;
  await guard("relay", () => {
    const url = relayUrlFrom(undefined, env, false);
    const source = processEnv.KOKOCHAT_RELAY_URL?.trim() ? "KOKOCHAT_RELAY_URL" : env.KOKOCHAT_RELAY_URL?.trim() ? "openclaw.env" : "default";
    report.relay = { url };
    add("relay", "ok", `relay ${url} (from ${source})`);
    if (!isDir) return;
    const path = credentialsPath(state.dir);
    if (!existsSync(path)) {
      add("relay", "note", "no relay credentials yet: the first pair makes them");
      return;
    }
    const creds = readCredentials(path);
    if (!creds) {
      add("relay", "problem", "kokochat-relay/relay.json is not readable JSON credentials", "pair a phone again: new credentials are made, and phones paired before must be paired again");
      return;
    }
    if (!RELAY_ID_RE.test(creds.relayId) || !RELAY_SECRET_RE.test(creds.relaySecret)) {
      add("relay", "problem", "kokochat-relay/relay.json holds a relay id or secret of the wrong shape", "pair a phone again: new credentials are made, and phones paired before must be paired again");
      return;
    }
    relayId = creds.relayId;
    report.relay.id = relayId;
    if (!sameRelay(creds, url))
      add(
        "relay",
        "problem",
        `the credentials are for relay ${creds.relayUrl}, but the relay is now ${url}`,
        `set KOKOCHAT_RELAY_URL=${creds.relayUrl} again, or pair each phone again (that makes credentials for the new relay)`,
      );
    else add("relay", "ok", `relay id ${relayId}, made ${creds.createdAtMs > 0 ? new Date(creds.createdAtMs).toISOString() : "at an unknown time"} (secret present, not shown)`);

    const connectorPath = connectorConfigPath(state.dir, relayId);
    let connector: Record<string, unknown> | undefined;
    try {
      connector = JSON.parse(readFileSync(connectorPath, "utf8"));
    } catch (error) {
      add(
        "relay",
        "problem",
        errno(error) === "ENOENT" ? `no connector config kokochat-relay/${relayId}.json` : `kokochat-relay/${relayId}.json is not readable JSON`,
        "pair a phone again: it rewrites the connector config (the relay id stays)",
      );
      return;
    }
    const same = connector?.relayUrl === creds.relayUrl && connector?.relayId === creds.relayId && connector?.relaySecret === creds.relaySecret;
    if (!same) add("relay", "problem", `kokochat-relay/${relayId}.json does not match relay.json`, "pair a phone again: it rewrites the connector config");
    else if (gatewayUrl !== undefined && connector?.gatewayUrl !== gatewayUrl)
      add("relay", "problem", `the connector forwards to ${String(connector?.gatewayUrl).slice(0, 100)}, but the gateway is at ${gatewayUrl}`, "pair a phone again: it rewrites the connector config with the current gateway port");
  });

  if (isDir && relayId !== undefined) await guard("connector", () => checkConnector(state.dir, relayId!, env, add));

  // The local gateway answers on its port?
  const gateway = gatewayUrl;
  if (gateway !== undefined)
    await guard("gateway", async () => {
      report.gatewayUrl = gateway;
      const { host, port } = gatewayAddress(gateway)!; // localGatewayUrl returns only URLs it parsed
      const answer = await tcpAnswers(host, port, gatewayTimeoutMs(env));
      if (answer === true) add("gateway", "ok", `the gateway port answers at ${host}:${port}`);
      else
        add(
          "gateway",
          "problem",
          `nothing answers at ${host}:${port} (${answer}): phones cannot reach the gateway through the relay`,
          "start the OpenClaw gateway (e.g. 'openclaw gateway'), or check gateway.port in openclaw.json / OPENCLAW_GATEWAY_PORT",
        );
    });

  report.problems = checks.filter((c) => c.status === "problem").length;
  report.ok = report.problems === 0;
  return report;
}

const gatewayTimeoutMs = (env: NodeJS.ProcessEnv) => {
  const value = Number(env.KOKOCHAT_DOCTOR_TIMEOUT_MS);
  return Number.isInteger(value) && value > 0 ? value : 1500;
};

type Add = (check: string, status: CheckStatus, summary: string, fix?: string) => void;

/**
 * A connector for this relay id: its pid file `<relayId>.pid` names a live
 * connector of ours for this config (same command line and start time, as the
 * supervisor records it), or the installed service is active. Kills nothing,
 * starts nothing; the service manager is only asked for the state.
 */
function checkConnector(stateDir: string, relayId: string, env: NodeJS.ProcessEnv, add: Add): void {
  const record = readPidFile(pidPath(stateDir, relayId));
  let running: string | undefined;
  let stale: string | undefined;
  if (record) {
    const state = recordedState(record, connectorConfigPath(stateDir, relayId)); // as the supervisor judges it
    if (state === "ours") running = `pid ${record.pid}`;
    else if (state === "unverified") running = `pid ${record.pid}, not verified on Windows`;
    else stale = `the pid file names pid ${record.pid}, which is not our running connector`;
  }
  const place = installedService(env);
  if (place) {
    const label =
      place.kind === "launchd"
        ? "launchd agent kokochat-relay-connector"
        : place.kind === "schtasks"
          ? `logon task ${TASK_NAME}`
          : `${place.kind === "systemd-user" ? "user " : ""}unit ${UNIT_NAME}`;
    const state = serviceState(place);
    if (state === "active" || state === "loaded" || state === "registered") running = running ? `${running}; ${label} ${state}` : `${label} ${state}`;
    else {
      const restart = place.kind.startsWith("systemd") ? `systemctl ${place.kind === "systemd-user" ? "--user " : ""}restart ${UNIT_NAME}` : "kokochat-pairing service install";
      add("connector", "problem", `${label} is installed but ${state}`, `${restart}; its log tells why it stopped`);
    }
  }
  if (running) add("connector", "ok", `relay connector running for relay ${relayId} (${running})`);
  else if (!place)
    add(
      "connector",
      "problem",
      `no relay connector is running for relay ${relayId}${stale ? ` (${stale})` : ""}: phones cannot reach this gateway`,
      "install it as a service ('kokochat-pairing service install') or run 'kokochat-pairing connector' in the foreground",
    );
}
