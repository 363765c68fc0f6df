import { afterAll, afterEach, beforeAll, describe, expect, it, setDefaultTimeout } from "bun:test";
import { randomToken } from "../../src/crypto/random.ts";
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run } from "../support/binary.ts";
import { EchoGateway } from "../support/echo-gateway.ts";
import { Phone } from "../support/ws-peer.ts";
import { startConnector, stopAll, type ConnectorProcess } from "../support/processes.ts";
import { TestRelay } from "../support/relay.ts";
import { StalledGateway } from "../support/stalled-gateway.ts";

// Real processes and sockets: allow for a loaded CI machine.
setDefaultTimeout(30_000);


function setup(gatewayUrl: string, relay: TestRelay) {
  const dir = mkdtempSync(join(tmpdir(), "kokochat-connector-"));
  const configPath = join(dir, `${relay.relayId}.json`);
  writeFileSync(
    configPath,
    relay.connectorConfigJson(gatewayUrl),
    { mode: 0o600 },
  );
  return configPath;
}

/** Every log line any connector printed in this file, checked for secrets at the end. */
const allLines: string[][] = [];
const secrets: string[] = [];

function newRelay(): TestRelay {
  const relay = new TestRelay();
  secrets.push(relay.relaySecret);
  return relay;
}

async function connector(configPath: string): Promise<ConnectorProcess> {
  const c = await startConnector(["--config", configPath]);
  allLines.push(c.lines);
  return c;
}

afterAll(async () => {
  await stopAll();
});

describe("connector: piping streams", () => {
  let relay: TestRelay;
  let gateway: EchoGateway;
  let c: ConnectorProcess;

  beforeAll(async () => {
    relay = newRelay();
    gateway = new EchoGateway();
    c = await connector(setup(gateway.url, relay));
    await relay.waitForConnector();
  });
  afterAll(async () => {
    await stopAll();
    expect(await c.stdout).toBe(""); // "nothing on stdout", checked once the process is gone
    relay.stop();
    gateway.stop();
  });

  it("pipes text frames both ways for 50 concurrent streams", async () => {
    const phones = await Promise.all(Array.from({ length: 50 }, () => Phone.connect(relay.phoneUrl)));
    const rounds = 20;
    await Promise.all(
      phones.map(async (phone, i) => {
        for (let r = 0; r < rounds; r++) {
          const text = JSON.stringify({ phone: i, round: r, pad: "é✓".repeat(i) });
          phone.send(text);
          expect(await phone.next()).toBe(text);
        }
      }),
    );
    expect(gateway.open).toBe(50);
    for (const phone of phones) phone.close(1000, "done");
    await Promise.all(phones.map((p) => p.closed));
    const deadline = Date.now() + 5_000;
    while (gateway.open > 0 && Date.now() < deadline) await Bun.sleep(20);
    expect(gateway.open).toBe(0);
  });

  it("carries a close from the phone to the gateway with its code and reason", async () => {
    const phone = await Phone.connect(relay.phoneUrl);
    phone.send("hello");
    expect(await phone.next()).toBe("hello");
    const before = gateway.closes.length;
    phone.close(4000, "phone says bye");
    const deadline = Date.now() + 5_000;
    while (gateway.closes.length === before && Date.now() < deadline) await Bun.sleep(10);
    expect(gateway.closes.at(-1)).toEqual({ code: 4000, reason: "phone says bye" });
  });

  it("carries a close from the gateway to the phone with its code and reason", async () => {
    const phone = await Phone.connect(relay.phoneUrl);
    phone.send("close:4321:gateway says bye");
    expect(await phone.closed).toEqual({ code: 4321, reason: "gateway says bye" });
  });

  it("closes a stream with 1009 when the phone sends a frame over the size limit", async () => {
    const phone = await Phone.connect(relay.phoneUrl);
    phone.send("x".repeat(8 * 1024 * 1024 + 1));
    expect(await phone.closed).toEqual({ code: 1009, reason: "message too big" });
    await c.waitFor(/closed by connector \(1009 message too big\)/);
  });

  it("closes a stream with 1009 when the gateway answers with a frame over the size limit", async () => {
    const phone = await Phone.connect(relay.phoneUrl);
    phone.send(`bytes:${8 * 1024 * 1024 + 1}`);
    expect(await phone.closed).toEqual({ code: 1009, reason: "message too big" });
  });

  it("keeps working for other streams after one was closed for a limit", async () => {
    const phone = await Phone.connect(relay.phoneUrl);
    phone.send("still here");
    expect(await phone.next()).toBe("still here");
    phone.close();
  });

  it("logs one line per stream event and nothing on stdout", async () => {
    expect(c.count(/stream \S+: opened$/)).toBeGreaterThanOrEqual(50);
    for (const line of c.lines) expect(line).toMatch(/^\d{4}-\d\d-\d\dT\S+Z (relay|stream|connector)\b/);
  });
});

describe("connector: gateway trouble", () => {
  let relay: TestRelay;
  afterEach(async () => {
    await stopAll();
    relay.stop();
  });

  it("closes the stream with 1014 and a reason when the gateway is down", async () => {
    relay = newRelay();
    const down = new EchoGateway();
    const url = down.url;
    down.stop();
    const c = await connector(setup(url, relay));
    await relay.waitForConnector();
    const phone = await Phone.connect(relay.phoneUrl);
    expect(await phone.closed).toEqual({ code: 1014, reason: "gateway unreachable" });
    expect(await c.waitFor(/closed by gateway \(1014 gateway unreachable: ECONNREFUSED\)/)).toBeTruthy();
  });

  it("closes a stream with 1013 when more frames queue than allowed while the gateway opens", async () => {
    relay = newRelay();
    const slow = new EchoGateway({ acceptDelayMs: 1_500 });
    const c = await connector(setup(slow.url, relay));
    await relay.waitForConnector();
    const phone = await Phone.connect(relay.phoneUrl);
    for (let i = 0; i < 200; i++) phone.send(`frame ${i}`);
    expect(await phone.closed).toEqual({ code: 1013, reason: "gateway not ready: too many frames queued" });
    await c.waitFor(/1013 gateway not ready/);
    slow.stop();
  });

  it("closes streams with 1013 once the bytes queued across all streams pass the total limit", async () => {
    relay = newRelay();
    const slow = new EchoGateway({ acceptDelayMs: 1_500 });
    await connector(setup(slow.url, relay));
    await relay.waitForConnector();
    // 24 streams x 200 KiB: each under the per-stream limit, together over the 4 MiB total.
    const phones = await Promise.all(Array.from({ length: 24 }, () => Phone.connect(relay.phoneUrl)));
    for (const phone of phones) phone.send("q".repeat(200 * 1024));
    const results = await Promise.all(
      phones.map((p) => Promise.race([p.closed, Bun.sleep(1_000).then(() => undefined)])),
    );
    const refused = results.filter((r) => r?.code === 1013);
    expect(refused.length).toBeGreaterThanOrEqual(24 - 20);
    expect(refused.length).toBeLessThan(24);
    for (const p of phones) p.close();
    slow.stop();
  });

  it("stops reading from the relay instead of buffering when the gateway stops reading", async () => {
    relay = newRelay();
    const stalled = new StalledGateway({ stallAfterFirstData: true });
    await stalled.ready;
    const c = await connector(setup(stalled.url, relay));
    await relay.waitForConnector();
    const rss = () => Number(/RssAnon:\s+(\d+)/.exec(readFileSync(`/proc/${c.proc.pid}/status`, "utf8"))?.[1] ?? 0) / 1024;
    const before = rss();
    expect(before).toBeGreaterThan(0); // RssAnon was read
    const phone = await Phone.connect(relay.phoneUrl);
    // Flood only once the gateway socket is open: frames queued while it opens are capped
    // (1013 past 256 KiB), which would end the test early without testing backpressure.
    phone.send("first");
    await stalled.forwarding;
    const frame = "b".repeat(64 * 1024);
    let peak = before;
    let sent = 0;
    // Offer 96 MiB; the phone side paces itself on its own buffer so the test process stays small too.
    for (let i = 0; i < 1536; i++) {
      while (phone.ws.bufferedAmount > 8 * 1024 * 1024) {
        await Bun.sleep(5);
        peak = Math.max(peak, rss());
        if (phone.ws.readyState !== WebSocket.OPEN) break;
      }
      if (phone.ws.readyState !== WebSocket.OPEN) break;
      phone.send(frame);
      sent++;
      if (i % 64 === 0) {
        await Bun.sleep(1);
        peak = Math.max(peak, rss());
      }
    }
    await Bun.sleep(300);
    peak = Math.max(peak, rss());
    // All 96 MiB went out with the phone still connected: the connector held it back, not a closed socket.
    expect(sent).toBe(1536);
    expect(phone.ws.readyState).toBe(WebSocket.OPEN);
    expect(peak - before).toBeLessThan(32); // ~9 MiB with backpressure, >130 MiB without
    phone.close();
    stalled.stop();
  }, 30_000);

  it("delivers frames queued while the gateway opens, in order, when under the limit", async () => {
    relay = newRelay();
    const slow = new EchoGateway({ acceptDelayMs: 300 });
    await connector(setup(slow.url, relay));
    await relay.waitForConnector();
    const phone = await Phone.connect(relay.phoneUrl);
    for (let i = 0; i < 10; i++) phone.send(`frame ${i}`);
    for (let i = 0; i < 10; i++) expect(await phone.next()).toBe(`frame ${i}`);
    phone.close();
    slow.stop();
  });
});

describe("connector: relay link", () => {
  let relay: TestRelay;
  let gateway: EchoGateway;
  afterEach(async () => {
    await stopAll();
    relay.stop();
    gateway.stop();
  });

  it("reconnects after a relay restart and new streams work", async () => {
    relay = newRelay();
    gateway = new EchoGateway();
    const c = await connector(setup(gateway.url, relay));
    await relay.waitForConnector();
    const first = await Phone.connect(relay.phoneUrl);
    first.send("before");
    expect(await first.next()).toBe("before");
    relay.stop();
    await c.waitFor(/relay: disconnected .*reconnecting in \d+\.\d s/);
    const deadline = Date.now() + 5_000;
    while (gateway.open > 0 && Date.now() < deadline) await Bun.sleep(20);
    expect(gateway.open).toBe(0); // the stream's gateway socket was closed with the link
    relay.restart();
    await relay.waitForConnector(15_000);
    const second = await Phone.connect(relay.phoneUrl);
    second.send("after");
    expect(await second.next()).toBe("after");
    second.close();
  }, 30_000);

  it("exits 0 on SIGINT too", async () => {
    relay = newRelay();
    gateway = new EchoGateway();
    const c = await connector(setup(gateway.url, relay));
    await relay.waitForConnector();
    c.proc.kill("SIGINT");
    expect(await c.proc.exited).toBe(0);
    await c.waitFor(/connector: SIGINT received/);
  });

  it("closes every stream and exits 0 on SIGTERM", async () => {
    relay = newRelay();
    gateway = new EchoGateway();
    const c = await connector(setup(gateway.url, relay));
    await relay.waitForConnector();
    const phones = await Promise.all(Array.from({ length: 3 }, () => Phone.connect(relay.phoneUrl)));
    for (const p of phones) {
      p.send("ping");
      expect(await p.next()).toBe("ping");
    }
    c.proc.kill("SIGTERM");
    expect(await c.proc.exited).toBe(0);
    for (const p of phones) expect((await p.closed).code).toBe(1001);
    expect(await c.stdout).toBe("");
    await c.waitFor(/connector: stopped/);
  });
});

describe("connector: settings", () => {
  afterEach(stopAll);

  it("says nothing is paired yet in one line and exits 0 when relay.json is missing", async () => {
    const state = mkdtempSync(join(tmpdir(), "kokochat-state-"));
    const r = await run(["connector", "--state-dir", state]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe("");
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain("nothing paired yet");
  });

  it("bootstraps from relay.json and the local gateway URL", async () => {
    const relay = newRelay();
    const gateway = new EchoGateway();
    const state = mkdtempSync(join(tmpdir(), "kokochat-state-"));
    mkdirSync(join(state, "kokochat-relay"));
    writeFileSync(
      join(state, "kokochat-relay", "relay.json"),
      relay.credentialsJson(),
    );
    const c = await startConnector([], { OPENCLAW_STATE_DIR: state, OPENCLAW_GATEWAY_PORT: String(gateway.port) });
    allLines.push(c.lines);
    await relay.waitForConnector();
    const phone = await Phone.connect(relay.phoneUrl);
    phone.send("via relay.json");
    expect(await phone.next()).toBe("via relay.json");
    phone.close();
    await stopAll();
    relay.stop();
    gateway.stop();
  });

  it("refuses a malformed config in one line without echoing it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kokochat-bad-"));
    const path = join(dir, "c.json");
    const secret = randomToken(32);
    writeFileSync(path, JSON.stringify({ relayUrl: "ws://127.0.0.1:1", relayId: "short", relaySecret: secret, gatewayUrl: "ws://127.0.0.1:2" }));
    const r = await run(["connector", "--config", path]);
    expect(r.exitCode).toBe(78);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).not.toContain(secret);
    expect(r.stderr).not.toContain("short");
  });

  it("reports a missing config file as an I/O error (74)", async () => {
    const r = await run(["connector", "--config", join(tmpdir(), "kokochat-no-such-config.json")]);
    expect(r.exitCode).toBe(74);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
  });

  it("rejects an unknown option as a usage error (64)", async () => {
    const r = await run(["connector", "--frobnicate"]);
    expect(r.exitCode).toBe(64);
  });
});

describe("connector: logs", () => {
  it("never print frame contents", () => {
    expect(allLines.flat().length).toBeGreaterThan(50); // the other suites ran and logged
    const lines = allLines.flat().join("\n");
    for (const text of ["still here", "via relay.json", "frame 1", '"phone":', "qqqqqqqq", "xxxxxxxx"])
      expect(lines).not.toContain(text);
  });

  it("never print a relay secret or a ?secret= query", () => {
    const lines = allLines.flat();
    expect(lines.length).toBeGreaterThan(50);
    for (const line of lines) {
      expect(line).not.toMatch(/secret=(?!<redacted>)/i);
      for (const secret of secrets) {
        expect(line).not.toContain(secret);
        expect(line).not.toContain(secret.slice(0, 12));
      }
    }
  });
});
