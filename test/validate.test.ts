import { describe, expect, it } from "bun:test";
import * as ed from "@noble/ed25519";
import { CliError } from "../src/errors.ts";
import { deviceIdOf, isValidPublicKey } from "../src/crypto/keys.ts";
import { validateRequest } from "../src/request/schema.ts";
import { decideScopes, REQUIRED_SCOPES } from "../src/request/scopes.ts";
import { newIdentity, requestJson } from "./support/requests.ts";
import rfc8032 from "./vectors/rfc8032-keys.json";
import torsion from "./vectors/ed25519-torsion.json";
import { HOSTILE_VALUES } from "./vectors/hostile.ts";

const hex = (h: string) => new Uint8Array(Buffer.from(h, "hex"));
const b64u = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64url");

/** A request whose deviceId matches the given raw key, whatever the key is. */
const requestForKey = (key: Uint8Array) => requestJson(newIdentity(), { publicKey: b64u(key), deviceId: deviceIdOf(key) });

function refusal(raw: unknown): CliError {
  try {
    validateRequest(raw);
  } catch (error) {
    expect(error).toBeInstanceOf(CliError);
    expect((error as CliError).exitCode).toBe(65);
    return error as CliError;
  }
  throw new Error("request was accepted");
}

describe("public key check", () => {
  for (const v of rfc8032.vectors) {
    it(`accepts the RFC 8032 ${v.name} public key`, () => {
      expect(b64u(ed.getPublicKey(hex(v.secretKey)))).toBe(b64u(hex(v.publicKey))); // the vector itself is right
      expect(isValidPublicKey(hex(v.publicKey))).toBe(true);
      expect(validateRequest(requestForKey(hex(v.publicKey))).deviceId).toBe(deviceIdOf(hex(v.publicKey)));
    });
  }

  it("rejects each of the 8 small-order points", () => {
    expect(torsion.smallOrder).toHaveLength(8);
    for (const point of torsion.smallOrder) {
      expect(isValidPublicKey(hex(point))).toBe(false);
      expect(refusal(requestForKey(hex(point))).message).toContain("request.publicKey is not a valid Ed25519 public key");
    }
  });

  it("rejects non-canonical encodings", () => {
    for (const { hex: h } of torsion.nonCanonical) {
      expect(isValidPublicKey(hex(h))).toBe(false);
      expect(refusal(requestForKey(hex(h))).message).toContain("request.publicKey");
    }
  });

  it("rejects a y that is not on the curve", () => {
    const offCurve = new Uint8Array(32);
    for (let y = 2; y < 50; y++) {
      offCurve[0] = y;
      if (!isValidPublicKey(offCurve)) return expect(refusal(requestForKey(offCurve)).message).toContain("request.publicKey");
    }
    throw new Error("no off-curve y found below 50");
  });

  it("rejects 31- and 33-byte keys", () => {
    const key = newIdentity().publicKey;
    for (const bytes of [key.slice(0, 31), new Uint8Array([...key, 0])])
      expect(refusal(requestForKey(bytes)).message).toContain("request.publicKey must be base64url without padding of a 32-byte Ed25519 key");
  });

  it("rejects a key in padded, standard-alphabet or non-canonical base64url form", () => {
    const id = newIdentity();
    const std = Buffer.from(id.publicKey).toString("base64");
    expect(refusal(requestJson(id, { publicKey: `${id.publicKeyB64}=` })).message).toContain("request.publicKey");
    if (/[+/]/.test(std)) expect(refusal(requestJson(id, { publicKey: std.replace(/=+$/, "") })).message).toContain("request.publicKey");
    // The last of 43 characters carries 2 unused bits: set one.
    const last = id.publicKeyB64.at(-1)!;
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const tweaked = id.publicKeyB64.slice(0, -1) + alphabet[alphabet.indexOf(last) | 1];
    expect(refusal(requestJson(id, { publicKey: tweaked })).message).toContain("request.publicKey is not canonical");
  });

  it("rejects a deviceId of another key", () => {
    const message = refusal(requestJson(newIdentity(), { deviceId: newIdentity().deviceId })).message;
    expect(message).toContain("request.deviceId is not the SHA-256 of request.publicKey");
  });
});

describe("request schema", () => {
  it("accepts the phone's request and fills client defaults", () => {
    const id = newIdentity();
    const raw = requestJson(id);
    delete raw.client, delete raw.role, delete raw.scopes;
    const r = validateRequest(raw);
    expect(r).toEqual({
      deviceId: id.deviceId,
      publicKey: id.publicKeyB64,
      role: "operator",
      scopes: undefined,
      client: { id: "webchat", mode: "webchat", platform: "web", displayName: "KokoChat" },
    });
  });

  it("drops undeclared fields at every level", () => {
    const raw = requestJson(newIdentity(), { extra: "x", __proto__: { polluted: true } });
    (raw.client as Record<string, unknown>).evil = "y";
    const r = validateRequest(raw) as unknown as Record<string, unknown>;
    expect(Object.keys(r).sort()).toEqual(["client", "deviceId", "publicKey", "role", "scopes"]);
    expect(Object.keys(r.client as object)).not.toContain("evil");
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("says to update kokochat-pairing for a newer version", () => {
    expect(refusal(requestJson(newIdentity(), { version: 2 })).message).toContain("update kokochat-pairing");
  });

  it("names the field and the fix for each wrong field", () => {
    const id = newIdentity();
    const cases: [Record<string, unknown>, string][] = [
      [{ type: "kokochat.other" }, "request.type"],
      [{ version: "1" }, "request.version"],
      [{ deviceId: id.deviceId.toUpperCase() }, "request.deviceId"],
      [{ role: "node" }, "request.role"],
      [{ scopes: "operator.read" }, "request.scopes"],
      [{ scopes: ["operator.read", 7] }, "request.scopes[1]"],
      [{ client: { id: "openclaw-desktop" } }, "request.client.id"],
      [{ client: { mode: "cli" } }, "request.client.mode"],
      [{ client: { displayName: "x".repeat(65) } }, "request.client.displayName"],
      [{ client: { displayName: "Koko\u202eChat" } }, "request.client.displayName"],
      [{ client: { platform: "ios\n" } }, "request.client.platform"],
    ];
    for (const [override, field] of cases) {
      const message = refusal(requestJson(id, override)).message;
      expect(message).toContain(field);
      expect(message).toMatch(/: [a-z].*$/); // a fix follows
    }
  });

  it("never echoes a submitted value in its message", () => {
    const id = newIdentity();
    const secretish = "SECRET-VALUE-abc123";
    for (const field of ["deviceId", "publicKey", "role", "version"]) {
      const message = refusal(requestJson(id, { [field]: secretish })).message;
      expect(message).not.toContain(secretish);
    }
    expect(refusal(requestJson(id, { client: { displayName: `${secretish}\u0000` } })).message).not.toContain(secretish);
  });

  it("refuses every hostile value in every field with a typed error, but for the harmless few listed", () => {
    const id = newIdentity();
    const accepted: [string, unknown][] = [];
    for (const value of HOSTILE_VALUES) {
      for (const field of ["type", "version", "deviceId", "publicKey", "role", "scopes", "client"]) {
        try {
          validateRequest(requestJson(id, { [field]: value }));
          accepted.push([field, value]);
        } catch (error) {
          expect(error).toBeInstanceOf(CliError);
        }
      }
      expect(() => validateRequest(value)).toThrow(CliError);
    }
    // Only these get through validation, each harmless: an empty scope list is refused later by the
    // scope policy (65), and an empty `client` (arktype counts arrays as objects) takes SPEC §2's defaults.
    expect(accepted).toEqual([
      ["scopes", []],
      ["client", []],
      ["client", [null]],
      ["client", {}],
      ["client", { toString: "x" }],
    ]);
  });
});

describe("scope policy", () => {
  it("grants the required set plus operator.admin when asked", () => {
    expect(decideScopes(["operator.admin", ...REQUIRED_SCOPES], false)).toEqual({ granted: ["operator.admin", ...REQUIRED_SCOPES], refused: [] });
  });

  it("grants the default set, admin included, when scopes are missing", () => {
    expect(decideScopes(undefined, false).granted).toEqual(["operator.admin", ...REQUIRED_SCOPES]);
  });

  it("lets an older phone pair without operator.admin", () => {
    expect(decideScopes([...REQUIRED_SCOPES], false)).toEqual({ granted: [...REQUIRED_SCOPES], refused: [] });
  });

  it("refuses a request that lacks a required scope rather than grant what was not asked (65)", () => {
    for (const scopes of [[], ["operator.read"], ["operator.admin"], ["operator.read", "operator.write", "operator.approvals"]])
      expect(() => decideScopes(scopes, false)).toThrow(/request.scopes must include/);
    expect(() => decideScopes([], false)).toThrow(CliError);
  });

  it("never grants a scope outside the policy, and names it", () => {
    const d = decideScopes([...REQUIRED_SCOPES, "operator.pairing", "node.exec", "operator.admin"], false);
    expect(d.granted).toEqual(["operator.admin", ...REQUIRED_SCOPES]);
    expect(d.refused).toEqual(["operator.pairing", "node.exec"]);
  });

  it("drops operator.admin under --limited and says so", () => {
    expect(decideScopes(undefined, true)).toEqual({ granted: [...REQUIRED_SCOPES], refused: ["operator.admin"] });
  });
});
