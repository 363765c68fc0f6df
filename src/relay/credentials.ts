/**
 * Relay-tunnel credentials (SPEC §4): `<state>/kokochat-relay/relay.json`
 * `{relayUrl, relayId, relaySecret, createdAtMs}`, reused while the relay URL
 * is unchanged and both values look valid, else minted anew; and the connector
 * config `<relayId>.json` `{relayUrl, relayId, relaySecret, gatewayUrl}`.
 * Files 0600, folder 0700; minting is serialised so concurrent pairings share
 * one relay id.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CliError, errno, fsError } from "../errors.ts";
import { randomToken } from "../crypto/random.ts";
import { ensurePrivateDir, writeFileAtomic } from "../store/atomic.ts";
import { withLock } from "../store/lock.ts";
import { credentialsPath, relayDir, RELAY_ID_RE, RELAY_SECRET_RE } from "./connector-config.ts";
import type { ConnectorConfig } from "./connector.ts";

const DEFAULT_RELAY_URL = "wss://deeply.plus/relay";

export type RelayCredentials = { relayUrl: string; relayId: string; relaySecret: string; createdAtMs: number };


export { credentialsPath, relayDir, RELAY_ID_RE, RELAY_SECRET_RE };
export const connectorConfigPath = (stateDir: string, relayId: string) => join(relayDir(stateDir), `${relayId}.json`);

const isLoopbackHost = (host: string) => host === "localhost" || host === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(host);

/**
 * Normalise a relay base URL: http(s) means ws(s), trailing `/` dropped. A
 * plain ws:// relay off this machine would carry the device token in clear,
 * so it needs `insecure`.
 */
function normaliseRelayUrl(raw: string, insecure: boolean): string {
  const bad = (why: string) => new CliError("usage", `relay URL ${why}: pass a wss:// URL with --relay-url or KOKOCHAT_RELAY_URL`);
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw bad("is not a valid URL");
  }
  const scheme = { "ws:": "ws:", "wss:": "wss:", "http:": "ws:", "https:": "wss:" }[url.protocol];
  if (!scheme) throw bad(`has scheme ${url.protocol.replace(/[^a-z0-9+.-]/gi, "?")}`);
  if (url.username || url.password || url.search || url.hash) throw bad("must not hold credentials, a query or a fragment");
  if (scheme === "ws:" && !isLoopbackHost(url.hostname) && !insecure)
    throw new CliError(
      "refused",
      `relay ${url.host} is plain ws://: the device token would cross the network in clear; use wss:// or pass --insecure-relay`,
    );
  return `${scheme}//${url.host}${url.pathname}`.replace(/\/+$/, "");
}

export function relayUrlFrom(flag: string | undefined, env: NodeJS.ProcessEnv, insecure: boolean): string {
  const chosen = flag?.trim() || env.KOKOCHAT_RELAY_URL?.trim() || DEFAULT_RELAY_URL;
  return normaliseRelayUrl(chosen, insecure);
}

export function readCredentials(path: string): RelayCredentials | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    if (errno(error) === "ENOENT") return undefined;
    throw fsError(error, "kokochat-relay/relay.json");
  }
  try {
    const value = JSON.parse(text) as Partial<RelayCredentials>;
    if (typeof value.relayUrl === "string" && typeof value.relayId === "string" && typeof value.relaySecret === "string")
      return { relayUrl: value.relayUrl, relayId: value.relayId, relaySecret: value.relaySecret, createdAtMs: Number(value.createdAtMs) || 0 };
  } catch {}
  return undefined; // unreadable credentials are ours to replace
}

/** The stored URL as we would write it now (older installers wrote https:// or a trailing /). */
function sameRelay(stored: string, relayUrl: string): boolean {
  try {
    return normaliseRelayUrl(stored, true) === relayUrl;
  } catch {
    return false;
  }
}

export const reusable = (c: RelayCredentials | undefined, relayUrl: string): c is RelayCredentials =>
  c !== undefined && sameRelay(c.relayUrl, relayUrl) && RELAY_ID_RE.test(c.relayId) && RELAY_SECRET_RE.test(c.relaySecret);

/** Credentials as they are now, for a dry run: reused, or to be minted. */
export function peekCredentials(stateDir: string, relayUrl: string): RelayCredentials | undefined {
  const current = readCredentials(credentialsPath(stateDir));
  return reusable(current, relayUrl) ? current : undefined;
}

export type EnsuredCredentials = { credentials: RelayCredentials; minted: boolean; configPath: string };

export async function ensureCredentials(stateDir: string, relayUrl: string, gatewayUrl: string): Promise<EnsuredCredentials> {
  const dir = relayDir(stateDir);
  ensurePrivateDir(dir, "the kokochat-relay folder");
  try {
    return await withLock(join(dir, "relay.json.lock"), "kokochat-relay/relay.json", () => {
      const path = credentialsPath(stateDir);
      const current = readCredentials(path);
      const minted = !reusable(current, relayUrl);
      // Reused credentials written by an older installer (https://…/) are kept in today's form, so the
      // setup code, the connector config and relay.json all carry the same URL.
      const credentials = minted ? { relayUrl, relayId: randomToken(18), relaySecret: randomToken(32), createdAtMs: Date.now() } : { ...current, relayUrl };
      if (minted || current.relayUrl !== relayUrl) writeFileAtomic(path, `${JSON.stringify(credentials, null, 2)}\n`);
      const configPath = connectorConfigPath(stateDir, credentials.relayId);
      const config: ConnectorConfig = { relayUrl, relayId: credentials.relayId, relaySecret: credentials.relaySecret, gatewayUrl };
      const text = `${JSON.stringify(config, null, 2)}\n`;
      let existing: string | undefined;
      try {
        existing = readFileSync(configPath, "utf8");
      } catch {}
      if (existing !== text) writeFileAtomic(configPath, text);
      return { credentials, minted, configPath };
    });
  } catch (error) {
    throw fsError(error, "kokochat-relay credentials");
  }
}
