/**
 * The pairing pipeline, one way through:
 * input → codec → validate → store → relay → setup code.
 */
import { randomToken } from "./crypto/random.ts";
import { effectiveEnv, localGatewayUrl, readOpenClawConfig } from "./openclaw/config.ts";
import { extractRequest } from "./request/extract.ts";
import type { Input } from "./request/input.ts";
import type { ValidRequest } from "./request/schema.ts";
import { decideScopes } from "./request/scopes.ts";
import { ensureCredentials, peekCredentials, relayUrlFrom, type EnsuredCredentials } from "./relay/credentials.ts";
import { ensureConnector } from "./relay/supervisor.ts";
import { CliError } from "./errors.ts";
import { setupCode } from "./relay/setupcode.ts";
import type { Approval } from "./store/device.ts";
import { approveJson, jsonSettleMs, previewJson } from "./store/json.ts";
import { approveSqlite, previewSqlite } from "./store/sqlite.ts";
import { selectStore, type StoreChoice, type StoreTarget } from "./store/select.ts";
import { assertOwnedByUs, resolveStateDir, systemProbe, type StateDir } from "./store/statedir.ts";
import { checkpoint } from "./testhooks.ts";

export type PairOptions = {
  stateDir?: string;
  store: StoreChoice;
  relayUrl?: string;
  insecureRelay: boolean;
  noConnector: boolean;
  limited: boolean;
  dryRun: boolean;
};

export type ConnectorState = "not started" | "skipped" | "started" | "running" | "restarted-service";

export type PairResult = {
  request: ValidRequest;
  granted: string[];
  refused: string[];
  state: StateDir;
  store: StoreTarget;
  /** The device was paired before: its operator token was rotated (or would be, in a dry run). */
  rotated: boolean;
  relay: { url: string; id?: string; minted: boolean };
  connector: ConnectorState;
  /** Absent in a dry run. */
  setupCode?: string;
};

/**
 * The device is approved by now, so a connector that cannot be started is a
 * warning, not a failure: the setup code is still printed, and the next `pair`
 * or the service tries again.
 */
async function startConnector(stateDir: string, relay: EnsuredCredentials, warn: (line: string) => void): Promise<ConnectorState> {
  try {
    return await ensureConnector({ stateDir, relayId: relay.credentials.relayId, configPath: relay.configPath });
  } catch (error) {
    if (!(error instanceof CliError)) throw error;
    warn(`relay connector not started: ${error.message}`);
    return "not started";
  }
}

export async function pair(input: Input, options: PairOptions, processEnv: NodeJS.ProcessEnv, warn: (line: string) => void): Promise<PairResult> {
  checkpoint("pair-start");
  const request = extractRequest(input.text);
  const { granted, refused } = decideScopes(request.scopes, options.limited);

  const state = resolveStateDir(processEnv, systemProbe(processEnv), options.stateDir);
  const env = effectiveEnv(state.dir, processEnv);
  const relayUrl = relayUrlFrom(options.relayUrl, env, options.insecureRelay);
  const config = readOpenClawConfig(state.dir, env);
  const store = selectStore(state.dir, state.source, options.store, config);
  const common = { request, granted, refused, state, store };

  const approval = (token: string): Approval => ({ request, scopes: granted, limited: options.limited, token, nowMs: Date.now() });

  // Every refusal that reading can find comes before any write, so a refused run changes nothing.
  const preview = store.kind === "sqlite" ? previewSqlite(store.path, approval("")) : previewJson(state.dir, approval(""));
  if (options.dryRun) {
    const current = peekCredentials(state.dir, relayUrl);
    return { ...common, rotated: preview.rotated, relay: { url: relayUrl, ...(current && { id: current.relayId }), minted: !current }, connector: "not started" };
  }

  assertOwnedByUs(state.dir);
  // Relay credentials before the device: if they cannot be made, the phone's current token still works.
  const gatewayUrl = localGatewayUrl(config, env);
  const relay = await ensureCredentials(state.dir, relayUrl, gatewayUrl);
  const token = randomToken(32);
  const outcome =
    store.kind === "sqlite"
      ? approveSqlite(store.path, approval(token))
      : await approveJson(state.dir, approval(token), await jsonSettleMs(gatewayUrl));
  const skip = options.noConnector || env.KOKOCHAT_SKIP_RELAY_CONNECTOR_START === "1";
  const connector: ConnectorState = skip ? "skipped" : await startConnector(state.dir, relay, warn);
  return {
    ...common,
    rotated: outcome.rotated,
    relay: { url: relayUrl, id: relay.credentials.relayId, minted: relay.minted },
    connector,
    setupCode: setupCode(relay.credentials, request.deviceId, token),
  };
}
