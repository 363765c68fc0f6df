import { describe, expect, it } from "bun:test";
import { decodeBase64, decodeBase64Url, encodeBase64Url } from "../src/request/base64.ts";
import vectors from "./vectors/rfc4648.json";
import { HOSTILE_STRINGS } from "./vectors/hostile.ts";

const text = (bytes: Uint8Array | undefined) => (bytes ? Buffer.from(bytes).toString("utf8") : undefined);

describe("base64url (RFC 4648 §5, no padding, canonical)", () => {
  for (const v of vectors.vectors) {
    it(`decodes and encodes ${JSON.stringify(v.text)}`, () => {
      expect(text(decodeBase64Url(v.base64url))).toBe(v.text);
      expect(encodeBase64Url(Buffer.from(v.text))).toBe(v.base64url);
    });
  }

  it("uses - and _ where standard base64 has + and /", () => {
    expect(Buffer.from(decodeBase64Url(vectors.alphabet.base64url)!).toString("hex")).toBe(vectors.alphabet.hex);
    expect(decodeBase64Url(vectors.alphabet.base64)).toBeUndefined();
  });

  it("rejects padding", () => {
    expect(decodeBase64Url("Zg==")).toBeUndefined();
    expect(decodeBase64Url("Zm8=")).toBeUndefined();
  });

  it("rejects non-zero trailing bits (each byte string has one text form)", () => {
    expect(decodeBase64Url("Zh")).toBeUndefined(); // 'f' is Zg; Zh differs only in unused bits
    expect(decodeBase64Url("Zm9")).toBeUndefined(); // 'fo' is Zm8
  });

  it("rejects a length of 4n+1, whitespace inside and characters outside the alphabet", () => {
    expect(decodeBase64Url("Zm9vY")).toBeUndefined();
    expect(decodeBase64Url("Zm9v Ym Fy")).toBeUndefined();
    expect(decodeBase64Url("Zm9v\nYmFy")).toBeUndefined();
    expect(decodeBase64Url("Zm9v.mFy")).toBeUndefined();
  });
});

describe("standard base64 (RFC 4648 §4, padding optional but exact, canonical)", () => {
  for (const v of vectors.vectors) {
    it(`decodes ${JSON.stringify(v.base64)} with and without padding`, () => {
      expect(text(decodeBase64(v.base64))).toBe(v.text);
      expect(text(decodeBase64(v.base64.replace(/=+$/, "")))).toBe(v.text);
    });
  }

  it("uses + and /", () => {
    expect(Buffer.from(decodeBase64(vectors.alphabet.base64)!).toString("hex")).toBe(vectors.alphabet.hex);
    expect(decodeBase64("-_8=")).toBeUndefined();
  });

  it("rejects wrong padding, padding in the middle, trailing bits and whitespace", () => {
    for (const bad of ["Zg=", "Zg===", "Zm8==", "Zm9v=", "Z===", "Zg==Zg==", "Zh==", "Zm9=", "Zm9v\tYmFy", " Zm9v"])
      expect(decodeBase64(bad)).toBeUndefined();
  });
});

describe("hostile input", () => {
  it("never throws from either decoder", () => {
    for (const value of HOSTILE_STRINGS) {
      expect(() => decodeBase64(value)).not.toThrow();
      expect(() => decodeBase64Url(value)).not.toThrow();
    }
  });
});
