/**
 * The pairing request (SPEC §2): one arktype schema, then the checks arktype
 * cannot express (key is a real Ed25519 point that hashes to the deviceId).
 * Only declared fields are read into the result, so phone junk never reaches
 * a store. Errors name the field and the fix, never the value.
 *
 * The schema is defined with arktype in definition.ts. So that a run never
 * loads arktype (its keyword scopes cost more than a whole pairing), build-time
 * macros inline what arktype makes of the definition: the check it compiles
 * to JavaScript, which every request goes through, and the schema's JSON
 * form, from which arktype's core (`@ark/schema`, loaded only then) rebuilds
 * the schema to say why a request was refused.
 */
import type { ArkError, BaseRoot } from "@ark/schema";
import { CliError } from "../errors.ts";
import { deviceIdOf, isValidPublicKey } from "../crypto/keys.ts";
import { decodeBase64Url } from "./base64.ts";
import type { CompiledAllows, PairingRequest } from "./definition.ts";
import { pairingRequestAllows, pairingRequestJson } from "./definition.ts" with { type: "macro" };

// Also in definition.ts, which cannot be imported at run time (it loads arktype); schema-sync.test.ts checks they agree.
export const REQUEST_TYPE = "kokochat.pairingRequest";

const REQUEST_VERSION = 1;

/** arktype's compiled check of `PairingRequest` (definition.ts), inlined at build time. */
const ALLOWS: CompiledAllows = pairingRequestAllows();

/** arktype's JSON form of `PairingRequest`, inlined at build time. */
export const PAIRING_REQUEST_JSON = pairingRequestJson();

let allows: ((data: unknown) => boolean) | undefined;

/** True when arktype's check accepts `data` as a PairingRequest (compiled on first use, as arktype would). */
export function allowsPairingRequest(data: unknown): boolean {
  if (!allows) {
    const traversals = new Function(`return ${ALLOWS.source}`)() as Record<string, (data: unknown) => boolean>;
    allows = (value) => traversals[ALLOWS.entry]!(value) === true;
  }
  return allows(data);
}

type Core = typeof import("@ark/schema");
let core: Core | undefined;

/** arktype's core, loaded (synchronously, once) only to explain a refusal. */
function arkCore(): Core {
  if (!core) {
    require("./arkconfig.ts"); // before @ark/schema itself
    core = require("@ark/schema") as Core;
  }
  return core;
}

let pairingRequest: BaseRoot | undefined;

/** The full schema, rebuilt by arktype's core from its JSON form once, on first use. */
export const pairingRequestSchema = (): BaseRoot => (pairingRequest ??= arkCore().rootSchema(PAIRING_REQUEST_JSON as never));

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

  if (!allowsPairingRequest(raw)) {
    const errors = pairingRequestSchema()(raw);
    const first = errors instanceof arkCore().ArkErrors ? errors[0] : undefined;
    // Both forms come from one definition and are tested to agree; if they ever did not, still refuse.
    throw invalid(`${first ? pathOf(first.path) : "request"} must be ${first ? expectedOf(first) : "a KokoChat pairing request"}: copy the code from KokoChat's pairing page again`);
  }
  // Accepted: read only the declared fields, so undeclared keys never go further.
  const out = raw as PairingRequest;

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
    scopes: out.scopes && [...out.scopes],
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
