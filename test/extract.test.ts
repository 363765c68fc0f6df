import { describe, expect, it } from "bun:test";
import { CliError } from "../src/errors.ts";
import { extractRequest } from "../src/request/extract.ts";
import { chatMessage, encodeRequest, newIdentity, requestCode, requestJson } from "./support/requests.ts";
import { HOSTILE_STRINGS } from "./vectors/hostile.ts";

function exitOf(text: string): number {
  try {
    extractRequest(text);
  } catch (error) {
    expect(error).toBeInstanceOf(CliError);
    return (error as CliError).exitCode;
  }
  return 0;
}

describe("accepted forms", () => {
  const id = newIdentity();
  const json = JSON.stringify(requestJson(id));
  const std = Buffer.from(json).toString("base64");

  it("takes raw JSON", () => expect(extractRequest(json).deviceId).toBe(id.deviceId));
  it("takes base64url without padding", () => expect(extractRequest(requestCode(id)).deviceId).toBe(id.deviceId));
  it("takes standard base64 with padding", () => expect(extractRequest(std).deviceId).toBe(id.deviceId));
  it("takes standard base64 without padding", () => expect(extractRequest(std.replace(/=+$/, "")).deviceId).toBe(id.deviceId));
  it("ignores surrounding whitespace", () => expect(extractRequest(`\n  ${requestCode(id)}  \n`).deviceId).toBe(id.deviceId));
});

describe("finding the request in a chat message", () => {
  const id = newIdentity();
  const code = requestCode(id);

  it("finds the code inside the phone's message (prose and a shell command)", () => {
    expect(extractRequest(chatMessage(code)).deviceId).toBe(id.deviceId);
  });

  it("finds the code in an unquoted env assignment", () => {
    expect(extractRequest(`run KOKOCHAT_PAIRING_REQUEST=${code} ./kokochat-pairing please`).deviceId).toBe(id.deviceId);
  });

  it("finds a code glued to a path", () => {
    expect(extractRequest(`kokochat://pair/${code}`).deviceId).toBe(id.deviceId);
  });

  it("finds raw JSON in prose and in a code fence", () => {
    const json = JSON.stringify(requestJson(id));
    expect(extractRequest(`Here it is: ${json} — thanks`).deviceId).toBe(id.deviceId);
    expect(extractRequest(`\`\`\`json\n${JSON.stringify(requestJson(id), null, 2)}\n\`\`\``).deviceId).toBe(id.deviceId);
  });

  it("finds the code inside a message that is itself JSON (a chat export)", () => {
    expect(extractRequest(JSON.stringify({ role: "user", text: `please pair: ${code}` })).deviceId).toBe(id.deviceId);
    expect(extractRequest(JSON.stringify({ messages: [{ text: "hi" }, { attachment: requestJson(id) }] })).deviceId).toBe(id.deviceId);
  });

  it("accepts the same request given twice (prose and command)", () => {
    expect(extractRequest(`${code}\n\n${chatMessage(code)}`).deviceId).toBe(id.deviceId);
  });

  it("skips tokens that are not requests, e.g. an unrelated base64 blob", () => {
    const noise = Buffer.from(JSON.stringify({ type: "something.else", data: "x".repeat(100) })).toString("base64url");
    expect(extractRequest(`${noise} and ${chatMessage(code)} and ${"Q".repeat(200)}`).deviceId).toBe(id.deviceId);
  });
});

describe("refusals", () => {
  it("refuses two different valid requests as ambiguous (65)", () => {
    const text = `${chatMessage(requestCode(newIdentity()))}\n${chatMessage(requestCode(newIdentity()))}`;
    expect(exitOf(text)).toBe(65);
    expect(() => extractRequest(text)).toThrow(/2 different pairing requests/);
  });

  it("says there is no request (66) in a message without one", () => {
    expect(exitOf("Please pair my KokoChat, thanks!")).toBe(66);
    expect(exitOf(`${"A".repeat(300)} ${Buffer.from("not json at all, just words here and there".repeat(5)).toString("base64url")}`)).toBe(66);
  });

  it("reports the validation error (65) for an embedded request that is invalid", () => {
    const broken = encodeRequest(requestJson(newIdentity(), { deviceId: newIdentity().deviceId }));
    expect(exitOf(chatMessage(broken))).toBe(65);
  });

  it("refuses a code with whitespace inside (the halves are not requests)", () => {
    const code = requestCode(newIdentity());
    expect(exitOf(`${code.slice(0, 150)} ${code.slice(150)}`)).toBe(66);
  });

  it("refuses a code with a non-canonical last character", () => {
    const json = JSON.stringify(requestJson(newIdentity()));
    // pick a JSON length whose base64url ends in a partial quad, then flip an unused bit
    const padded = json.length % 3 === 0 ? `${json} ` : json;
    const code = Buffer.from(padded).toString("base64url");
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const tweaked = code.slice(0, -1) + alphabet[alphabet.indexOf(code.at(-1)!) | 1];
    expect(exitOf(tweaked)).toBe(66);
  });

  it("says what is wrong with a whole input that is JSON but not a request (65)", () => {
    expect(exitOf('{"type":"kokochat.somethingElse"}')).toBe(65);
  });

  it("handles every hostile string with a typed error", () => {
    for (const value of HOSTILE_STRINGS) {
      const code = exitOf(value);
      expect([65, 66]).toContain(code);
      expect(exitOf(chatMessage(value))).toBeOneOf([65, 66]);
    }
  });
});
