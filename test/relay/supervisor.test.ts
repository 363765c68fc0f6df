import { afterAll, afterEach, beforeAll, describe, expect, it, setDefaultTimeout } from "bun:test";
import { randomToken } from "../../src/crypto/random.ts";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ensureConnector,
  isOurs,
  logPath,
  pidPath,
  processIdentity,
  readPidFile,
  type SupervisorDeps,
} from "../../src/relay/supervisor.ts";
import { UNIT_NAME } from "../../src/relay/service.ts";
import { binary } from "../support/binary.ts";
import { EchoGateway } from "../support/echo-gateway.ts";
import { Phone } from "../support/ws-peer.ts";
import { alive, stopAll, track } from "../support/processes.ts";
import { TestRelay } from "../support/relay.ts";

// Real processes and sockets: allow for a loaded CI machine.
setDefaultTimeout(30_000);


let gateway: EchoGateway;
let binaryPath: string;
const relays: TestRelay[] = [];

beforeAll(async () => {
  binaryPath = await binary();
  gateway = new EchoGateway();
});
afterEach(async () => {
  await stopAll();
  for (const r of relays.splice(0)) r.stop();
});
afterAll(() => gateway.stop());

type Fixture = { stateDir: string; relay: TestRelay; relayId: string; configPath: string };

function fixture(stateDir = mkdtempSync(join(tmpdir(), "kokochat-sup-"))): Fixture {
  const relay = new TestRelay();
  relays.push(relay);
  mkdirSync(join(stateDir, "kokochat-relay"), { recursive: true, mode: 0o700 });
  const configPath = join(stateDir, "kokochat-relay", `${relay.relayId}.json`);
  writeFileSync(
    configPath,
    relay.connectorConfigJson(gateway.url),
    { mode: 0o600 },
  );
  return { stateDir, relay, relayId: relay.relayId, configPath };
}

async function deps(over: Partial<SupervisorDeps> = {}): Promise<SupervisorDeps> {
  return {
    self: [await binary()],
    service: () => undefined,
    runStep: () => ({ ok: true, output: "" }),
    env: { PATH: process.env.PATH, HOME: process.env.HOME, UNRELATED_TOKEN: "must-not-leak" },
    settleMs: 300,
    say: () => {},
    ...over,
  };
}

/** Start a connector through ensureConnector and remember its pid for afterEach. */
async function ensure(f: Fixture, d?: SupervisorDeps) {
  const result = await ensureConnector({ stateDir: f.stateDir, relayId: f.relayId, configPath: f.configPath }, d ?? (await deps()));
  const record = readPidFile(pidPath(f.stateDir, f.relayId));
  if (record?.pid) track(record.pid);
  return { result, record };
}

describe("ensureConnector", () => {
  it("starts a detached connector, records its pid in a 0600 file, and a second call finds it running", async () => {
    const f = fixture();
    const first = await ensure(f);
    expect(first.result).toBe("started");
    expect(statSync(pidPath(f.stateDir, f.relayId)).mode & 0o777).toBe(0o600);
    expect(alive(first.record!.pid)).toBe(true);
    await f.relay.waitForConnector();
    const second = await ensure(f);
    expect(second.result).toBe("running");
    expect(second.record!.pid).toBe(first.record!.pid);
    const phone = await Phone.connect(f.relay.phoneUrl);
    phone.send("through the detached connector");
    expect(await phone.next()).toBe("through the detached connector");
    phone.close();
    expect(f.relay.connectorConnections).toBe(1);
  });

  it("leaves exactly one connector when two calls race", async () => {
    const f = fixture();
    const d = await deps();
    const results = await Promise.all([ensure(f, d), ensure(f, d)]);
    expect(results.map((r) => r.result).sort()).toEqual(["running", "started"]);
    await f.relay.waitForConnector();
    await Bun.sleep(500);
    expect(f.relay.connectorConnections).toBe(1);
  });

  it("leaves exactly one connector when two processes race, as two `pair` runs would", async () => {
    const f = fixture();
    const script = join(import.meta.dir, "..", "support", "ensure-connector.ts");
    const runs = [0, 1].map(() =>
      Bun.spawn([process.execPath, script, f.stateDir, f.relayId, f.configPath, binaryPath], {
        env: { PATH: process.env.PATH!, HOME: process.env.HOME! },
        stdout: "pipe",
        stderr: "pipe",
      }),
    );
    for (const r of runs) track(r.pid);
    const outputs = await Promise.all(runs.map(async (r) => (await new Response(r.stdout).text()).trim()));
    const record = readPidFile(pidPath(f.stateDir, f.relayId))!;
    track(record.pid);
    expect(outputs.sort()).toEqual(["running", "started"]);
    await f.relay.waitForConnector();
    await Bun.sleep(500);
    expect(f.relay.connectorConnections).toBe(1);
    expect(isOurs(record, f.configPath)).toBe(true);
  });

  it("replaces a pid file that names a dead process", async () => {
    const f = fixture();
    const gone = Bun.spawn(["true"]);
    await gone.exited;
    writeFileSync(pidPath(f.stateDir, f.relayId), JSON.stringify({ pid: gone.pid, start: "1", configPath: f.configPath, startedAtMs: 1 }));
    const { result, record } = await ensure(f);
    expect(result).toBe("started");
    expect(record!.pid).not.toBe(gone.pid);
  });

  it("does not take a live foreign process in the pid file for ours, and does not kill it", async () => {
    const f = fixture();
    const sleeper = Bun.spawn(["sleep", "60"]);
    track(sleeper.pid);
    const id = processIdentity(sleeper.pid)!;
    // Even with the right start time, a `sleep` is not `connector --config <path>`.
    writeFileSync(pidPath(f.stateDir, f.relayId), JSON.stringify({ pid: sleeper.pid, start: id.start, configPath: f.configPath }));
    const { result, record } = await ensure(f);
    expect(result).toBe("started");
    expect(record!.pid).not.toBe(sleeper.pid);
    expect(alive(sleeper.pid)).toBe(true);
  });

  it("removes another relay id's pid file naming a foreign process without killing it", async () => {
    const f = fixture();
    const sleeper = Bun.spawn(["sleep", "60"]);
    track(sleeper.pid);
    const other = join(f.stateDir, "kokochat-relay", `${randomToken(18)}.pid`);
    writeFileSync(other, JSON.stringify({ pid: sleeper.pid, start: processIdentity(sleeper.pid)!.start, configPath: f.configPath }));
    const bare = join(f.stateDir, "kokochat-relay", `${randomToken(18)}.pid`);
    writeFileSync(bare, `${sleeper.pid}\n`);
    expect((await ensure(f)).result).toBe("started");
    expect(existsSync(other)).toBe(false);
    expect(existsSync(bare)).toBe(false);
    expect(alive(sleeper.pid)).toBe(true);
  });

  it("never takes a recycled pid for ours: same command line, other start time", async () => {
    const f = fixture();
    const { record } = await ensure(f);
    expect(isOurs(record!, f.configPath)).toBe(true);
    expect(isOurs({ ...record!, start: String(Number(record!.start) + 1) }, f.configPath)).toBe(false);
    expect(isOurs(record!, join(f.stateDir, "kokochat-relay", "other.json"))).toBe(false);
  });

  it("stops the connector recorded for an older relay id once it is verified ours", async () => {
    const stateDir = mkdtempSync(join(tmpdir(), "kokochat-sup-"));
    const older = fixture(stateDir);
    const a = await ensure(older);
    expect(a.result).toBe("started");
    await older.relay.waitForConnector();
    const newer = fixture(stateDir);
    const b = await ensure(newer);
    expect(b.result).toBe("started");
    const deadline = Date.now() + 5_000;
    while (alive(a.record!.pid) && Date.now() < deadline) await Bun.sleep(20);
    expect(alive(a.record!.pid)).toBe(false);
    expect(existsSync(pidPath(stateDir, older.relayId))).toBe(false);
    await newer.relay.waitForConnector();
  });

  it("restarts an installed service instead of starting a second connector", async () => {
    const f = fixture();
    const steps: string[][] = [];
    const d = await deps({
      service: () => ({ kind: "systemd-user", path: join(f.stateDir, UNIT_NAME), overridden: false }),
      runStep: (step) => {
        steps.push(step.argv);
        return { ok: true, output: "" };
      },
    });
    expect((await ensure(f, d)).result).toBe("restarted-service");
    expect(steps).toEqual([["systemctl", "--user", "restart", UNIT_NAME]]);
    expect(existsSync(pidPath(f.stateDir, f.relayId))).toBe(false);
  });

  it("gives the connector only the environment it needs and logs to kokochat-relay/connector.log", async () => {
    const f = fixture();
    const { record } = await ensure(f);
    await f.relay.waitForConnector();
    const environ = readFileSync(`/proc/${record!.pid}/environ`, "utf8").split("\0").filter(Boolean);
    const keys = environ.map((e) => e.split("=")[0]!);
    expect(keys).not.toContain("UNRELATED_TOKEN");
    expect(keys).toContain("OPENCLAW_STATE_DIR");
    for (const key of keys) expect(["PATH", "HOME", "OPENCLAW_STATE_DIR", "NO_COLOR"]).toContain(key);
    const deadline = Date.now() + 5_000;
    while (!readFileSync(logPath(f.stateDir), "utf8").includes("relay: connected") && Date.now() < deadline) await Bun.sleep(20);
    const log = readFileSync(logPath(f.stateDir), "utf8");
    expect(log).toContain("relay: connected");
    expect(log).not.toContain(f.relay.relaySecret);
    expect(statSync(logPath(f.stateDir)).mode & 0o777).toBe(0o600);
  });

  it("reports a connector that dies at once as an I/O error", async () => {
    const f = fixture();
    writeFileSync(f.configPath, "{ not json");
    await expect(ensure(f)).rejects.toMatchObject({ code: "io" });
    expect(existsSync(pidPath(f.stateDir, f.relayId))).toBe(false);
  });
});
