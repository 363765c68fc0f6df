/**
 * What we read of OpenClaw's own configuration: `openclaw.json` (JSON5) for the
 * gateway port and the version that last wrote it, and `openclaw.env` for env
 * defaults left by the old KokoChat installer. Process env always wins.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CliError, errno, fsError } from "../errors.ts";

const DEFAULT_GATEWAY_PORT = 18789;

function readOptional(path: string, what: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    if (errno(error) === "ENOENT") return undefined;
    throw fsError(error, what);
  }
}

/** `KEY=value` lines; quotes optional, `#` comments, CRLF tolerated, `export ` prefix allowed. */
function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const match = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!match) continue;
    let value = match[2]!;
    const quoted = /^(["'])(.*)\1$/.exec(value);
    if (quoted) value = quoted[2]!;
    else value = value.replace(/\s+#.*$/, "").trim();
    out[match[1]!] = value;
  }
  return out;
}

/** Process env layered over `<state>/openclaw.env` (the file only supplies defaults). */
export function effectiveEnv(stateDir: string, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const text = readOptional(join(stateDir, "openclaw.env"), "openclaw.env");
  if (text === undefined) return env;
  return { ...parseEnvFile(text), ...env };
}

export type OpenClawConfig = { gatewayPort?: number; lastTouchedVersion?: string };

export const configPath = (stateDir: string, env: NodeJS.ProcessEnv) =>
  env.OPENCLAW_CONFIG_PATH?.trim() || join(stateDir, "openclaw.json");

/** The parts of openclaw.json we use; a missing file is an empty config, an unparsable one is refused (78). */
export function readOpenClawConfig(stateDir: string, env: NodeJS.ProcessEnv): OpenClawConfig {
  const path = configPath(stateDir, env);
  const text = readOptional(path, "openclaw.json");
  if (text === undefined) return {};
  let parsed: unknown;
  try {
    parsed = Bun.JSON5.parse(text);
  } catch {
    throw new CliError("bad-store", "openclaw.json is not valid JSON5: fix it (try 'openclaw doctor') and run again");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    throw new CliError("bad-store", "openclaw.json is not a JSON object: fix it (try 'openclaw doctor') and run again");
  const root = parsed as { gateway?: { port?: unknown }; meta?: { lastTouchedVersion?: unknown } };
  const port = root.gateway?.port;
  const version = root.meta?.lastTouchedVersion;
  return {
    ...(typeof port === "number" && Number.isInteger(port) && port > 0 && port < 65536 && { gatewayPort: port }),
    ...(typeof version === "string" && { lastTouchedVersion: version }),
  };
}

/** The local gateway's WebSocket URL: KOKOCHAT_LOCAL_GATEWAY_URL, else ws://127.0.0.1:<port>. */
export function localGatewayUrl(config: OpenClawConfig, env: NodeJS.ProcessEnv): string {
  const override = env.KOKOCHAT_LOCAL_GATEWAY_URL?.trim();
  if (override) {
    let url: URL | undefined;
    try {
      url = new URL(override);
    } catch {}
    // The rule the connector applies when it reads the URL back (connector-config.ts): refused
    // here, before anything is written, not by a connector that could then never start.
    if (!url || (url.protocol !== "ws:" && url.protocol !== "wss:") || url.username || url.password || url.search || url.hash)
      throw new CliError("usage", "KOKOCHAT_LOCAL_GATEWAY_URL is not a plain ws:// or wss:// URL (no user, query or fragment): set it like ws://127.0.0.1:18789, or unset it");
    return override;
  }
  const fromEnv = Number(env.OPENCLAW_GATEWAY_PORT);
  const port = Number.isInteger(fromEnv) && fromEnv > 0 && fromEnv < 65536 ? fromEnv : (config.gatewayPort ?? DEFAULT_GATEWAY_PORT);
  return `ws://127.0.0.1:${port}`;
}
