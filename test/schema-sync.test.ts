/**
 * The pairing-request schema has three forms: the arktype definition
 * (src/request/definition.ts, the source of truth), and the two the tool
 * runs, inlined by build-time macros (src/request/schema.ts): arktype's
 * compiled check, which every request goes through, and the schema rebuilt by
 * arktype's core from its JSON form, which explains a refusal. They must
 * accept, clean and refuse exactly alike.
 */
import { describe, expect, it } from "bun:test";
// The arktype definition first, so it is built exactly as arktype builds it on its own.
import { PairingRequest } from "../src/request/definition.ts";
import { ArkErrors } from "@ark/schema";
import { PAIRING_REQUEST_JSON, REQUEST_TYPE, allowsPairingRequest, pairingRequestSchema, validateRequest } from "../src/request/schema.ts";
import { CliError } from "../src/errors.ts";
import { run } from "./support/binary.ts";
import { newIdentity, requestCode, requestJson } from "./support/requests.ts";
import { HOSTILE_VALUES } from "./vectors/hostile.ts";

const FIELDS = ["type", "version", "deviceId", "publicKey", "role", "scopes", "client"];
const CLIENT_FIELDS = ["id", "version", "platform", "mode", "displayName", "deviceFamily"];

/** Valid requests, each kind of invalid one, and every hostile value in every field. */
function corpus(): unknown[] {
  const id = newIdentity();
  const base = requestJson(id);
  const inputs: unknown[] = [base, { ...base, extra: 1, client: { ...(base.client as object), evil: "y" } }];
  const { client, role, scopes, ...bare } = base;
  inputs.push(bare, { ...bare, role }, { ...bare, scopes: [] }, { ...bare, client: {} });
  for (const field of FIELDS) {
    const { [field]: _, ...missing } = base;
    inputs.push(missing);
    for (const value of HOSTILE_VALUES) inputs.push({ ...base, [field]: value });
  }
  for (const field of CLIENT_FIELDS)
    for (const value of [...HOSTILE_VALUES, "x".repeat(33), "x".repeat(65), "Koko\u202eChat", "ok"])
      inputs.push({ ...base, client: { ...(base.client as object), [field]: value } });
  inputs.push(
    { ...base, scopes: Array.from({ length: 32 }, (_, i) => `s${i}`) },
    { ...base, scopes: Array.from({ length: 33 }, (_, i) => `s${i}`) },
    { ...base, scopes: ["operator.read", 7] },
    { ...base, deviceId: id.deviceId.toUpperCase() },
    { ...base, publicKey: `${id.publicKeyB64}=` },
    ...HOSTILE_VALUES,
  );
  return inputs;
}

/** What a schema makes of an input: the cleaned value, or each error's code, path and rule (never the value). */
function outcome(result: unknown): unknown {
  if (result instanceof ArkErrors) return { errors: result.map((e) => ({ code: e.code, path: [...e.path], expected: e.expected })) };
  return { value: result };
}

describe("runtime schema stays in sync with the arktype definition", () => {
  it("is arktype's own JSON form of the definition", () => {
    expect(PAIRING_REQUEST_JSON).toEqual(PairingRequest.json as object);
    expect(JSON.stringify(PAIRING_REQUEST_JSON)).toContain(JSON.stringify(REQUEST_TYPE));
  });

  it("builds a node arktype considers equal to the definition", () => {
    expect(pairingRequestSchema().equals(PairingRequest.internal)).toBe(true);
  });

  it("accepts, cleans and refuses every corpus input exactly as the definition does", () => {
    const inputs = corpus();
    expect(inputs.length).toBeGreaterThan(500);
    let accepted = 0;
    for (const input of inputs) {
      const expected = outcome(PairingRequest(structuredClone(input)));
      const actual = outcome(pairingRequestSchema()(structuredClone(input)));
      expect(actual).toEqual(expected);
      expect(allowsPairingRequest(structuredClone(input))).toBe("value" in (expected as object));
      expect(allowsPairingRequest(structuredClone(input))).toBe(PairingRequest.allows(structuredClone(input)));
      if ("value" in (actual as object)) accepted++;
    }
    expect(accepted).toBeGreaterThan(20);
  });

  it("hands on exactly the fields the definition keeps", () => {
    let handedOn = 0;
    for (const input of corpus()) {
      const cleaned = PairingRequest(structuredClone(input));
      let result: unknown;
      try {
        result = validateRequest(structuredClone(input));
      } catch (error) {
        expect(error).toBeInstanceOf(CliError);
        continue;
      }
      handedOn++;
      expect(cleaned).not.toBeInstanceOf(ArkErrors);
      const c = cleaned as { client?: Record<string, string>; scopes?: string[] };
      expect(result).toMatchObject({ scopes: c.scopes });
      for (const key of Object.keys((result as { client: object }).client))
        expect(key in (c.client ?? {}) || ["id", "mode", "platform", "displayName"].includes(key)).toBe(true);
    }
    expect(handedOn).toBeGreaterThan(20); // a validator refusing everything would check nothing above
  });

  it("names the field and never echoes the value in the tool's message", () => {
    const secret = "SECRET-VALUE-abc123";
    for (const field of FIELDS.filter((f) => f !== "type")) {
      let message = "";
      try {
        validateRequest(requestJson(newIdentity(), { [field]: secret }));
      } catch (error) {
        expect(error).toBeInstanceOf(CliError);
        message = (error as CliError).message;
      }
      expect(message).toContain(`request.${field}`);
      expect(message).not.toContain(secret);
    }
    for (const field of CLIENT_FIELDS) {
      let message = "";
      try {
        validateRequest(requestJson(newIdentity(), { client: { [field]: `${secret}\u0000` } }));
      } catch (error) {
        message = (error as CliError).message;
      }
      expect(message).toContain(`request.client.${field}`);
      expect(message).not.toContain(secret);
    }
  });

  it("works the same in the compiled binary, which loads arktype's core only to explain a refusal", async () => {
    const secret = "SECRET-VALUE-abc123";
    const refused = await run(["pair", "--dry-run", "--json"], { env: { KOKOCHAT_PAIRING_REQUEST: requestCode(newIdentity(), { client: { mode: secret } }) } });
    expect(refused.exitCode).toBe(65);
    expect(JSON.parse(refused.stdout).error.message).toContain('request.client.mode must be "ui" or "webchat"');
    expect(refused.stdout + refused.stderr).not.toContain(secret);
  });
});
