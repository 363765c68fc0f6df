/**
 * The pairing request (SPEC §2): one arktype schema, then the checks arktype
 * cannot express (key is a real Ed25519 point that hashes to the deviceId).
 * Undeclared keys are deleted, so phone junk never reaches a store. Errors
 * name the field and the fix, never the value.
 *
 * The schema is defined with arktype in definition.ts; what runs is the same
 * schema rebuilt by arktype's core from its JSON form, which a build-time
 * macro inlines here, so a run never loads arktype's keyword scopes.
 */
import "./arkconfig.ts";
import { ArkErrors, rootSchema, type ArkError, type BaseRoot } from "@ark/schema";
import { CliError } from "../errors.ts";
import { deviceIdOf, isValidPublicKey } from "../crypto/keys.ts";
import { decodeBase64Url } from "./base64.ts";
import type { PairingRequest } from "./definition.ts";
import { pairingRequestJson } from "./definition.ts" with { type: "macro" };

export const REQUEST_TYPE = "kokochat.pairingRequest";
export const REQUEST_VERSION = 1;

/** arktype's JSON form of `PairingRequest` (definition.ts), inlined at build time. */
export const PAIRING_REQUEST_JSON = pairingRequestJson();

let pairingRequest: BaseRoot | undefined;

/** The runtime validator, built from the JSON once, on first use. */
export const pairingRequestSchema = (): BaseRoot => (pairingRequest ??= rootSchema(PAIRING_REQUEST_JSON as never));

export type Client = {
  id: string;
  mode: string;
  platform: string;
  displayName: string;
  version?: string;
  deviceFamily?: string;
};

/** A request that passed every check; `scopes` is what the phone asked for (undefined: the default set). */
export type ValidRequest = {
  deviceId: string;
  publicKey: string;
  role: "operator";
  scopes: string[] | undefined;
  client: Client;
};

const invalid = (message: string) => new CliError("invalid-request", `invalid pairing request: ${message}`);

const pathOf = (path: readonly PropertyKey[]) =>
  ["request", ...path].map((k, i) => (typeof k === "number" ? `[${k}]` : i === 0 ? String(k) : `.${String(k)}`)).join("");

const oneOf = (items: string[]) => (items.length < 2 ? (items[0] ?? "valid") : `${items.slice(0, -1).join(", ")} or ${items.at(-1)}`);

/**
 * What the failing field must be. arktype's `problem` and `message` echo the
 * value, and so does the `expected` of a union error (it is built from its
 * branches' messages): for a union, describe its branches' rules instead.
 */
function expectedOf(error: ArkError): string {
  const branches = (error as { errors?: readonly ArkError[] }).errors;
  if (error.code === "union" && branches && branches.length > 0) return oneOf([...new Set(branches.map(expectedOf))]);
  return error.expected ?? "valid";
}

/** True when `value` claims to be a pairing request (used to pick candidates out of a message). */
export const looksLikeRequest = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && (value as { type?: unknown }).type === REQUEST_TYPE;

export function validateRequest(raw: unknown): ValidRequest {
  if (!looksLikeRequest(raw)) throw invalid(`request.type must be "${REQUEST_TYPE}": copy the code from KokoChat's pairing page again`);
  const version = raw.version;
  if (typeof version === "number" && Number.isInteger(version) && version > REQUEST_VERSION)
    throw invalid(`request.version ${version} is newer than this tool understands: update kokochat-pairing`);

  const out = pairingRequestSchema()(raw) as PairingRequest | ArkErrors;
  if (out instanceof ArkErrors) {
    const first = out[0]!;
    throw invalid(`${pathOf(first.path)} must be ${expectedOf(first)}: copy the code from KokoChat's pairing page again`);
  }

  const keyBytes = decodeBase64Url(out.publicKey);
  if (!keyBytes || keyBytes.length !== 32)
    throw invalid("request.publicKey is not canonical base64url of 32 bytes: copy the code from KokoChat again");
  if (!isValidPublicKey(keyBytes))
    throw invalid("request.publicKey is not a valid Ed25519 public key: reinstall or reset KokoChat's device identity");
  if (deviceIdOf(keyBytes) !== out.deviceId)
    throw invalid("request.deviceId is not the SHA-256 of request.publicKey: copy the whole code from KokoChat again");

  const c = out.client ?? {};
  return {
    deviceId: out.deviceId,
    publicKey: out.publicKey,
    role: "operator",
    scopes: out.scopes,
    client: {
      id: c.id ?? "webchat",
      mode: c.mode ?? "webchat",
      platform: c.platform ?? "web",
      displayName: c.displayName ?? "KokoChat",
      ...(c.version !== undefined && { version: c.version }),
      ...(c.deviceFamily !== undefined && { deviceFamily: c.deviceFamily }),
    },
  };
}
