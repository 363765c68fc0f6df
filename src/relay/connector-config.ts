/**
 * Where the connector's settings come from: a connector config file
 * `<state>/kokochat-relay/<relayId>.json` `{relayUrl, relayId, relaySecret,
 * gatewayUrl}` (SPEC §4), or, with no file named, `relay.json` plus the local
 * gateway URL (SPEC §3). Errors name the file, never a value from it.
 */
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { isAbsolute, join, resolve } from "node:path";
import { CliError, errno, fsError } from "../errors.ts";
import type { ConnectorConfig } from "./connector.ts";

const RELAY_ID_RE = /^[A-Za-z0-9_-]{16,160}$/;
const RELAY_SECRET_RE = /^[A-Za-z0-9_-]{32,256}$/;

export const relayDir = (stateDir: string) => join(stateDir, "kokochat-relay");

function readJson(path: string, what: string): Record<string, unknown> | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    if (errno(error) === "ENOENT") return undefined;
    throw fsError(error, what);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new CliError("bad-store", `${what} is not valid JSON: run 'kokochat-pairing pair' again to rewrite it`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new CliError("bad-store", `${what} is not a JSON object: run 'kokochat-pairing pair' again to rewrite it`);
  return value as Record<string, unknown>;
}

function wsUrl(raw: unknown, field: string, what: string): string {
  const bad = () => new CliError("bad-store", `${what}: ${field} is not a ws:// or wss:// URL: run 'kokochat-pairing pair' again`);
  if (typeof raw !== "string") throw bad();
  let url: URL;
  try {
    url = new URL(raw.trim().replace(/^http(s?):/i, "ws$1:"));
  } catch {
    throw bad();
  }
  if (url.protocol !== "ws:" && url.protocol !== "wss:") throw bad();
  if (url.username || url.password || url.search || url.hash) throw bad();
  return url.href.replace(/\/+$/, "");
}

function credentials(value: Record<string, unknown>, what: string) {
  const { relayId, relaySecret } = value;
  if (typeof relayId !== "string" || !RELAY_ID_RE.test(relayId))
    throw new CliError("bad-store", `${what}: relayId is missing or malformed: run 'kokochat-pairing pair' again`);
  if (typeof relaySecret !== "string" || !RELAY_SECRET_RE.test(relaySecret))
    throw new CliError("bad-store", `${what}: relaySecret is missing or malformed: run 'kokochat-pairing pair' again`);
  return { relayUrl: wsUrl(value.relayUrl, "relayUrl", what), relayId, relaySecret };
}

/** A connector config file named with --config. */
export function readConnectorConfig(path: string): ConnectorConfig {
  const what = "the connector config";
  const value = readJson(path, what);
  if (!value) throw new CliError("io", `${what} file does not exist: run 'kokochat-pairing pair' to write it, or drop --config`);
  return { ...credentials(value, what), gatewayUrl: wsUrl(value.gatewayUrl, "gatewayUrl", what) };
}

// TODO(merge main): use store/statedir.ts and openclaw/config.ts once they land.
const nonEmpty = (v: string | undefined) => (v !== undefined && v.trim() !== "" ? v.trim() : undefined);

function expand(path: string, home: string): string {
  const p = path === "~" ? home : path.startsWith("~/") ? join(home, path.slice(2)) : path;
  return isAbsolute(p) ? resolve(p) : resolve(process.cwd(), p);
}

export function stateDirFrom(env: NodeJS.ProcessEnv, flag?: string): string {
  const home = nonEmpty(env.HOME) ?? homedir();
  const chosen = nonEmpty(flag) ?? nonEmpty(env.OPENCLAW_STATE_DIR) ?? nonEmpty(env.CLAWDBOT_STATE_DIR) ?? nonEmpty(env.OPENCLAW_CONFIG_DIR);
  if (chosen) return expand(chosen, home);
  const base = nonEmpty(env.OPENCLAW_HOME) ? expand(env.OPENCLAW_HOME!, home) : home;
  return join(base, ".openclaw");
}

function gatewayUrlFrom(stateDir: string, env: NodeJS.ProcessEnv): string {
  const override = nonEmpty(env.KOKOCHAT_LOCAL_GATEWAY_URL);
  if (override) return override;
  const fromEnv = Number(env.OPENCLAW_GATEWAY_PORT);
  if (Number.isInteger(fromEnv) && fromEnv > 0 && fromEnv < 65536) return `ws://127.0.0.1:${fromEnv}`;
  let port = 18789;
  try {
    const parsed = Bun.JSON5.parse(readFileSync(nonEmpty(env.OPENCLAW_CONFIG_PATH) ?? join(stateDir, "openclaw.json"), "utf8")) as {
      gateway?: { port?: unknown };
    };
    const p = parsed?.gateway?.port;
    if (typeof p === "number" && Number.isInteger(p) && p > 0 && p < 65536) port = p;
  } catch {}
  return `ws://127.0.0.1:${port}`;
}

/**
 * Settings from the state dir: relay.json and the local gateway URL.
 * `undefined` when nothing is paired yet (no relay.json).
 */
export function bootstrapConnectorConfig(stateDir: string, env: NodeJS.ProcessEnv): ConnectorConfig | undefined {
  const what = "kokochat-relay/relay.json";
  const value = readJson(join(relayDir(stateDir), "relay.json"), what);
  if (!value) return undefined;
  return { ...credentials(value, what), gatewayUrl: wsUrl(gatewayUrlFrom(stateDir, env), "the gateway URL", "the local gateway URL") };
}
