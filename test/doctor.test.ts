import { afterEach, describe, expect, it } from "bun:test";
import { chmodSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { run } from "./support/binary.ts";
import { pidPath, processIdentity, readPidFile } from "../src/relay/supervisor.ts";
import { EchoGateway } from "./support/echo-gateway.ts";
import { stopAll, track } from "./support/processes.ts";
import { TestRelay } from "./support/relay.ts";
import { BACKENDS, seed, type Backend } from "./support/devices.ts";
import { decodeSetupCode, newIdentity, requestCode } from "./support/requests.ts";
import { makeSqliteStore, pairedFile, readJson, snapshot, sqliteFile, tempStateDir } from "./support/stores.ts";

type Check = { check: string; status: "ok" | "note" | "problem"; summary: string; fix?: string };

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

/** A TCP listener standing in for the local gateway's port. */
function fakeGateway(): number {
  const server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {}, open(socket) { socket.end(); } } });
  cleanups.push(() => server.stop(true));
  return server.port;
}

/** A port nothing listens on. */
function closedPort(): number {
  const server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = server.port;
  server.stop(true);
  return port;
}

/**
 * A live process whose command line ends in `connector --config <path>`, as the
 * real connector's does, recorded in its pid file the way the supervisor
 * records it (pid, start time, config path).
 */
async function fakeConnector(state: string, relayId: string): Promise<number> {
  const configPath = join(state, "kokochat-relay", `${relayId}.json`);
  // One process, no child: killing it by pid leaves nothing behind (a `bash -c "sleep …"` left its sleep).
  const proc = Bun.spawn([process.execPath, "-e", "setTimeout(() => {}, 60_000)", "connector", "--config", configPath], { stdout: "ignore", stderr: "ignore" });
  cleanups.push(() => proc.kill());
  let identity = processIdentity(proc.pid);
  for (let i = 0; i < 50 && !identity?.args.includes("--config"); i++) {
    await Bun.sleep(20);
    identity = processIdentity(proc.pid);
  }
  writeFileSync(join(state, "kokochat-relay", `${relayId}.pid`), JSON.stringify({ pid: proc.pid, start: identity!.start, configPath, startedAtMs: Date.now() }), { mode: 0o600 });
  return proc.pid;
}

/** A healthy install: a store with a phone paired for real, relay credentials, a connector, a gateway port that answers. */
async function healthy(state: string, backend: Backend) {
  const port = fakeGateway();
  const env = { OPENCLAW_GATEWAY_PORT: String(port) };
  seed(state, backend, []);
  const paired = await run(["pair", "--no-connector", "--state-dir", state, requestCode(newIdentity())], { env });
  expect(paired.exitCode).toBe(0);
  const relay = readJson(join(state, "kokochat-relay", "relay.json"));
  const pid = await fakeConnector(state, relay.relayId);
  return { env, port, relay, pid, token: decodeSetupCode(paired.stdout).deviceToken };
}

const doctor = (state: string, env: Record<string, string> = {}, ...args: string[]) => run(["doctor", "--state-dir", state, ...args], { env });
const problems = (checks: Check[]) => checks.filter((c) => c.status === "problem");

for (const backend of BACKENDS) {
  describe(`doctor (${backend} store)`, () => {
    it("finds nothing wrong with a healthy install (exit 0), says what it sees, and writes nothing", async () => {
      using s = tempStateDir();
      const h = await healthy(s.dir, backend);
      const before = snapshot(s.dir);
      const r = await doctor(s.dir, h.env, "--json");
      expect(r.exitCode).toBe(0);
      const report = JSON.parse(r.stdout);
      expect(problems(report.checks)).toEqual([]);
      expect(report).toMatchObject({ ok: true, problems: 0, stateDir: s.dir, stateDirSource: "--state-dir", store: { backend }, relay: { url: "wss://deeply.plus/relay", id: h.relay.relayId }, gatewayUrl: `ws://127.0.0.1:${h.port}` });
      if (backend === "sqlite") expect(report.store).toMatchObject({ schemaVersion: 18, openclawVersion: "2026.9.6" });
      const text = JSON.stringify(report.checks);
      expect(text).toContain("1 paired device, 1 KokoChat");
      expect(text).toContain(`relay connector running for relay ${h.relay.relayId} (pid ${h.pid})`);
      expect(text).toContain(`the gateway port answers at 127.0.0.1:${h.port}`);
      expect(text).toContain("files 0600, no folder writable by others");

      const human = await doctor(s.dir, h.env);
      expect(human.exitCode).toBe(0);
      expect(human.stdout).toMatch(/^ok +state dir +/m);
      expect(human.stdout).toContain("No problems found.");
      expect(snapshot(s.dir)).toEqual(before);
    });

    it("takes a folder others can only list (older gateways make devices/ 0755) as a note, not a problem", async () => {
      using s = tempStateDir();
      await healthy(s.dir, backend);
      chmodSync(join(s.dir, "kokochat-relay"), 0o755);
      const checks = JSON.parse((await doctor(s.dir, {}, "--json")).stdout).checks as { check: string; status: string; summary: string }[];
      const permissions = checks.filter((c) => c.check === "permissions");
      expect(permissions.map((c) => c.status).sort()).toEqual(["note", "ok"]);
      expect(permissions.find((c) => c.status === "note")!.summary).toContain("kokochat-relay is 0755");
    });

    it("reports each problem with its fix (exit 1), changing nothing, never showing a secret", async () => {
      using s = tempStateDir();
      const h = await healthy(s.dir, backend);
      const storeFile = backend === "sqlite" ? sqliteFile(s.dir) : pairedFile(s.dir);
      chmodSync(storeFile, 0o644);
      chmodSync(join(s.dir, "kokochat-relay"), 0o775);
      rmSync(join(s.dir, "kokochat-relay", `${h.relay.relayId}.pid`));
      const env = { OPENCLAW_GATEWAY_PORT: String(closedPort()), KOKOCHAT_RELAY_URL: "wss://relay.example.org/relay" };
      const before = snapshot(s.dir);
      const r = await doctor(s.dir, env, "--json");
      expect(r.exitCode).toBe(1);
      const found = problems(JSON.parse(r.stdout).checks);
      const about = (pattern: RegExp) => found.find((c) => pattern.test(c.summary));
      expect(about(new RegExp(`${storeFile.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} is 0644, expected 0600`))?.fix).toBe(`chmod 600 '${storeFile}'`);
      expect(about(/kokochat-relay is 0775, expected 0700/)?.fix).toStartWith("chmod 700 ");
      expect(about(/credentials are for relay wss:\/\/deeply.plus\/relay, but the relay is now wss:\/\/relay.example.org\/relay/)?.fix).toContain("KOKOCHAT_RELAY_URL=wss://deeply.plus/relay");
      expect(about(/the connector forwards to ws:\/\/127.0.0.1:\d+, but the gateway is at/)?.fix).toContain("pair a phone again");
      expect(about(/no relay connector is running for relay/)?.fix).toContain("kokochat-pairing service install");
      expect(about(/nothing answers at 127.0.0.1:\d+ \(connection refused\)/)?.fix).toContain("start the OpenClaw gateway");
      for (const c of found) expect(c.fix).toBeTruthy();
      expect(snapshot(s.dir)).toEqual(before);

      const human = await doctor(s.dir, env);
      expect(human.exitCode).toBe(1);
      expect(human.stdout).toMatch(/^PROBLEM +permissions +/m);
      expect(human.stdout).toMatch(/^ +fix: chmod 600 /m);
      expect(human.stdout).toContain(`${found.length} problems found.`);
      for (const out of [r, human]) for (const secret of [h.relay.relaySecret, h.token]) expect(out.stdout + out.stderr).not.toContain(secret);
    });
  });
}

describe("doctor: what it finds", () => {
  it("names the variable that chose the state dir, and a missing state dir is a problem with a fix", async () => {
    using s = tempStateDir();
    const port = String(fakeGateway());
    for (const [name, source] of [["OPENCLAW_STATE_DIR", "OPENCLAW_STATE_DIR"], ["OPENCLAW_CONFIG_DIR", "OPENCLAW_CONFIG_DIR"]] as const) {
      const r = await run(["doctor", "--json"], { env: { [name]: join(s.dir, "missing"), OPENCLAW_GATEWAY_PORT: port } });
      expect(r.exitCode).toBe(1);
      const report = JSON.parse(r.stdout);
      expect(report).toMatchObject({ stateDir: join(s.dir, "missing"), stateDirSource: source });
      expect(problems(report.checks)).toEqual([expect.objectContaining({ check: "state dir", fix: expect.stringContaining("--state-dir") })]);
    }
    expect(snapshot(s.dir)).toEqual({});
  });

  it("an install with nothing paired yet only gets notes about the store and the relay credentials", async () => {
    using s = tempStateDir();
    makeSqliteStore(s.dir);
    const r = await doctor(s.dir, { OPENCLAW_GATEWAY_PORT: String(fakeGateway()) }, "--json");
    const report = JSON.parse(r.stdout);
    expect(problems(report.checks)).toEqual([]);
    expect(r.exitCode).toBe(0);
    expect(report.checks).toContainEqual({ check: "relay", status: "note", summary: "no relay credentials yet: the first pair makes them" });
  });

  it("a KOKOCHAT_LOCAL_GATEWAY_URL pair would refuse is one config problem, not one per check using it", async () => {
    using s = tempStateDir();
    makeSqliteStore(s.dir);
    // Paired, so the relay check (which compares the connector's gateway URL) runs too.
    expect((await run(["pair", "--no-connector", "--state-dir", s.dir, requestCode(newIdentity())])).exitCode).toBe(0);
    const r = await doctor(s.dir, { KOKOCHAT_LOCAL_GATEWAY_URL: "ws://127.0.0.1:1/?x=1" }, "--json");
    expect(r.exitCode).toBe(1);
    const aboutIt = problems(JSON.parse(r.stdout).checks).filter((c) => /KOKOCHAT_LOCAL_GATEWAY_URL|gateway is at/.test(c.summary));
    expect(aboutIt).toEqual([
      expect.objectContaining({ check: "config", summary: expect.stringContaining("KOKOCHAT_LOCAL_GATEWAY_URL is not a plain ws:// or wss:// URL") }),
    ]);
  });

  it("reports an unreadable or unknown store with the refusal pair would give", async () => {
    using s = tempStateDir();
    makeSqliteStore(s.dir, (db) => db.run("ALTER TABLE device_pairing_paired DROP COLUMN approved_via"));
    const before = snapshot(s.dir);
    const unknown = JSON.parse((await doctor(s.dir, {}, "--json")).stdout);
    expect(problems(unknown.checks)).toContainEqual(expect.objectContaining({ check: "store", summary: expect.stringContaining("approved_via is missing") }));
    expect(snapshot(s.dir)).toEqual(before);
    writeFileSync(sqliteFile(s.dir), "not a database ".repeat(300));
    const notDb = await doctor(s.dir, {}, "--json");
    expect(notDb.exitCode).toBe(1);
    expect(problems(JSON.parse(notDb.stdout).checks)).toContainEqual(expect.objectContaining({ check: "store", summary: expect.stringContaining("not a readable SQLite database"), fix: expect.any(String) }));
  });

  it("a 2026.7+ config without the database says the store is not there yet", async () => {
    using s = tempStateDir();
    writeFileSync(join(s.dir, "openclaw.json"), '{ meta: { lastTouchedVersion: "2026.9.6" }, gateway: { port: 1 }, }');
    const report = JSON.parse((await doctor(s.dir, {}, "--json")).stdout);
    expect(report.checks).toContainEqual(expect.objectContaining({ check: "config", status: "ok", summary: expect.stringContaining("OpenClaw 2026.9.6, gateway port 1") }));
    expect(problems(report.checks)).toContainEqual(expect.objectContaining({ check: "store", summary: expect.stringContaining("start the OpenClaw gateway once") }));
  });

  it("names the settings openclaw.env supplies, never their values", async () => {
    using s = tempStateDir();
    seed(s.dir, "json", []);
    writeFileSync(join(s.dir, "openclaw.env"), "KOKOCHAT_RELAY_URL=https://relay.example.org/r/\nOPENCLAW_GATEWAY_TOKEN=very-secret-value-123\n");
    const r = await doctor(s.dir, {}, "--json");
    expect(r.stdout).toContain("openclaw.env supplies KOKOCHAT_RELAY_URL, OPENCLAW_GATEWAY_TOKEN");
    expect(r.stdout).toContain("relay wss://relay.example.org/r (from openclaw.env)");
    expect(r.stdout + r.stderr).not.toContain("very-secret-value-123");
  });

  it("a pid file naming a dead process or another program is not a running connector", async () => {
    using s = tempStateDir();
    const h = await healthy(s.dir, "json");
    const pidFile = join(s.dir, "kokochat-relay", `${h.relay.relayId}.pid`);
    const dead = Bun.spawn(["true"]);
    await dead.exited;
    writeFileSync(pidFile, String(dead.pid));
    let r = await doctor(s.dir, h.env);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toContain(`(the pid file names pid ${dead.pid}, which is not our running connector)`);
    const other = Bun.spawn(["sleep", "30"]);
    cleanups.push(() => other.kill());
    writeFileSync(pidFile, String(other.pid));
    r = await doctor(s.dir, h.env);
    expect(r.stdout).toContain(`(the pid file names pid ${other.pid}, which is not our running connector)`);
  });

  it("reports an installed connector unit without starting or stopping anything", async () => {
    using s = tempStateDir();
    const h = await healthy(s.dir, "json");
    const units = join(s.dir, "units");
    mkdirSync(units);
    writeFileSync(join(units, "kokochat-relay-connector.service"), "[Unit]\n");
    const r = await doctor(s.dir, { ...h.env, KOKOCHAT_SERVICE_DIR: units }, "--json");
    const connector = JSON.parse(r.stdout).checks.filter((c: Check) => c.check === "connector");
    expect(connector).toContainEqual(expect.objectContaining({ status: "problem", summary: expect.stringContaining("kokochat-relay-connector.service is installed but unknown") }));
    expect(connector).toContainEqual(expect.objectContaining({ status: "ok", summary: expect.stringContaining(`pid ${h.pid}`) }));
  });

  it("rejects unknown options and arguments (64)", async () => {
    using s = tempStateDir();
    for (const args of [["--store", "json"], ["extra"], ["--bogus"]]) expect((await doctor(s.dir, {}, ...args)).exitCode).toBe(64);
  });
});

describe("doctor with a real connector", () => {
  afterEach(stopAll);

  it("sees the connector pair started (its pid record) and the gateway port, and finds nothing wrong", async () => {
    using s = tempStateDir();
    const gateway = new EchoGateway();
    const relay = new TestRelay();
    try {
      seed(s.dir, "json", []);
      mkdirSync(join(s.dir, "kokochat-relay"), { mode: 0o700 });
      writeFileSync(join(s.dir, "kokochat-relay", "relay.json"), relay.credentialsJson(), { mode: 0o600 });
      const env = { KOKOCHAT_SKIP_RELAY_CONNECTOR_START: undefined, KOKOCHAT_LOCAL_GATEWAY_URL: gateway.url, KOKOCHAT_RELAY_URL: relay.url };
      const paired = await run(["pair", "--json", "--state-dir", s.dir, requestCode(newIdentity())], { env });
      expect(JSON.parse(paired.stdout).connector).toBe("started");
      const record = readPidFile(pidPath(s.dir, relay.relayId))!;
      track(record.pid);

      const ours = () => Object.fromEntries(Object.entries(snapshot(s.dir)).filter(([path]) => !path.endsWith("connector.log")));
      const before = ours();
      const r = await doctor(s.dir, { KOKOCHAT_LOCAL_GATEWAY_URL: gateway.url, KOKOCHAT_RELAY_URL: relay.url }, "--json");
      const report = JSON.parse(r.stdout);
      expect(problems(report.checks)).toEqual([]);
      expect(r.exitCode).toBe(0);
      expect(report.checks).toContainEqual(expect.objectContaining({ check: "connector", status: "ok", summary: `relay connector running for relay ${relay.relayId} (pid ${record.pid})` }));
      expect(r.stdout).not.toContain(relay.relaySecret);
      expect(ours()).toEqual(before); // the connector's own log may grow meanwhile
    } finally {
      relay.stop();
      gateway.stop();
    }
  }, 60_000);
});
