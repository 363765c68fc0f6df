/**
 * Where the connector's settings come from: a connector config file
 * `<state>/kokochat-relay/<relayId>.json` `{relayUrl, relayId, relaySecret,
 * gatewayUrl}` (SPEC §4), or, with no file named, `relay.json` plus the local
 * gateway URL (SPEC §3). Errors name the file, never a value from it.
 */
import { readFileSync } from "node:fs";
import { CliError, errno, fsError } from "../errors.ts";
import { effectiveEnv, localGatewayUrl, readOpenClawConfig } from "../openclaw/config.ts";
import { resolveStateDir, systemProbe } from "../store/statedir.ts";
import { join } from "node:path";
import type { ConnectorConfig } from "./connector.ts";

// The same paths as credentials.ts, without importing it: the long-running
// connector then never loads the crypto and store modules (less memory).
export const relayDir = (stateDir: string) => join(stateDir, "kokochat-relay");
export const credentialsPath = (stateDir: string) => join(relayDir(stateDir), "relay.json");

/** relayId: 16–160, relaySecret: 32–256 base64url characters (SPEC §4). */
export const RELAY_ID_RE = /^[A-Za-z0-9_-]{16,160}$/;
export const RELAY_SECRET_RE = /^[A-Za-z0-9_-]{32,256}$/;

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

/** The state dir as OpenClaw resolves it (SPEC §3), `--state-dir` first. */
export const stateDirFrom = (env: NodeJS.ProcessEnv, flag?: string): string => resolveStateDir(env, systemProbe(env), flag).dir;

/**
 * Settings from the state dir: relay.json and the local gateway URL.
 * `undefined` when nothing is paired yet (no relay.json).
 */
export function bootstrapConnectorConfig(stateDir: string, processEnv: NodeJS.ProcessEnv): ConnectorConfig | undefined {
  const what = "kokochat-relay/relay.json";
  const value = readJson(credentialsPath(stateDir), what);
  if (!value) return undefined;
  const env = effectiveEnv(stateDir, processEnv);
  const gatewayUrl = localGatewayUrl(readOpenClawConfig(stateDir, env), env);
  return { ...credentials(value, what), gatewayUrl: wsUrl(gatewayUrl, "the gateway URL", "the local gateway URL") };
}
