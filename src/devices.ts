/**
 * What was paired: find the store the gateway reads, list its devices as
 * summaries that never hold a token, resolve a device from an id prefix, and
 * revoke a device's operator token through the same locked (JSON) or
 * transactional (SQLite) read-modify-write as `pair` (SPEC §3).
 */
import { CliError, usageError } from "./errors.ts";
import { localGatewayUrl, effectiveEnv, readOpenClawConfig } from "./openclaw/config.ts";
import { isObject, shortId, strings, type DeviceEdit, type DeviceRecord, type ListedDevice } from "./store/device.ts";
import { jsonSettleMs, listDevicesJson, modifyDeviceJson } from "./store/json.ts";
import { selectStore, type StoreChoice, type StoreTarget } from "./store/select.ts";
import { listDevicesSqlite, modifyDeviceSqlite } from "./store/sqlite.ts";
import { assertOwnedByUs, resolveStateDir, systemProbe, type StateDir } from "./store/statedir.ts";

export type Located = { state: StateDir; store: StoreTarget; gatewayUrl: string };

/** The state dir and the store the installed gateway reads (as `pair` would choose it). */
export function locateStore(options: { stateDir?: string; store: StoreChoice }, processEnv: NodeJS.ProcessEnv): Located {
  const state = resolveStateDir(processEnv, systemProbe(processEnv), options.stateDir);
  const env = effectiveEnv(state.dir, processEnv);
  const config = readOpenClawConfig(state.dir, env);
  return { state, store: selectStore(state.dir, state.source, options.store, config), gatewayUrl: localGatewayUrl(config, env) };
}

export const readDevices = (at: Pick<Located, "state" | "store">): ListedDevice[] =>
  at.store.kind === "json" ? listDevicesJson(at.state.dir) : listDevicesSqlite(at.store.path);

// ── summaries: every field a person may want, never a token ────────────────

/** Client ids KokoChat pairs with (SPEC §2). OpenClaw's own phone apps use the first two too. */
export const KOKOCHAT_CLIENT_IDS: readonly string[] = ["openclaw-ios", "openclaw-android", "webchat"];

export type TokenState = "active" | "rotated" | "revoked";

export type TokenSummary = {
  role: string;
  state: TokenState;
  scopes: string[];
  createdAtMs?: number;
  rotatedAtMs?: number;
  lastUsedAtMs?: number;
  revokedAtMs?: number;
};

export type DeviceSummary = {
  deviceId: string;
  shortId: string;
  displayName?: string;
  operatorLabel?: string;
  platform?: string;
  deviceFamily?: string;
  clientId?: string;
  clientMode?: string;
  role?: string;
  roles: string[];
  scopes: string[];
  createdAtMs?: number;
  approvedAtMs?: number;
  /** Latest `lastUsedAtMs` of its tokens, or the gateway's `last_seen_at_ms` (SQLite), whichever is later. */
  lastUsedAtMs?: number;
  lastSeenReason?: string;
  approvedVia?: string;
  /** State of the operator token, "none" without one, "unreadable" when the store's tokens do not parse. */
  token: TokenState | "none" | "unreadable";
  tokens: TokenSummary[];
  kokochat: boolean;
  /** SQLite columns that hold text that is not JSON. */
  unreadable?: string[];
};

const text = (value: unknown) => (typeof value === "string" ? value : undefined);
const time = (value: unknown) => (typeof value === "number" && Number.isFinite(value) && value > 0 ? value : undefined);

function tokenState(token: Record<string, unknown>): TokenState {
  if (time(token.revokedAtMs) !== undefined) return "revoked";
  return time(token.rotatedAtMs) !== undefined ? "rotated" : "active";
}

/** Only whitelisted fields are copied: a token string (or any unknown field) can never reach the output. */
function summariseToken(role: string, token: Record<string, unknown>): TokenSummary {
  const fields = { createdAtMs: time(token.createdAtMs), rotatedAtMs: time(token.rotatedAtMs), lastUsedAtMs: time(token.lastUsedAtMs), revokedAtMs: time(token.revokedAtMs) };
  return {
    role,
    state: tokenState(token),
    scopes: strings(token.scopes),
    ...Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)),
  };
}

export function summarise({ id, record, unreadable }: ListedDevice): DeviceSummary {
  const tokens = isObject(record.tokens)
    ? Object.entries(record.tokens)
        .filter((entry): entry is [string, Record<string, unknown>] => isObject(entry[1]))
        .map(([role, token]) => summariseToken(role, token))
    : [];
  const operator = tokens.find((t) => t.role === "operator");
  const lastUsed = Math.max(0, ...tokens.map((t) => t.lastUsedAtMs ?? 0), time(record.lastSeenAtMs) ?? 0);
  const optional = {
    displayName: text(record.displayName),
    operatorLabel: text(record.operatorLabel),
    platform: text(record.platform),
    deviceFamily: text(record.deviceFamily),
    clientId: text(record.clientId),
    clientMode: text(record.clientMode),
    role: text(record.role),
    createdAtMs: time(record.createdAtMs),
    approvedAtMs: time(record.approvedAtMs),
    lastUsedAtMs: lastUsed > 0 ? lastUsed : undefined,
    lastSeenReason: text(record.lastSeenReason),
    approvedVia: text(record.approvedVia),
  };
  const clientId = optional.clientId;
  return {
    deviceId: id,
    shortId: shortId(id),
    ...(Object.fromEntries(Object.entries(optional).filter(([, v]) => v !== undefined)) as Partial<DeviceSummary>),
    roles: strings(record.roles),
    scopes: strings(record.scopes),
    token: unreadable.includes("tokens_json") ? "unreadable" : (operator?.state ?? "none"),
    tokens,
    kokochat: (clientId !== undefined && KOKOCHAT_CLIENT_IDS.includes(clientId)) || /^kokochat/i.test(optional.displayName ?? ""),
    ...(unreadable.length > 0 && { unreadable }),
  };
}

// ── DEVICE argument: a full id or a unique prefix of at least 8 hex digits ──

const MIN_PREFIX = 8;

/** Validate the DEVICE argument (usage error otherwise); never echoes it back. A trailing "…" as `devices` prints it is dropped. */
export function parseDevicePrefix(raw: string): string {
  const value = raw.trim().replace(/(…|\.\.\.)$/, "").toLowerCase();
  if (!/^[0-9a-f]*$/.test(value) || value.length > 64)
    throw usageError(`DEVICE must be a device id or its first ${MIN_PREFIX}+ hex digits, as 'kokochat-pairing devices' shows them`);
  if (value.length < MIN_PREFIX)
    throw usageError(`DEVICE is too short: give at least ${MIN_PREFIX} hex digits of the device id (see 'kokochat-pairing devices')`);
  return value;
}

export function findDevice(devices: ListedDevice[], prefix: string): ListedDevice {
  const exact = devices.find((d) => d.id.toLowerCase() === prefix);
  if (exact) return exact;
  const matches = devices.filter((d) => d.id.toLowerCase().startsWith(prefix));
  if (matches.length === 1) return matches[0]!;
  if (matches.length === 0)
    throw usageError(`no paired device has an id starting with the given digits: list them with 'kokochat-pairing devices --all'`);
  const shown = matches.slice(0, 10).map((d) => `${shortId(d.id).replace(/[^0-9a-f]/gi, "?")}…`);
  throw usageError(
    `${matches.length} devices have an id starting with the given digits (${shown.join(", ")}${matches.length > 10 ? ", …" : ""}): give more of the id`,
  );
}

// ── revoke ──────────────────────────────────────────────────────────────────

export type RevokeState = "revoked" | "already-revoked" | "no-operator-token";

const operatorOf = (record: DeviceRecord | undefined) => {
  const tokens = isObject(record?.tokens) ? record.tokens : undefined;
  return tokens && isObject(tokens.operator) ? { tokens, operator: tokens.operator } : undefined;
};

/** What revoking would do to this record, without writing. */
export function revokeState(record: DeviceRecord): RevokeState | "would-revoke" {
  const op = operatorOf(record);
  if (!op) return "no-operator-token";
  return time(op.operator.revokedAtMs) !== undefined ? "already-revoked" : "would-revoke";
}

/**
 * Set `revokedAtMs` on the device's operator token, in one BEGIN IMMEDIATE
 * transaction (SQLite: only tokens_json changes) or under the JSON store's
 * lock with read-back. The token itself and every other field stay.
 */
export async function revokeDevice(at: Located, deviceId: string, nowMs: number): Promise<{ state: RevokeState; revokedAtMs?: number }> {
  type Result = { state: RevokeState; revokedAtMs?: number };
  const edit: DeviceEdit<Result> = (existing) => {
    if (!existing)
      throw new CliError("busy", `device ${shortId(deviceId)}… was removed while we were revoking it; nothing was changed: list the devices again`);
    const op = operatorOf(existing);
    if (!op) return { result: { state: "no-operator-token" } };
    const already = time(op.operator.revokedAtMs);
    if (already !== undefined) return { result: { state: "already-revoked", revokedAtMs: already } };
    const token = op.operator.token;
    return {
      next: { ...existing, tokens: { ...op.tokens, operator: { ...op.operator, revokedAtMs: nowMs } } },
      isApplied: (record) => operatorOf(record)?.operator.revokedAtMs === nowMs && operatorOf(record)?.operator.token === token,
      result: { state: "revoked", revokedAtMs: nowMs },
    };
  };
  assertOwnedByUs(at.state.dir);
  if (at.store.kind === "json") return modifyDeviceJson(at.state.dir, deviceId, edit, await jsonSettleMs(at.gatewayUrl));
  return modifyDeviceSqlite(at.store.path, deviceId, edit);
}
