/**
 * The windows-x64 executable, run under wine, passes the black-box checks the
 * Linux binary passes, plus the Windows-only ones: no HOME (USERPROFILE), drive
 * letters and backslashes, CRLF files, locks held by live and dead Windows
 * processes, a reader holding paired.json open. Fixtures are made on the Linux
 * side and reach wine through its Z: drive.
 *
 * Needs wine64 (or $WINE) and x86_64-w64-mingw32-gcc (.ci/windows-deps.sh installs both);
 * without them the suite says SKIPPED and why, in one line — or, with
 * CI_REQUIRE_WINE=1 (a CI that must not lose Windows coverage quietly), fails.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import pkg from "../../package.json" with { type: "json" };
import { foreignDevice } from "../support/devices.ts";
import { decodeSetupCode, chatMessage, encodeRequest, newIdentity, requestCode, requestJson, type Identity } from "../support/requests.ts";
import { insertPaired, makeJsonStore, makeSqliteStore, pairedFile, pendingFile, readJson, readPairedRows, snapshot, sqliteFile, tempStateDir } from "../support/stores.ts";
import { readPidFile, pidPath } from "../../src/relay/supervisor.ts";
import { EchoGateway } from "../support/echo-gateway.ts";
import { TestRelay } from "../support/relay.ts";
import { Phone } from "../support/ws-peer.ts";
import { findTools, winPath, Wine, type SpawnResult, type Tools } from "./wine.ts";

const tools = findTools();
const missing = "missing" in tools ? tools.missing : undefined;
const required = process.env.CI_REQUIRE_WINE === "1";
if (missing && !required) console.log(`SKIPPED: windows-x64 binary under wine: needs ${missing}; .ci/windows-deps.sh installs wine64 and mingw`);
if (missing && required)
  it("the windows-x64 binary runs under wine (CI_REQUIRE_WINE=1)", () => {
    throw new Error(`the wine suite is required here but cannot run: needs ${missing}`);
  });

const SETUP_TIMEOUT_MS = 180_000;
const TEST_TIMEOUT_MS = 60_000;


const oneLine = (r: SpawnResult) => r.stderr.trim().split(/\r?\n/);

/**
 * Run independent jobs a few at a time: each wine run loads a 110 MB
 * executable, and a dozen at once on a small CI machine only thrash
 * (measured on 2 cores: one at a time was fastest).
 */
const POOL_WIDTH = Math.max(1, Math.min(4, navigator.hardwareConcurrency - 1));

async function inPool<T>(jobs: (() => Promise<T>)[], width = POOL_WIDTH): Promise<T[]> {
  const results: T[] = new Array(jobs.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < jobs.length; i = next++) results[i] = await jobs[i]!();
  };
  await Promise.all(Array.from({ length: width }, worker));
  return results;
}

describe.skipIf(missing !== undefined)("the windows-x64 binary under wine", () => {
  let wine: Wine;
  const suiteStart = Date.now();

  beforeAll(async () => {
    wine = new Wine(tools as Tools);
    await wine.setUp();
  }, SETUP_TIMEOUT_MS);

  afterAll(async () => {
    if (!wine) return;
    await wine.tearDown();
    const setup = Object.entries(wine.timings).map(([name, ms]) => `${name} ${(ms / 1000).toFixed(1)} s`);
    console.log(`wine suite: ${setup.join(", ")}; whole suite ${((Date.now() - suiteStart) / 1000).toFixed(1)} s`);
  });

  /** `pair --no-connector --state-dir Z:\…` under wine. */
  const pair = (state: string, args: string[], options: Parameters<Wine["run"]>[1] = {}) =>
    wine.run(["pair", "--no-connector", "--state-dir", winPath(state), ...args], options);

  const tokenOf = (r: SpawnResult) => {
    const line = r.stdout.trim();
    return decodeSetupCode(line.startsWith("{") ? JSON.parse(line).setupCode : line).deviceToken;
  };

  describe("the black-box checks the Linux binary passes", () => {
    it(
      "--version prints the version, --help the usage",
      async () => {
        const [version, help] = await Promise.all([wine.run(["--version"]), wine.run(["--help"])]);
        expect(version).toMatchObject({ exitCode: 0, stdout: `${pkg.version}\n` });
        expect(help.exitCode).toBe(0);
        expect(help.stdout).toContain("77 refused");
      },
      TEST_TIMEOUT_MS,
    );

    it(
      "pairs into a JSON store: one line on stdout, other devices kept, this device's pending request dropped, no temp file or lock left",
      async () => {
        using s = tempStateDir();
        const id = newIdentity();
        makeJsonStore(
          s.dir,
          { [foreignDevice.deviceId]: foreignDevice },
          { r1: { requestId: "r1", deviceId: id.deviceId, ts: 1 }, r2: { requestId: "r2", deviceId: foreignDevice.deviceId, ts: 2 } },
        );
        const r = await pair(s.dir, [requestCode(id)]);
        expect(r.exitCode).toBe(0);
        expect(r.stdout).toMatch(/^[A-Za-z0-9_-]+\n$/);
        expect(r.stderr).toContain("Paired KokoChat");
        const code = decodeSetupCode(r.stdout);
        expect(code.deviceId).toBe(id.deviceId);
        const paired = readJson(pairedFile(s.dir));
        expect(paired[foreignDevice.deviceId]).toEqual(foreignDevice);
        expect(paired[id.deviceId]).toMatchObject({ publicKey: id.publicKeyB64, role: "operator", clientId: "openclaw-ios" });
        expect(paired[id.deviceId].tokens.operator.token).toBe(code.deviceToken);
        expect(Object.keys(readJson(pendingFile(s.dir)))).toEqual(["r2"]);
        expect(readdirSync(join(s.dir, "devices")).sort()).toEqual(["paired.json", "pending.json"]);
        const relay = readJson(join(s.dir, "kokochat-relay", "relay.json"));
        expect(readdirSync(join(s.dir, "kokochat-relay")).sort()).toEqual([`${relay.relayId}.json`, "relay.json"].sort());
        expect(readJson(join(s.dir, "kokochat-relay", `${relay.relayId}.json`)).gatewayUrl).toBe("ws://127.0.0.1:18789");
        expect(code.url).toStartWith(`wss://deeply.plus/relay/v1/gateway/${relay.relayId}?secret=`);
      },
      TEST_TIMEOUT_MS,
    );

    it(
      "pairs into a SQLite store named by OPENCLAW_STATE_DIR with backslashes, and leaves no -wal/-shm behind",
      async () => {
        using s = tempStateDir();
        const id = newIdentity();
        makeSqliteStore(s.dir, (db) => insertPaired(db, { device_id: "f".repeat(64), public_key: "k", created_at_ms: 1, approved_at_ms: 2 }));
        const r = await wine.run(["pair", "--no-connector", "--json", requestCode(id)], { env: { OPENCLAW_STATE_DIR: winPath(s.dir) } });
        expect(r.exitCode).toBe(0);
        const out = JSON.parse(r.stdout);
        expect(out).toMatchObject({
          ok: true,
          stateDir: winPath(s.dir),
          stateDirSource: "OPENCLAW_STATE_DIR",
          store: { backend: "sqlite", path: winPath(sqliteFile(s.dir)) },
          rotated: false,
        });
        // Before our own read below, which (read-only, WAL) makes side files of its own.
        expect(readdirSync(join(s.dir, "state"))).toEqual(["openclaw.sqlite"]);
        const rows = readPairedRows(s.dir);
        expect(rows.map((row) => row.device_id)).toEqual([id.deviceId, "f".repeat(64)].sort());
        const row = rows.find((x) => x.device_id === id.deviceId)!;
        expect(JSON.parse(String(row.tokens_json)).operator.token).toBe(tokenOf(r));
        expect(row.approved_via).toBe("owner");
      },
      TEST_TIMEOUT_MS,
    );

    it(
      "re-pairing the same device rotates its token, keeps createdAtMs and reuses the relay credentials (both stores)",
      async () => {
        using js = tempStateDir();
        using sq = tempStateDir();
        makeJsonStore(js.dir, {});
        makeSqliteStore(sq.dir);
        const twice = async (state: string, id: Identity) => {
          const first = await pair(state, ["--json", requestCode(id)]);
          const second = await pair(state, ["--json", requestCode(id)]);
          return [first, second] as const;
        };
        const [jsonId, sqliteId] = [newIdentity(), newIdentity()];
        const [[j1, j2], [q1, q2]] = await Promise.all([twice(js.dir, jsonId), twice(sq.dir, sqliteId)]);
        for (const [a, b] of [[j1, j2], [q1, q2]] as const) {
          expect([a.exitCode, b.exitCode]).toEqual([0, 0]);
          expect(JSON.parse(a.stdout).rotated).toBe(false);
          expect(JSON.parse(b.stdout).rotated).toBe(true);
          expect(tokenOf(b)).not.toBe(tokenOf(a));
          expect(JSON.parse(b.stdout).relay).toMatchObject({ id: JSON.parse(a.stdout).relay.id, minted: false });
        }
        const device = readJson(pairedFile(js.dir))[jsonId.deviceId];
        expect(device.tokens.operator.token).toBe(tokenOf(j2));
        expect(device.tokens.operator.rotatedAtMs).toBeGreaterThanOrEqual(device.tokens.operator.createdAtMs);
        const row = readPairedRows(sq.dir)[0]!;
        const token = JSON.parse(String(row.tokens_json)).operator;
        expect(token.token).toBe(tokenOf(q2));
        expect(token.rotatedAtMs).toBeGreaterThanOrEqual(Number(row.created_at_ms));
        expect(row.created_at_ms).toBeLessThanOrEqual(Number(row.approved_at_ms));
      },
      TEST_TIMEOUT_MS,
    );

    it(
      "reads the request from piped stdin and from KOKOCHAT_PAIRING_REQUEST (whole chat messages)",
      async () => {
        using s = tempStateDir();
        const [a, b] = [newIdentity(), newIdentity()];
        const [viaStdin, viaEnv] = await Promise.all([
          pair(s.dir, ["--json"], { stdin: chatMessage(requestCode(a)) }),
          pair(s.dir, ["--json"], { env: { KOKOCHAT_PAIRING_REQUEST: chatMessage(requestCode(b)) } }),
        ]);
        expect(JSON.parse(viaStdin.stdout)).toMatchObject({ ok: true, deviceId: a.deviceId });
        expect(JSON.parse(viaEnv.stdout)).toMatchObject({ ok: true, deviceId: b.deviceId });
        expect(Object.keys(readJson(pairedFile(s.dir))).sort()).toEqual([a.deviceId, b.deviceId].sort());
      },
      TEST_TIMEOUT_MS,
    );

    type BadCase = [exit: number, name: string, store: "json" | "sqlite", act: (state: string) => Promise<SpawnResult>, breakIt?: (state: string) => void];
    const other = newIdentity();
    const badCases: BadCase[] = [
      [64, "an unknown option", "json", (st) => pair(st, ["--bogus", requestCode(newIdentity())])],
      [64, "a bad --store value", "json", (st) => pair(st, ["--store", "mysql", requestCode(newIdentity())])],
      [65, "an invalid request", "json", (st) => pair(st, [encodeRequest(requestJson(newIdentity(), { role: "admin" }))])],
      [66, "no request in the message", "sqlite", (st) => pair(st, ["please pair me"])],
      [69, "a state dir that does not exist", "json", (st) => pair(join(st, "missing"), [requestCode(newIdentity())])],
      [69, "--store sqlite where the gateway has made no database", "json", (st) => pair(st, ["--store", "sqlite", requestCode(newIdentity())])],
      [77, "a device paired under another key (JSON)", "json", (st) => pair(st, [requestCode(other)])],
      [77, "a device paired under another key (SQLite)", "sqlite", (st) => pair(st, [requestCode(other)])],
      [77, "a plain ws:// relay off this machine", "json", (st) => pair(st, ["--relay-url", "ws://relay.example.com", requestCode(newIdentity())])],
      [78, "a paired.json that is not JSON", "json", (st) => pair(st, [requestCode(newIdentity())]), (st) => writeFileSync(pairedFile(st), "{ nope")],
      [78, "an openclaw.json that is not JSON5", "sqlite", (st) => pair(st, [requestCode(newIdentity())]), (st) => writeFileSync(join(st, "openclaw.json"), "{ gateway: ")],
      [78, "a state/openclaw.sqlite that is not a database", "json", (st) => pair(st, [requestCode(newIdentity())]), (st) => {
        mkdirSync(join(st, "state"));
        writeFileSync(sqliteFile(st), "this is not SQLite".repeat(100));
      }],
    ];

    it(
      "bad input: the documented exit code, one line on stderr, nothing on stdout, every file byte-identical",
      async () => {
        const outcomes = await inPool(
          badCases.map(([exit, name, store, act, breakIt]) => async () => {
            using s = tempStateDir();
            // Both stores hold `other` under a different key, so pairing `other` is refused (77).
            const otherKey = newIdentity().publicKeyB64;
            if (store === "json") makeJsonStore(s.dir, { [other.deviceId]: { deviceId: other.deviceId, publicKey: otherKey } });
            else makeSqliteStore(s.dir, (db) => insertPaired(db, { device_id: other.deviceId, public_key: otherKey, created_at_ms: 1, approved_at_ms: 1 }));
            breakIt?.(s.dir);
            const before = snapshot(s.dir);
            const r = await act(s.dir);
            return { name, expected: { exit, stdout: "", after: before }, got: { exit: r.exitCode, stdout: r.stdout, after: snapshot(s.dir) }, r };
          }),
        );
        for (const { name, expected, got, r } of outcomes) {
          expect({ name, ...got }).toEqual({ name, ...expected });
          expect(oneLine(r)).toHaveLength(1);
          expect(oneLine(r)[0]).toMatch(/^error: .+: .+/);
          expect(r.stderr).not.toMatch(/\bat .+:\d+:\d+|\.ts:\d+/);
        }
      },
      TEST_TIMEOUT_MS,
    );

    it(
      "--dry-run writes nothing at all and prints no code (both stores)",
      async () => {
        using js = tempStateDir();
        using sq = tempStateDir();
        makeJsonStore(js.dir, {});
        makeSqliteStore(sq.dir);
        const before = [snapshot(js.dir), snapshot(sq.dir)];
        const [j, q] = await Promise.all([pair(js.dir, ["--dry-run", "--json", requestCode(newIdentity())]), pair(sq.dir, ["--dry-run", requestCode(newIdentity())])]);
        expect(JSON.parse(j.stdout)).toMatchObject({ ok: true, dryRun: true, store: { backend: "json" } });
        expect(q).toMatchObject({ exitCode: 0, stdout: "" });
        expect([snapshot(js.dir), snapshot(sq.dir)]).toEqual(before);
      },
      TEST_TIMEOUT_MS,
    );

    it(
      "3 concurrent pairs into one store all land (JSON lock and SQLite BEGIN IMMEDIATE on Windows)",
      async () => {
        using js = tempStateDir();
        using sq = tempStateDir();
        makeJsonStore(js.dir, {});
        makeSqliteStore(sq.dir);
        const ids = Array.from({ length: 3 }, () => newIdentity());
        const runs = await Promise.all([
          ...ids.map((id) => pair(js.dir, [requestCode(id)])),
          ...ids.map((id) => pair(sq.dir, [requestCode(id)])),
        ]);
        expect(runs.map((r) => r.exitCode)).toEqual(Array(6).fill(0));
        const json = readJson(pairedFile(js.dir));
        const rows = readPairedRows(sq.dir);
        ids.forEach((id, i) => {
          expect(json[id.deviceId].tokens.operator.token).toBe(tokenOf(runs[i]!));
          expect(JSON.parse(String(rows.find((row) => row.device_id === id.deviceId)!.tokens_json)).operator.token).toBe(tokenOf(runs[3 + i]!));
        });
        expect(new Set(runs.map((r) => decodeSetupCode(r.stdout).relay.id)).size).toBe(2); // one relay id per state dir
        expect(readdirSync(join(js.dir, "devices"))).toEqual(["paired.json"]);
      },
      TEST_TIMEOUT_MS,
    );
  });

  describe("Windows paths and files", () => {
    it(
      "with no HOME (wine sets none, like Windows) the state dir is %USERPROFILE%\\.openclaw, and ~\\ expands to it",
      async () => {
        const profile = wine.profile();
        const home = join(profile.linux, ".openclaw");
        const tilde = join(profile.linux, "oc-tilde");
        try {
          makeJsonStore(home, {});
          makeJsonStore(tilde, {});
          const [a, b] = [newIdentity(), newIdentity()];
          const [byHome, byTilde] = await Promise.all([
            wine.run(["pair", "--no-connector", "--json", requestCode(a)]),
            wine.run(["pair", "--no-connector", "--json", requestCode(b)], { env: { OPENCLAW_STATE_DIR: "~\\oc-tilde" } }),
          ]);
          expect(JSON.parse(byHome.stdout)).toMatchObject({ ok: true, stateDir: `${profile.windows}\\.openclaw`, stateDirSource: "home" });
          expect(Object.keys(readJson(pairedFile(home)))).toEqual([a.deviceId]);
          expect(JSON.parse(byTilde.stdout)).toMatchObject({ ok: true, stateDir: `${profile.windows}\\oc-tilde`, stateDirSource: "OPENCLAW_STATE_DIR" });
          expect(Object.keys(readJson(pairedFile(tilde)))).toEqual([b.deviceId]);
        } finally {
          rmSync(home, { recursive: true, force: true });
          rmSync(tilde, { recursive: true, force: true });
        }
      },
      TEST_TIMEOUT_MS,
    );

    it(
      "takes forward slashes, a lower-case drive letter and a --state-dir relative to the working directory",
      async () => {
        using s = tempStateDir();
        const state = join(s.dir, "oc");
        makeJsonStore(state, {});
        const forward = `z:${state}/`;
        const [a, b, c] = [newIdentity(), newIdentity(), newIdentity()];
        const runs = await Promise.all([
          wine.run(["pair", "--no-connector", "--json", requestCode(a)], { env: { OPENCLAW_STATE_DIR: forward } }),
          wine.run(["pair", "--no-connector", "--json", "--state-dir", "oc", requestCode(b)], { cwd: s.dir }),
          wine.run(["pair", "--no-connector", "--json", "--state-dir", ".\\oc\\..\\oc", requestCode(c)], { cwd: s.dir }),
        ]);
        expect(runs.map((r) => r.exitCode)).toEqual([0, 0, 0]);
        expect(JSON.parse(runs[0]!.stdout).stateDir).toBe(`z:${state.replaceAll("/", "\\")}`);
        expect(JSON.parse(runs[1]!.stdout).stateDir).toBe(winPath(state));
        expect(JSON.parse(runs[2]!.stdout).stateDir).toBe(winPath(state));
        expect(Object.keys(readJson(pairedFile(state))).sort()).toEqual([a, b, c].map((i) => i.deviceId).sort());
      },
      TEST_TIMEOUT_MS,
    );

    it(
      "reads openclaw.env and openclaw.json written with CRLF line ends",
      async () => {
        using s = tempStateDir();
        makeJsonStore(s.dir, {});
        writeFileSync(
          join(s.dir, "openclaw.env"),
          '# from the old installer\r\nKOKOCHAT_RELAY_URL="https://relay.from-file.example/base/"\r\nexport OPENCLAW_GATEWAY_PORT=19000\r\n\r\n',
        );
        writeFileSync(join(s.dir, "openclaw.json"), "{\r\n  // JSON5\r\n  gateway: { port: 18800, },\r\n}\r\n");
        const r = await pair(s.dir, ["--json", requestCode(newIdentity())]);
        expect(r.exitCode).toBe(0);
        const out = JSON.parse(r.stdout);
        expect(out.relay.url).toBe("wss://relay.from-file.example/base");
        expect(readJson(join(s.dir, "kokochat-relay", `${out.relay.id}.json`)).gatewayUrl).toBe("ws://127.0.0.1:19000");
      },
      TEST_TIMEOUT_MS,
    );
  });

  describe("locks and held files between Windows processes", () => {
    const lockDir = (state: string) => join(state, "devices", "paired.json.kokochat-lock");

    it(
      "a lock left by a dead process is broken at once (process.kill(pid, 0) says it is gone)",
      async () => {
        using s = tempStateDir();
        makeJsonStore(s.dir, {});
        mkdirSync(lockDir(s.dir));
        writeFileSync(join(lockDir(s.dir), "owner.json"), JSON.stringify({ pid: 4_000_004, nonce: "dead" }));
        const r = await pair(s.dir, [requestCode(newIdentity())], { env: { KOKOCHAT_BUSY_TIMEOUT_MS: "10000" } });
        expect(r.exitCode).toBe(0);
        expect(r.ms).toBeLessThan(8000);
        expect(existsSync(lockDir(s.dir))).toBe(false);
      },
      TEST_TIMEOUT_MS,
    );

    it(
      "a live holder makes the next run say busy (75) with the store intact; killed, its lock is broken by the next run",
      async () => {
        using s = tempStateDir();
        makeJsonStore(s.dir, {});
        const holder = wine.spawn(["pair", "--no-connector", "--state-dir", winPath(s.dir), requestCode(newIdentity())], {
          env: { KOKOCHAT_TEST_HANG_AT: "json-locked" },
        });
        try {
          const reader = (holder.stderr as ReadableStream<Uint8Array>).getReader();
          let seen = "";
          const deadline = Date.now() + 30_000;
          while (!seen.includes("hanging at json-locked") && Date.now() < deadline) {
            const { value, done } = await reader.read();
            if (done) break;
            seen += new TextDecoder().decode(value);
          }
          expect(seen).toContain("hanging at json-locked");
          const owner = readJson(join(lockDir(s.dir), "owner.json"));
          expect(owner.pid).toBeGreaterThan(0);

          const before = snapshot(s.dir);
          const busy = await pair(s.dir, [requestCode(newIdentity())], { env: { KOKOCHAT_BUSY_TIMEOUT_MS: "1500" } });
          expect(busy.exitCode).toBe(75);
          expect(oneLine(busy)[0]).toContain("locked by another kokochat-pairing run");
          expect(snapshot(s.dir)).toEqual(before);
        } finally {
          holder.kill("SIGKILL");
          await holder.exited;
        }
        const id = newIdentity();
        const after = await pair(s.dir, [requestCode(id)], { env: { KOKOCHAT_BUSY_TIMEOUT_MS: "10000" } });
        expect(after.exitCode).toBe(0);
        expect(Object.keys(readJson(pairedFile(s.dir)))).toEqual([id.deviceId]);
        expect(existsSync(lockDir(s.dir))).toBe(false);
      },
      TEST_TIMEOUT_MS,
    );

    /** hold-open.exe keeps paired.json open (sharing read/write, not delete) for `ms`; resolves once it holds it. */
    async function holdOpen(path: string, ms: number) {
      const proc = wine.spawn([winPath(path), String(ms)], {}, join(wine.bin, "hold-open.exe"));
      const reader = proc.stdout.getReader();
      const { value } = await reader.read();
      reader.releaseLock();
      expect(new TextDecoder().decode(value)).toContain("held");
      return proc;
    }

    it(
      "a reader holding paired.json open for a moment: the rename is retried and the pair succeeds",
      async () => {
        using s = tempStateDir();
        makeJsonStore(s.dir, {});
        const holder = await holdOpen(pairedFile(s.dir), 1500);
        const id = newIdentity();
        const r = await pair(s.dir, [requestCode(id)]);
        await holder.exited;
        expect(r.exitCode).toBe(0);
        expect(readJson(pairedFile(s.dir))[id.deviceId].tokens.operator.token).toBe(tokenOf(r));
        expect(readdirSync(join(s.dir, "devices"))).toEqual(["paired.json"]);
      },
      TEST_TIMEOUT_MS,
    );

    it(
      "a reader that does not let go: busy (75) after a bounded wait, paired.json byte-identical, no temp file left",
      async () => {
        using s = tempStateDir();
        makeJsonStore(s.dir, { [foreignDevice.deviceId]: foreignDevice });
        const before = readFileSync(pairedFile(s.dir));
        const holder = await holdOpen(pairedFile(s.dir), 20_000);
        try {
          const r = await pair(s.dir, [requestCode(newIdentity())]);
          expect(r.exitCode).toBe(75);
          expect(oneLine(r)).toHaveLength(1);
          expect(oneLine(r)[0]).toContain("paired.json is held open by another program");
          expect(r.ms).toBeLessThan(15_000);
          expect(readFileSync(pairedFile(s.dir))).toEqual(before);
          expect(readdirSync(join(s.dir, "devices"))).toEqual(["paired.json"]);
        } finally {
          holder.kill("SIGKILL");
          await holder.exited;
        }
      },
      TEST_TIMEOUT_MS,
    );
  });
  describe("the relay connector (loopback relay and gateway on the Linux side)", () => {
    it(
      "`service install --dry-run` prints the logon task for this .exe and the schtasks commands; `service status` says none is installed",
      async () => {
        using s = tempStateDir();
        const r = await wine.run(["service", "install", "--dry-run", "--state-dir", winPath(s.dir)]);
        expect(r.exitCode).toBe(0);
        expect(r.stdout).toContain("<LogonTrigger>");
        expect(r.stdout).toMatch(/<Command>[A-Za-z]:\\.*kokochat-pairing[^<]*\.exe<\/Command>/);
        expect(r.stdout).toContain(`&quot;--state-dir&quot; &quot;${winPath(s.dir)}&quot;`);
        expect(r.stderr).toContain("schtasks /Create /XML");
        const status = await wine.run(["service", "status", "--state-dir", winPath(s.dir)]);
        expect(status.exitCode).toBe(0);
        expect(status.stdout).toBe("not running\n");
        // A real install, task dir redirected so schtasks is not run: wine 8's schtasks cannot register logon
        // tasks and may hang. It proves the Windows install is not refused for want of systemd.
        using units = tempStateDir();
        const installed = await wine.run(["service", "install", "--state-dir", winPath(s.dir)], { env: { KOKOCHAT_SERVICE_DIR: winPath(units.dir) } });
        expect(installed.exitCode).toBe(0);
        expect(installed.stderr).not.toContain("systemd");
        const xml = readFileSync(join(units.dir, "kokochat-relay-connector.xml"));
        expect([...xml.subarray(0, 2)]).toEqual([0xff, 0xfe]);
        expect(xml.subarray(2).toString("utf16le")).toContain("<LogonTrigger>");
        const refused = await wine.run(["service", "install", "--dry-run", "--state-dir", winPath(s.dir)], { env: { OPENCLAW_GATEWAY_PORT: "19000" } });
        expect(refused.exitCode).toBe(64);
        expect(refused.stderr).toContain("gateway.port");
      },
      TEST_TIMEOUT_MS,
    );

    it(
      "`connector --config Z:\\…` pipes a phone's frames to the gateway and back",
      async () => {
        using s = tempStateDir();
        const gateway = new EchoGateway();
        const relay = new TestRelay();
        const config = join(s.dir, `${relay.relayId}.json`);
        writeFileSync(config, relay.connectorConfigJson(gateway.url));
        const proc = wine.spawn(["connector", "--config", winPath(config)]);
        try {
          await relay.waitForConnector();
          const phone = await Phone.connect(relay.phoneUrl);
          phone.send("hello from the phone");
          expect(await phone.next()).toBe("hello from the phone");
          phone.close();
          expect(relay.connectorConnections).toBe(1);
        } finally {
          proc.kill("SIGKILL");
          await proc.exited;
          relay.stop();
          gateway.stop();
        }
      },
      TEST_TIMEOUT_MS,
    );

    it(
      "pair starts one detached connector, the next pair finds it running, and the setup code reaches the gateway",
      async () => {
        using s = tempStateDir();
        makeJsonStore(s.dir, {});
        const gateway = new EchoGateway();
        const relay = new TestRelay();
        mkdirSync(join(s.dir, "kokochat-relay"));
        writeFileSync(
          join(s.dir, "kokochat-relay", "relay.json"),
          relay.credentialsJson(),
        );
        const env = { KOKOCHAT_SKIP_RELAY_CONNECTOR_START: undefined, KOKOCHAT_LOCAL_GATEWAY_URL: gateway.url };
        const pairOnce = () => wine.run(["pair", "--json", "--state-dir", winPath(s.dir), "--relay-url", relay.url, requestCode(newIdentity())], { env, stderrFile: true });
        let connectorPid: number | undefined;
        try {
          const first = await pairOnce();
          expect(first.exitCode).toBe(0);
          expect(JSON.parse(first.stdout).connector).toBe("started");
          connectorPid = readPidFile(pidPath(s.dir, relay.relayId))?.pid;
          expect(connectorPid).toBeGreaterThan(0);
          await relay.waitForConnector();
          const second = await pairOnce();
          expect(second.exitCode).toBe(0);
          expect(JSON.parse(second.stdout).connector).toBe("running");
          expect(relay.connectorConnections).toBe(1);
          const phone = await Phone.connect(decodeSetupCode(JSON.parse(second.stdout).setupCode).url);
          phone.send("hello through the tunnel");
          expect(await phone.next()).toBe("hello through the tunnel");
          phone.close();
        } finally {
          if (connectorPid) await wine.taskkill(connectorPid).catch(() => {});
          relay.stop();
          gateway.stop();
        }
      },
      TEST_TIMEOUT_MS,
    );
  });
});
