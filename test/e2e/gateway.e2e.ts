/**
 * End to end against the real OpenClaw gateway (issue 3, SPEC §6): a pairing
 * is right only when the real gateway accepts the phone's signed connect.
 *
 * For each OpenClaw version: install it (cached under .cache/e2e), start a
 * gateway on 127.0.0.1, pair fresh phone identities with the BUILT binary
 * (`pair --no-connector --state-dir <gateway state>`) while it runs, and
 * connect as the phone does — first try, no gateway restart.
 *
 *   bun run test:e2e        (= bun test ./test/e2e/gateway.e2e.ts)
 *
 * No secret (device token, gateway token) is ever printed: assertions here
 * compare tokens without showing them.
 */
import { afterAll, beforeAll, describe, it } from "bun:test";
import { Database } from "bun:sqlite";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { mkdirSync, writeFileSync } from "node:fs";
import { pidPath, readPidFile, stopRecordedConnectors } from "../../src/relay/supervisor.ts";
import { binary, run } from "../support/binary.ts";
import { stopAll, track } from "../support/processes.ts";
import { TestRelay } from "../support/relay.ts";
import { ensureOpenclaw, OPENCLAW_VERSIONS, removeGatewayDir, startGateway, type Gateway, type Installed } from "../support/openclaw.ts";
import { connectPhone, describeResult, readSetupCode, type ConnectOptions, type ConnectResult } from "../support/phone.ts";
import { DEFAULT_SCOPES, newIdentity, requestCode, type Identity, type PhoneClient } from "../support/requests.ts";

const suiteStarted = performance.now();
const totals = { passed: 0, failed: 0 };

/** Every token this suite has seen; a line that would show one shows <redacted> instead. */
const secrets = new Set<string>();
const redact = (text: string) => {
  for (const secret of secrets) text = text.replaceAll(secret, "<redacted>");
  return text;
};
const say = (line: string) => process.stdout.write(`${redact(line)}\n`);

/** A check: one line when it ends, counted in the totals. Failure messages never carry a secret. */
function check(name: string, fn: () => Promise<string | void>, timeoutMs = 60_000) {
  it(
    name,
    async () => {
      const t0 = performance.now();
      try {
        const note = await fn();
        totals.passed++;
        say(`  ok    ${name}${note ? ` — ${note}` : ""} (${Math.round(performance.now() - t0)} ms)`);
      } catch (error) {
        totals.failed++;
        const message = redact(error instanceof Error ? error.message : String(error));
        say(`  FAIL  ${name}: ${message}`);
        throw new Error(message); // bun prints this one: redacted, without the original's values
      }
    },
    timeoutMs,
  );
}

function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

/** the concurrency check: sockets the already-paired phone reconnects on, and the window the 20 pairings start in */
const RECONNECT_SOCKETS = 3;
const PAIRING_SPREAD_MS = 3_000;

const LIMITED_SCOPES = DEFAULT_SCOPES.filter((s) => s !== "operator.admin");
const TOKEN_REFUSALS = ["AUTH_TOKEN_MISMATCH", "AUTH_DEVICE_TOKEN_MISMATCH"];

const detailCode = (r: ConnectResult) => ("error" in r ? String(r.error.details?.code ?? r.error.code ?? "") : "");

function expectHello(r: ConnectResult, what: string, scopes: readonly string[] = DEFAULT_SCOPES): string {
  assert(r.ok, `${what}: expected hello-ok, got ${describeResult(r)}`);
  assert(r.role === "operator", `${what}: hello-ok role ${r.role}, expected operator`);
  const want = [...scopes].sort().join(",");
  assert(r.scopes.join(",") === want, `${what}: hello-ok scopes ${r.scopes.join(",")}, expected ${want}`);
  return `hello-ok in ${r.ms} ms`;
}

function expectRefused(r: ConnectResult, what: string, codes?: string[]): string {
  assert(!r.ok, `${what}: expected a refusal, got hello-ok`);
  assert("error" in r || "closed" in r, `${what}: expected a refusal, got ${describeResult(r)}`);
  if (codes) assert(codes.includes(detailCode(r)), `${what}: expected ${codes.join(" or ")}, got ${describeResult(r)}`);
  return `refused ${detailCode(r) || describeResult(r)}`;
}

type Paired = { identity: Identity; token: string; deviceId: string; url: string; stderr: string; ms: number };

/** Run the built binary as the agent's skill would, while the gateway runs. */
async function pairWithBinary(
  gateway: Gateway,
  identity: Identity,
  extra: string[] = [],
  client?: PhoneClient,
  env?: Record<string, string | undefined>,
): Promise<Paired> {
  const request = requestCode(identity, client ? { client } : {});
  const t0 = performance.now();
  const withConnector = extra.includes("--relay-url");
  const r = await run(["pair", ...(withConnector ? [] : ["--no-connector"]), "--state-dir", gateway.stateDir, ...extra, request], env ? { env } : {});
  const lines = r.stdout.split("\n").filter(Boolean);
  let setup: ReturnType<typeof readSetupCode> | undefined;
  try {
    if (lines.length === 1) setup = readSetupCode(lines[0]!);
  } catch {}
  if (setup) {
    secrets.add(setup.deviceToken);
    secrets.add(lines[0]!);
  }
  // Never echo stdout (it is the secret) and check stderr before showing it.
  if (setup && r.stderr.includes(setup.deviceToken)) throw new Error("pair printed the device token on stderr");
  if (r.stderr.includes(gateway.secret)) throw new Error("pair printed the gateway's auth token on stderr");
  assert(r.exitCode === 0, `pair exited ${r.exitCode}: ${r.stderr.trim().split("\n").slice(-3).join(" | ")}`);
  assert(lines.length === 1, `pair printed ${lines.length} lines on stdout, expected exactly one (the setup code)`);
  assert(setup, "pair's stdout is not a setup code (SPEC §5)");
  assert(setup.deviceId === identity.deviceId, "setup code deviceId differs from the phone's deviceId");
  assert(/^[A-Za-z0-9_-]{43}$/.test(setup.deviceToken), "setup code deviceToken is not base64url of 32 bytes");
  assert(!setup.url.includes(`:${gateway.port}`), "setup code carries the direct gateway URL");
  assert(!JSON.stringify(setup).includes(gateway.secret), "setup code carries the gateway's shared auth token");
  return { identity, token: setup.deviceToken, deviceId: setup.deviceId, url: setup.url, stderr: r.stderr, ms: Math.round(performance.now() - t0) };
}

const connect = (gateway: Gateway, options: ConnectOptions) => connectPhone(gateway.url, { timeoutMs: 30_000, ...options });

type StoredDevice = { publicKey: string; token?: string; scopes: string[]; tokenScopes: string[]; createdAtMs?: number; rotatedAtMs?: number; approvedVia?: string };

/** The device as the gateway's own store holds it (SQLite on 2026.7+, JSON before). */
function readStored(gateway: Gateway, deviceId: string): StoredDevice | undefined {
  const sqlite = join(gateway.stateDir, "state", "openclaw.sqlite");
  if (gateway.store === "sqlite") {
    const db = new Database(sqlite, { readonly: true });
    try {
      const row = db.query("SELECT * FROM device_pairing_paired WHERE device_id = ?").get(deviceId) as Record<string, any> | null;
      if (!row) return undefined;
      const op = JSON.parse(row.tokens_json ?? "{}").operator ?? {};
      return {
        publicKey: row.public_key,
        token: op.token,
        scopes: JSON.parse(row.approved_scopes_json ?? row.scopes_json ?? "[]"),
        tokenScopes: op.scopes ?? [],
        createdAtMs: op.createdAtMs,
        rotatedAtMs: op.rotatedAtMs,
        approvedVia: row.approved_via,
      };
    } finally {
      db.close();
    }
  }
  const file = join(gateway.stateDir, "devices", "paired.json");
  if (!existsSync(file)) return undefined;
  const entry = JSON.parse(readFileSync(file, "utf8"))[deviceId];
  if (!entry) return undefined;
  const op = entry.tokens?.operator ?? {};
  return {
    publicKey: entry.publicKey,
    token: op.token,
    scopes: entry.approvedScopes ?? entry.scopes ?? [],
    tokenScopes: op.scopes ?? [],
    createdAtMs: op.createdAtMs,
    rotatedAtMs: op.rotatedAtMs,
  };
}

// Start both installs and the binary build at once; each describe awaits its own.
const installing = new Map<string, Promise<Installed>>(
  OPENCLAW_VERSIONS.map((version) => [
    version,
    ensureOpenclaw(version, (r) =>
      say(`[${r.version}] install: ${r.npmInstalled.length ? `npm installed ${r.npmInstalled.join(" + ")}` : "reused from .cache/e2e"} in ${(r.ms / 1000).toFixed(1)} s`),
    ),
  ]),
);
const building = binary();
for (const p of [...installing.values(), building]) p.catch(() => {}); // awaited below

afterAll(() => {
  say(`e2e: ${totals.passed} passed, ${totals.failed} failed (suite ${((performance.now() - suiteStarted) / 1000).toFixed(1)} s)`);
});

for (const version of OPENCLAW_VERSIONS) {
  describe(`OpenClaw ${version}`, () => {
    let gateway: Gateway;
    let first: Paired;
    const failedBefore = () => totals.failed;
    let failuresAtStart = 0;

    beforeAll(async () => {
      failuresAtStart = failedBefore();
      const installed = await installing.get(version)!;
      await building;
      gateway = await startGateway(installed);
      secrets.add(gateway.secret);
      say(`[${version}] gateway on 127.0.0.1:${gateway.port}: /readyz after ${(gateway.readyzMs / 1000).toFixed(1)} s, ready for connects after ${(gateway.startMs / 1000).toFixed(1)} s (store: ${gateway.store}${gateway.droppedConfigKeys.length ? `; config keys this version lacks, not written: ${gateway.droppedConfigKeys.join(", ")}` : ""})`);
      // A warming-up gateway may hold the first connects: wait until a connect gets a real answer.
      const t0 = performance.now();
      const probe = newIdentity();
      for (;;) {
        const r = await connect(gateway, { identity: probe, token: "x".repeat(43), timeoutMs: 20_000 });
        if ("error" in r && r.error.details?.reason !== "startup-sidecars" && r.error.code !== "UNAVAILABLE") break;
        if (performance.now() - t0 > 60_000) throw new Error(`gateway ${version} never answered a connect: ${describeResult(r)}`);
        await Bun.sleep(500);
      }
      say(`[${version}] gateway answers connects after a further ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    }, 300_000);

    afterAll(async () => {
      if (!gateway) return;
      await stopRecordedConnectors(gateway.stateDir).catch(() => {}); // any connector a pairing started
      await gateway.stop();
      const failed = totals.failed > failuresAtStart;
      if (failed) say(`[${version}] gateway stopped; its logs are kept in ${gateway.dir}`);
      else removeGatewayDir(gateway);
    }, 30_000);

    check(`[${version}] an unpaired phone is refused`, async () => {
      const stranger = newIdentity();
      return expectRefused(await connect(gateway, { identity: stranger, token: "A".repeat(43) }), "unpaired phone", TOKEN_REFUSALS);
    });

    check(`[${version}] a pairing made by the binary is accepted on the phone's first connect (v3 signature)`, async () => {
      first = await pairWithBinary(gateway, newIdentity());
      return `pair ${first.ms} ms; ${expectHello(await connect(gateway, { identity: first.identity, token: first.token }), "first connect")}`;
    });

    check(`[${version}] the pairing is in the store this gateway reads`, async () => {
      assert(first, "needs the first pairing");
      const stored = readStored(gateway, first.deviceId);
      assert(stored, `device not found in the ${gateway.store} store`);
      assert(stored.publicKey === first.identity.publicKeyB64, "stored public key differs from the phone's");
      assert(stored.token === first.token, "stored operator token differs from the setup code's");
      assert([...stored.scopes].sort().join(",") === [...DEFAULT_SCOPES].sort().join(","), `stored scopes ${stored.scopes.join(",")}`);
      if (gateway.store === "sqlite") {
        assert(stored.approvedVia === "owner", `approved_via ${stored.approvedVia}, expected owner`);
        assert(!existsSync(join(gateway.stateDir, "devices", "paired.json")), "wrote devices/paired.json, which this gateway ignores");
      } else {
        assert(!existsSync(join(gateway.stateDir, "state", "openclaw.sqlite")), "created state/openclaw.sqlite on a JSON-era gateway");
      }
      assert(/sqlite|json/i.test(first.stderr), "pair's stderr does not say which store it wrote");
      return `${gateway.store} store`;
    });

    check(`[${version}] the v2 signed payload is accepted too`, async () => {
      assert(first, "needs the first pairing");
      return expectHello(await connect(gateway, { identity: first.identity, token: first.token, payload: "v2" }), "v2 connect");
    });

    check(`[${version}] an Android phone (openclaw-android, with deviceFamily) pairs and connects too`, async () => {
      const android: PhoneClient = { id: "openclaw-android", version: "0.0.1", platform: "android", mode: "ui", displayName: "KokoChat", deviceFamily: "Android" };
      const identity = newIdentity();
      const paired = await pairWithBinary(gateway, identity, [], android);
      return expectHello(await connect(gateway, { identity, token: paired.token, client: android }), "android connect");
    });

    check(`[${version}] a wrong token is refused`, async () => {
      assert(first, "needs the first pairing");
      const wrong = `${first.token.slice(0, -4)}${first.token.endsWith("AAAA") ? "BBBB" : "AAAA"}`;
      return expectRefused(await connect(gateway, { identity: first.identity, token: wrong }), "wrong token", TOKEN_REFUSALS);
    });

    check(`[${version}] the same token presented by another identity is refused`, async () => {
      assert(first, "needs the first pairing");
      const thief = newIdentity();
      return expectRefused(await connect(gateway, { identity: thief, token: first.token }), "token under another identity", TOKEN_REFUSALS);
    });

    check(`[${version}] a forged signature is refused`, async () => {
      assert(first, "needs the first pairing");
      const forger = newIdentity();
      return expectRefused(
        await connect(gateway, { identity: first.identity, token: first.token, signWith: forger.secretKey }),
        "forged signature",
        ["DEVICE_AUTH_SIGNATURE_INVALID"],
      );
    });

    check(`[${version}] re-pairing rotates the token: the old one is refused, the new one accepted`, async () => {
      const identity = newIdentity();
      const before = await pairWithBinary(gateway, identity);
      expectHello(await connect(gateway, { identity, token: before.token }), "before re-pairing");
      const created = readStored(gateway, identity.deviceId)?.createdAtMs;
      const after = await pairWithBinary(gateway, identity);
      assert(after.token !== before.token, "re-pairing printed the same token");
      const old = expectRefused(await connect(gateway, { identity, token: before.token }), "old token after re-pairing", TOKEN_REFUSALS);
      const fresh = expectHello(await connect(gateway, { identity, token: after.token }), "new token after re-pairing");
      const stored = readStored(gateway, identity.deviceId);
      assert(stored?.createdAtMs === created, "re-pairing changed the token's createdAtMs");
      assert(typeof stored?.rotatedAtMs === "number", "re-pairing did not set rotatedAtMs");
      return `re-pair ${after.ms} ms; old ${old}; new ${fresh}`;
    });

    check(`[${version}] revoke: the phone's next connect is refused, and a new pair lets it back in`, async () => {
      const identity = newIdentity();
      const paired = await pairWithBinary(gateway, identity);
      expectHello(await connect(gateway, { identity, token: paired.token }), "before revoking");
      const t0 = performance.now();
      const r = await run(["revoke", "--yes", "--state-dir", gateway.stateDir, identity.deviceId.slice(0, 12)]);
      const revokeMs = Math.round(performance.now() - t0);
      assert(r.exitCode === 0, `revoke exited ${r.exitCode}: ${r.stderr.trim().split("\n").slice(-1)[0]}`);
      assert(r.stdout === `${identity.deviceId}\n`, "revoke's stdout is not the full device id");
      assert(!r.stderr.includes(paired.token) && !r.stdout.includes(paired.token), "revoke printed the device token");
      const refused = expectRefused(await connect(gateway, { identity, token: paired.token }), "the revoked token");
      const again = await pairWithBinary(gateway, identity);
      const back = expectHello(await connect(gateway, { identity, token: again.token }), "after pairing again");
      return `revoke ${revokeMs} ms; revoked token ${refused}; re-paired ${back}`;
    });

    check(`[${version}] devices lists the phone from the store this gateway reads, with the gateway's last-use stamp and no token`, async () => {
      const identity = newIdentity();
      const paired = await pairWithBinary(gateway, identity);
      expectHello(await connect(gateway, { identity, token: paired.token }), "before listing");
      const r = await run(["devices", "--json", "--state-dir", gateway.stateDir]);
      assert(r.exitCode === 0, `devices exited ${r.exitCode}`);
      for (const secret of [paired.token, gateway.secret]) assert(!r.stdout.includes(secret) && !r.stderr.includes(secret), "devices printed a secret");
      const listed = (JSON.parse(r.stdout).devices as { deviceId: string; token: string; lastUsedAtMs?: number; kokochat: boolean }[]).find((d) => d.deviceId === identity.deviceId);
      assert(listed, "the paired phone is not listed");
      assert(listed.kokochat && listed.token === "active", `listed as ${listed.token}, kokochat ${listed.kokochat}`);
      assert(typeof listed.lastUsedAtMs === "number", "the gateway's last-use stamp is not shown");
      return `listed, token ${listed.token}, last used ${Date.now() - listed.lastUsedAtMs} ms ago`;
    });

    check(`[${version}] doctor finds the store, the devices, their permissions and the gateway's port healthy`, async () => {
      const r = await run(["doctor", "--json", "--state-dir", gateway.stateDir]);
      assert(!r.stdout.includes(gateway.secret) && !r.stderr.includes(gateway.secret), "doctor printed the gateway's token");
      const checks = JSON.parse(r.stdout).checks as { check: string; status: string; summary: string }[];
      const status = (name: string) => checks.filter((c) => c.check === name).map((c) => c.status);
      for (const name of ["store", "devices", "gateway", "permissions"]) assert(status(name).includes("ok") && !status(name).includes("problem"), `doctor's ${name} check: ${status(name).join(",") || "missing"}`);
      return checks.map((c) => `${c.check} ${c.status}`).join("; ");
    });

    check(`[${version}] --limited grants no operator.admin`, async () => {
      const identity = newIdentity();
      const limited = await pairWithBinary(gateway, identity, ["--limited"]);
      const stored = readStored(gateway, identity.deviceId);
      assert(stored && !stored.scopes.includes("operator.admin") && !stored.tokenScopes.includes("operator.admin"), "store grants operator.admin");
      const hello = expectHello(await connect(gateway, { identity, token: limited.token, scopes: LIMITED_SCOPES }), "limited phone asking for the four scopes", LIMITED_SCOPES);
      const admin = await connect(gateway, { identity, token: limited.token, scopes: ["operator.admin"] });
      assert(!admin.ok || !admin.scopes.includes("operator.admin"), "a --limited device obtained operator.admin");
      const all = await connect(gateway, { identity, token: limited.token });
      assert(!all.ok || !all.scopes.includes("operator.admin"), "a --limited device obtained operator.admin");
      return `pair --limited ${limited.ms} ms; four scopes: ${hello}; asking for admin: ${describeResult(admin).split(":")[0]}; asking for all five: ${describeResult(all).split(":")[0]}`;
    });

    check(
      `[${version}] 20 parallel pairings while a paired phone keeps reconnecting: all 21 get hello-ok`,
      async () => {
        const busy = await pairWithBinary(gateway, newIdentity());
        // The paired phone reconnects over and over (on a quiet machine a connect is quick, so it uses a few
        // sockets at once to keep the gateway rewriting its table), and the 20 pairings start spread over
        // a few seconds so they overlap those rewrites whatever the machine's speed.
        let stop = false;
        // `dropped`: the gateway closed the socket without answering. 2026.9.6 does this, rarely, when its
        // device cache is swapped in the middle of a connect ("Device pairing read publication was
        // replaced" in its log); the phone simply connects again. A refusal (an error answer) is a failure.
        const loop = { ok: 0, refused: [] as string[], dropped: [] as string[] };
        const reconnecting = Promise.all(
          Array.from({ length: RECONNECT_SOCKETS }, async () => {
            while (!stop) {
              const r = await connect(gateway, { identity: busy.identity, token: busy.token });
              if (r.ok) loop.ok++;
              else if ("closed" in r) loop.dropped.push(describeResult(r));
              else loop.refused.push(describeResult(r));
            }
          }),
        );
        while (loop.ok + loop.refused.length + loop.dropped.length < RECONNECT_SOCKETS) await Bun.sleep(20);
        const t0 = performance.now();
        const identities = Array.from({ length: 20 }, () => newIdentity());
        let paired: Paired[];
        try {
          const settled = await Promise.allSettled(
            identities.map(async (identity) => {
              await Bun.sleep(Math.random() * PAIRING_SPREAD_MS);
              return pairWithBinary(gateway, identity);
            }),
          );
          const failures = settled.filter((s): s is PromiseRejectedResult => s.status === "rejected").map((s) => (s.reason as Error).message);
          assert(failures.length === 0, `${failures.length} of 20 parallel pairings failed: ${[...new Set(failures)].join(" / ")}`);
          paired = settled.map((s) => (s as PromiseFulfilledResult<Paired>).value);
        } finally {
          stop = true;
          await reconnecting;
        }
        const pairMs = Math.round(performance.now() - t0);
        if (loop.refused.length > 0) throw new Error(`the reconnecting phone was refused ${loop.refused.length} times during the pairings: ${loop.refused[0]}`);
        assert(loop.dropped.length * 10 <= loop.ok, `the gateway dropped ${loop.dropped.length} of the reconnecting phone's connects (${loop.ok} succeeded): ${loop.dropped[0]}`);
        // Then every phone connects once, first try (one after another: this is about the pairings, not gateway load).
        const everyone = [busy, ...paired];
        const problems: string[] = [];
        for (const [i, p] of everyone.entries()) {
          const r = await connect(gateway, { identity: p.identity, token: p.token });
          if (r.ok) {
            try {
              expectHello(r, `phone ${i}`);
            } catch (error) {
              problems.push((error as Error).message);
            }
            continue;
          }
          const stored = readStored(gateway, p.deviceId);
          const why = !stored ? "device missing from the store (its write was lost)" : stored.token !== p.token ? "store holds another token than the setup code (its write was lost)" : "store entry is right";
          problems.push(`phone ${i}: ${describeResult(r).split(":")[0]} — ${why}`);
        }
        if (problems.length > 0) throw new Error(`${problems.length} of 21 phones refused after the parallel pairings: ${problems.join("; ")}`);
        return `20 pairings (started over ${PAIRING_SPREAD_MS / 1000} s) done in ${(pairMs / 1000).toFixed(1)} s alongside ${loop.ok} reconnects on ${RECONNECT_SOCKETS} sockets${loop.dropped.length > 0 ? ` (${loop.dropped.length} dropped by the gateway without an answer, then retried)` : ""}; 21/21 hello-ok`;
      },
      180_000,
    );

    check(`[${version}] through the relay tunnel: pair starts its connector, and the phone's connect via the setup code's URL gets hello-ok`, async () => {
      // A loopback relay (SPEC §4) whose credentials an earlier pairing would have left; the binary
      // starts its own connector, which finds the gateway from the real openclaw.json.
      const b64 = (n: number) => Buffer.from(crypto.getRandomValues(new Uint8Array(n))).toString("base64url");
      const relay = new TestRelay();
      secrets.add(relay.relaySecret);
      try {
        mkdirSync(join(gateway.stateDir, "kokochat-relay"), { recursive: true, mode: 0o700 });
        writeFileSync(
          join(gateway.stateDir, "kokochat-relay", "relay.json"),
          relay.credentialsJson(Date.now()),
          { mode: 0o600 },
        );
        const identity = newIdentity();
        const paired = await pairWithBinary(gateway, identity, ["--relay-url", relay.url], undefined, { KOKOCHAT_SKIP_RELAY_CONNECTOR_START: undefined });
        const record = readPidFile(pidPath(gateway.stateDir, relay.relayId));
        if (record) track(record.pid);
        assert(paired.url.startsWith(`${relay.url}/v1/gateway/`), "setup code URL is not the relay's phone URL");
        await relay.waitForConnector(20_000);
        return `pair ${paired.ms} ms; via relay: ${expectHello(await connectPhone(paired.url, { identity, token: paired.token, timeoutMs: 30_000 }), "connect through the relay")}`;
      } finally {
        await stopAll();
        relay.stop();
      }
    });
  });
}
