/**
 * The device record both stores hold, in OpenClaw's JSON shape (SPEC §3b), and
 * the one merge rule for approving a device into it (SPEC §3, "Rules for both").
 */
import { CliError } from "../errors.ts";
import type { ValidRequest } from "../request/schema.ts";
import { ADMIN_SCOPE } from "../request/scopes.ts";

export type DeviceRecord = Record<string, unknown>;

/**
 * What a read-modify-write of one device decides, given the device as the
 * store holds it inside the lock or transaction: the record to write (none:
 * write nothing), whether to drop the device's pending requests, how to
 * recognise the write on read-back (JSON store), and a result for the caller.
 */
export type DeviceChange<T> = {
  next?: DeviceRecord;
  dropPending?: boolean;
  /** JSON store: does the record read back after writing hold our change? */
  isApplied?: (record: DeviceRecord | undefined) => boolean;
  result: T;
};

/** Called once per attempt (the JSON store redoes it when the gateway clobbered a write); must not depend on attempt count. */
export type DeviceEdit<T> = (existing: DeviceRecord | undefined) => DeviceChange<T>;

/** A device as a store lists it; `unreadable` names SQLite columns whose JSON did not parse. */
export type ListedDevice = { id: string; record: DeviceRecord; unreadable: string[] };

/** What approving a device found (or, in a preview, would find): it was paired before. */
export type StoreOutcome = { rotated: boolean };

export type Approval = {
  request: ValidRequest;
  /** Scopes granted by this pairing (policy already applied). */
  scopes: string[];
  /** Never grant operator.admin, even if an earlier pairing did. */
  limited: boolean;
  /** The new operator token. */
  token: string;
  nowMs: number;
};

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

export const strings = (value: unknown): string[] => (Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : []);

const union = (a: unknown, b: string[]) => [...new Set([...strings(a), ...b])];

export const shortId = (deviceId: string) => deviceId.slice(0, 12);

export function assertSameKey(existing: DeviceRecord | undefined, approval: Approval): void {
  if (existing && existing.publicKey !== approval.request.publicKey)
    throw new CliError(
      "refused",
      `device ${shortId(approval.request.deviceId)}… is already paired with a different public key: remove it first ('openclaw devices remove <deviceId>'), then pair again`,
    );
}

/**
 * Approve `approval` on top of `existing`: every field we don't own is kept,
 * roles and scopes are merged, the operator token is replaced (rotated when
 * there was one), createdAtMs and lastUsedAtMs survive, a revocation is lifted.
 */
export function mergeDevice(existing: DeviceRecord | undefined, approval: Approval): DeviceRecord {
  assertSameKey(existing, approval);
  const { request, scopes, token, nowMs, limited } = approval;
  const trim = (list: string[]) => (limited ? list.filter((s) => s !== ADMIN_SCOPE) : list);
  const tokens = isObject(existing?.tokens) ? existing.tokens : {};
  const previous = isObject(tokens.operator) ? tokens.operator : undefined;
  const createdAtMs = typeof existing?.createdAtMs === "number" ? existing.createdAtMs : nowMs;
  const operatorToken: Record<string, unknown> = {
    token,
    role: "operator",
    scopes,
    createdAtMs: typeof previous?.createdAtMs === "number" ? previous.createdAtMs : nowMs,
    ...(previous && { rotatedAtMs: nowMs }),
    ...(typeof previous?.lastUsedAtMs === "number" && { lastUsedAtMs: previous.lastUsedAtMs }),
  };
  const client = request.client;
  return {
    ...existing,
    deviceId: request.deviceId,
    publicKey: request.publicKey,
    displayName: client.displayName,
    platform: client.platform,
    ...(client.deviceFamily !== undefined && { deviceFamily: client.deviceFamily }),
    clientId: client.id,
    clientMode: client.mode,
    role: "operator",
    roles: union(existing?.roles, ["operator"]),
    scopes: trim(union(existing?.scopes, scopes)),
    approvedScopes: trim(union(existing?.approvedScopes, scopes)),
    tokens: { ...tokens, operator: operatorToken },
    createdAtMs,
    approvedAtMs: nowMs,
  };
}

/** Whether a store value is shaped like a device record we may merge into. */
export const isDeviceRecord = (value: unknown): value is DeviceRecord =>
  isObject(value) && (value.publicKey === undefined || typeof value.publicKey === "string") && (value.tokens === undefined || isObject(value.tokens));

export { isObject };
