import { describe, expect, it } from "bun:test";
import { connectorUrl, redactor, sendableCode, sendableReason } from "../../src/relay/connector.ts";

describe("connector helpers", () => {
  const secret = "S3cr3t-S3cr3t_S3cr3t-S3cr3t_S3cr3t-0123";

  it("builds the connector URL with the id and secret URI-encoded", () => {
    expect(connectorUrl({ relayUrl: "wss://relay.example/relay/", relayId: "abc_DEF-123", relaySecret: secret })).toBe(
      `wss://relay.example/relay/v1/connector/abc_DEF-123?secret=${secret}`,
    );
  });

  it("redacts the secret and any secret= query from a line", () => {
    const redact = redactor(secret);
    const line = `WebSocket connection to 'ws://127.0.0.1:1/v1/connector/x?secret=${secret}' failed; also ${secret} and ?secret=other&x=1`;
    const out = redact(line);
    expect(out).not.toContain(secret);
    expect(out).not.toContain("other");
    expect(out).toContain("secret=<redacted>");
  });

  it("passes real close codes and maps reserved or junk codes to a fallback", () => {
    for (const code of [1000, 1001, 1003, 1009, 1011, 1013, 1014, 3000, 4999]) expect(sendableCode(code)).toBe(code);
    for (const code of [1004, 1005, 1006, 1015, 999, 2000, 5000, 1000.5, "1000", null]) expect(sendableCode(code, 1011)).toBe(1011);
  });

  it("cuts a close reason to 123 UTF-8 bytes and drops non-strings", () => {
    expect(Buffer.byteLength(sendableReason("✓".repeat(100)))).toBeLessThanOrEqual(123);
    expect(sendableReason("short")).toBe("short");
    expect(sendableReason(42)).toBe("");
  });
});

describe("connector log and close-reason hygiene", () => {
  it("keeps a peer's close reason to 123 bytes however long it is, in one slice", () => {
    expect(Buffer.byteLength(sendableReason("é".repeat(8_000_000)))).toBeLessThanOrEqual(123);
  });

  it("turns control characters a peer sent into ?, so a log line stays one line", () => {
    expect(redactor("s".repeat(43))("closed (1000 bye\nFAKE LINE\r)")).toBe("closed (1000 bye?FAKE LINE?)");
  });
});
