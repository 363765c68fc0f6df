import { describe, expect, it } from "bun:test";
import { mkdirSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { binary, run, type RunResult } from "./support/binary.ts";
import { chatMessage, decodeSetupCode, encodeRequest, newIdentity, requestCode, requestJson } from "./support/requests.ts";
import { makeJsonStore, makeSqliteStore, readJson, snapshot, tempStateDir } from "./support/stores.ts";
import { HOSTILE_STRINGS } from "./vectors/hostile.ts";
import pkg from "../package.json" with { type: "json" };

const pair = (state: string, args: string[], options: Parameters<typeof run>[1] = {}) =>
  run(["pair", "--no-connector", "--state-dir", state, ...args], options);

/** Every secret a run could leak: device token, relay secret. */
function secretsOf(state: string, r: RunResult): string[] {
  const secrets: string[] = [];
  const line = r.stdout.trim();
  if (line.startsWith("{")) {
    const out = JSON.parse(line);
    if (out.setupCode) secrets.push(decodeSetupCode(out.setupCode).deviceToken);
  } else if (line) secrets.push(decodeSetupCode(line).deviceToken);
  if (existsSync(join(state, "kokochat-relay", "relay.json"))) secrets.push(readJson(join(state, "kokochat-relay", "relay.json")).relaySecret);
  return secrets;
}

describe("output discipline", () => {
  it("prints exactly one line on stdout, the setup code, and people's text on stderr", async () => {
    using s = tempStateDir();
    const r = await pair(s.dir, [requestCode(newIdentity())]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^[A-Za-z0-9_-]+\n$/);
    expect(r.stderr).toContain("Paired KokoChat");
  });

  it("--json prints exactly one JSON object whose only secret is setupCode", async () => {
    using s = tempStateDir();
    const id = newIdentity();
    const r = await pair(s.dir, ["--json", requestCode(id)]);
    expect(r.stdout.trim().split("\n")).toHaveLength(1);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ ok: true, deviceId: id.deviceId, role: "operator", connector: "skipped", store: { backend: "json" } });
    const { setupCode, ...rest } = out;
    for (const secret of secretsOf(s.dir, r)) expect(JSON.stringify(rest)).not.toContain(secret);
  });

  it("--json on failure prints one JSON error object and the exit code", async () => {
    using s = tempStateDir();
    const r = await pair(s.dir, ["--json", "nothing here"]);
    expect(r.exitCode).toBe(66);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, error: { code: "no-request", exit: 66 } });
  });

  it("never shows a token or relay secret on stderr, on success or on re-pair", async () => {
    using s = tempStateDir();
    const id = newIdentity();
    const runs = [await pair(s.dir, [requestCode(id)]), await pair(s.dir, [requestCode(id)]), await pair(s.dir, ["--json", requestCode(id)])];
    expect(runs.map((r) => r.exitCode)).toEqual([0, 0, 0]);
    for (const r of runs) {
      expect(secretsOf(s.dir, r)).toHaveLength(2); // the device token and the relay secret: there is something to look for
      for (const secret of secretsOf(s.dir, r)) expect(r.stderr).not.toContain(secret);
    }
  });

  it("colours stderr only on a terminal and never with NO_COLOR", async () => {
    using s = tempStateDir();
    const bin = await binary();
    // `script` gives the binary a pseudo-terminal; its transcript holds what the terminal showed.
    const onTty = (noColor: string) =>
      Bun.spawn(["script", "-qec", `${bin} pair --no-connector --state-dir ${s.dir} nothing-here`, "/dev/null"], {
        env: { PATH: process.env.PATH!, HOME: process.env.HOME!, TERM: "xterm", ...(noColor && { NO_COLOR: noColor }) },
        stdout: "pipe",
      });
    expect(await new Response(onTty("").stdout).text()).toContain("\x1b[31merror:");
    expect(await new Response(onTty("1").stdout).text()).not.toContain("\x1b[");
    const piped = await pair(s.dir, ["nothing-here"], { env: { NO_COLOR: undefined } });
    expect(piped.stderr).toStartWith("error:");
  });

  it("--version prints the version, --help the usage with the exit codes", async () => {
    expect((await run(["--version"])).stdout).toBe(`${pkg.version}\n`);
    const help = await run(["--help"]);
    expect(help.exitCode).toBe(0);
    expect(help.stdout).toContain("--dry-run");
    expect(help.stdout).toContain("77 refused");
  });
});

describe("input sources", () => {
  it("reads the request from KOKOCHAT_PAIRING_REQUEST before arguments", async () => {
    using s = tempStateDir();
    const id = newIdentity();
    const r = await pair(s.dir, ["--json", requestCode(newIdentity())], { env: { KOKOCHAT_PAIRING_REQUEST: chatMessage(requestCode(id)) } });
    expect(JSON.parse(r.stdout).deviceId).toBe(id.deviceId);
  });

  it("reads a whole chat message from piped stdin", async () => {
    using s = tempStateDir();
    const id = newIdentity();
    const r = await pair(s.dir, ["--json"], { stdin: chatMessage(requestCode(id)) });
    expect(r.exitCode).toBe(0);
    expect(JSON.parse(r.stdout).deviceId).toBe(id.deviceId);
  });

  it("refuses more than 1 MiB of input before parsing (65)", async () => {
    using s = tempStateDir();
    const r = await pair(s.dir, [], { stdin: `${requestCode(newIdentity())} ${"x".repeat(1024 * 1024)}` });
    expect(r.exitCode).toBe(65);
    expect(r.stderr).toContain("larger than 1 MiB");
  });

  it("says there is no request (66) when nothing is given", async () => {
    using s = tempStateDir();
    expect((await pair(s.dir, [], { stdin: "" })).exitCode).toBe(66);
    expect((await pair(s.dir, [])).exitCode).toBe(66);
  });
});

describe("exit codes (README table)", () => {
  const cases: [number, string, (state: string) => Promise<RunResult>][] = [
    [64, "an unknown option", (st) => pair(st, ["--bogus", requestCode(newIdentity())])],
    [64, "a bad --store value", (st) => pair(st, ["--store", "mysql", requestCode(newIdentity())])],
    [64, "a relay URL that is not ws(s)/http(s)", (st) => pair(st, ["--relay-url", "ftp://x", requestCode(newIdentity())])],
    [65, "an invalid request", (st) => pair(st, [encodeRequest(requestJson(newIdentity(), { role: "admin" }))])],
    [66, "no request in the message", (st) => pair(st, ["please pair me"])],
    [69, "a state dir that does not exist", (st) => pair(join(st, "missing"), [requestCode(newIdentity())])],
    [77, "a plain ws:// relay off this machine", (st) => pair(st, ["--relay-url", "ws://relay.example.com", requestCode(newIdentity())])],
    [78, "an openclaw.json that is not JSON5", (st) => pair(st, [requestCode(newIdentity())])],
  ];
  for (const [exit, name, act] of cases) {
    it(`${exit}: ${name}, one line on stderr, no stack trace, no file changed`, async () => {
      using s = tempStateDir();
      makeJsonStore(s.dir, { keep: { deviceId: "keep", publicKey: "k" } });
      if (exit === 78) writeFileSync(join(s.dir, "openclaw.json"), "{ gateway: ");
      const setup = snapshot(s.dir);
      const r = await act(s.dir);
      expect(r.exitCode).toBe(exit);
      expect(r.stdout).toBe("");
      const lines = r.stderr.trim().split("\n");
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^error: .+: .+/); // what is wrong: how to fix it
      expect(r.stderr).not.toMatch(/\bat .+:\d+:\d+|\.ts:\d+/);
      expect(snapshot(s.dir)).toEqual(setup);
    });
  }

  it("--insecure-relay allows a plain ws:// relay and loopback ws:// needs no flag", async () => {
    using s = tempStateDir();
    expect((await pair(s.dir, ["--insecure-relay", "--relay-url", "ws://relay.example.com/r/", requestCode(newIdentity())])).exitCode).toBe(0);
    const r = await pair(s.dir, ["--relay-url", "http://127.0.0.1:9/relay/", requestCode(newIdentity())]);
    expect(r.exitCode).toBe(0);
    expect(decodeSetupCode(r.stdout).url).toStartWith("ws://127.0.0.1:9/relay/v1/gateway/");
  });

  it("handles every hostile value as argv, env and stdin with a documented code", async () => {
    using s = tempStateDir();
    const documented = [64, 65, 66];
    const values = HOSTILE_STRINGS.filter((v) => !v.includes("\u0000") && v.length < 100_000);
    const jobs = values.flatMap((value) => [
      () => pair(s.dir, ["--", value]),
      () => pair(s.dir, [], { env: { KOKOCHAT_PAIRING_REQUEST: value } }),
      () => pair(s.dir, [], { stdin: value }),
    ]);
    const results: RunResult[] = [];
    const worker = async () => {
      for (let job = jobs.shift(); job; job = jobs.shift()) results.push(await job());
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    expect(results).toHaveLength(values.length * 3);
    for (const r of results) {
      expect(documented).toContain(r.exitCode);
      expect(r.stderr).not.toMatch(/\.ts:\d+/);
    }
    expect(snapshot(s.dir)).toEqual({});
  }, 300_000);

  it("treats words that name no command, even inherited object keys, as the request", async () => {
    using s = tempStateDir();
    for (const word of ["toString", "constructor", "__proto__", "hasOwnProperty"])
      expect((await run([word, "--state-dir", s.dir])).exitCode).toBe(66);
  });

  it("a relay step that cannot finish leaves the device store as it was (the phone's token still works)", async () => {
    using s = tempStateDir();
    const id = newIdentity();
    const first = await pair(s.dir, [requestCode(id)]);
    expect(first.exitCode).toBe(0);
    const lock = join(s.dir, "kokochat-relay", "relay.json.lock");
    mkdirSync(lock);
    writeFileSync(join(lock, "owner.json"), JSON.stringify({ pid: process.pid, nonce: "held-by-the-test" }));
    const before = snapshot(join(s.dir, "devices"));
    const r = await pair(s.dir, [requestCode(id)], { env: { KOKOCHAT_BUSY_TIMEOUT_MS: "300" } });
    expect(r.exitCode).toBe(75);
    expect(snapshot(join(s.dir, "devices"))).toEqual(before);
  });

  it("70: an internal fault gives one line, no stack trace, and the exit code", async () => {
    using s = tempStateDir();
    const r = await pair(s.dir, [requestCode(newIdentity())], { env: { KOKOCHAT_TEST_FAIL_AT: "pair-start" } });
    expect(r.exitCode).toBe(70);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain("internal error");
    expect(r.stderr).not.toContain("injected");
    expect(snapshot(s.dir)).toEqual({});
  });
});

describe("--dry-run", () => {
  for (const backend of ["sqlite", "json"] as const) {
    it(`validates and reports for a ${backend} store but writes nothing and prints no code`, async () => {
      using s = tempStateDir();
      if (backend === "sqlite") makeSqliteStore(s.dir);
      else makeJsonStore(s.dir, {});
      const before = snapshot(s.dir);
      const r = await pair(s.dir, ["--dry-run", "--json", requestCode(newIdentity())]);
      expect(r.exitCode).toBe(0);
      const out = JSON.parse(r.stdout);
      expect(out).toMatchObject({ ok: true, dryRun: true, store: { backend }, relay: { minted: true } });
      expect(out.setupCode).toBeUndefined();
      expect(snapshot(s.dir)).toEqual(before);
      const plain = await pair(s.dir, ["--dry-run", requestCode(newIdentity())]);
      expect(plain.stdout).toBe("");
      expect(plain.stderr).toContain("nothing was written");
      expect(snapshot(s.dir)).toEqual(before);
    });
  }

  it("still refuses what a real run would refuse", async () => {
    using s = tempStateDir();
    const id = newIdentity();
    makeJsonStore(s.dir, { [id.deviceId]: { deviceId: id.deviceId, publicKey: newIdentity().publicKeyB64 } });
    expect((await pair(s.dir, ["--dry-run", requestCode(id)])).exitCode).toBe(77);
  });
});

describe("relay credentials and connector config", () => {
  it("mints them once (0600 in a 0700 folder), reuses them, and replaces them when the relay URL changes", async () => {
    using s = tempStateDir();
    const first = decodeSetupCode((await pair(s.dir, [requestCode(newIdentity())])).stdout);
    const second = decodeSetupCode((await pair(s.dir, [requestCode(newIdentity())])).stdout);
    expect(second.relay.id).toBe(first.relay.id);
    expect(second.url).toBe(first.url);
    expect(first.url).toStartWith(`wss://deeply.plus/relay/v1/gateway/${first.relay.id}?secret=`);
    const dir = join(s.dir, "kokochat-relay");
    const { modeOf } = await import("./support/stores.ts");
    expect(modeOf(dir)).toBe(0o700);
    expect(modeOf(join(dir, "relay.json"))).toBe(0o600);
    expect(readJson(join(dir, `${first.relay.id}.json`))).toEqual({
      relayUrl: "wss://deeply.plus/relay",
      relayId: first.relay.id,
      relaySecret: readJson(join(dir, "relay.json")).relaySecret,
      gatewayUrl: "ws://127.0.0.1:18789",
    });
    expect(modeOf(join(dir, `${first.relay.id}.json`))).toBe(0o600);
    const moved = decodeSetupCode((await pair(s.dir, ["--relay-url", "https://relay.example.org/", requestCode(newIdentity())])).stdout);
    expect(moved.relay.id).not.toBe(first.relay.id);
    expect(moved.url).toStartWith("wss://relay.example.org/v1/gateway/");
  });

  it("reuses credentials an older installer stored as https://…/, storing them in today's form", async () => {
    using s = tempStateDir();
    mkdirSync(join(s.dir, "kokochat-relay"), { mode: 0o700 });
    const old = { relayUrl: "https://deeply.plus/relay/", relayId: "A".repeat(24), relaySecret: "B".repeat(43), createdAtMs: 1 };
    writeFileSync(join(s.dir, "kokochat-relay", "relay.json"), JSON.stringify(old), { mode: 0o600 });
    const code = decodeSetupCode((await pair(s.dir, [requestCode(newIdentity())])).stdout);
    expect(code.relay.id).toBe(old.relayId);
    expect(code.url).toStartWith(`wss://deeply.plus/relay/v1/gateway/${old.relayId}?secret=`);
    expect(readJson(join(s.dir, "kokochat-relay", "relay.json"))).toEqual({ ...old, relayUrl: "wss://deeply.plus/relay" });
    expect(readJson(join(s.dir, "kokochat-relay", `${old.relayId}.json`)).relayUrl).toBe("wss://deeply.plus/relay");
  });

  it("refuses a KOKOCHAT_LOCAL_GATEWAY_URL that is not a ws:// URL (64) before writing anything", async () => {
    using s = tempStateDir();
    const r = await pair(s.dir, [requestCode(newIdentity())], { env: { KOKOCHAT_LOCAL_GATEWAY_URL: "garbage" } });
    expect(r.exitCode).toBe(64);
    expect(snapshot(s.dir)).toEqual({});
  });

  it("refuses a KOKOCHAT_LOCAL_GATEWAY_URL the connector would refuse (user, query, fragment) before writing anything", async () => {
    using s = tempStateDir();
    for (const url of ["ws://127.0.0.1:18789/?x=1", "ws://user:pw@127.0.0.1:18789", "ws://127.0.0.1:18789/#top"]) {
      const r = await pair(s.dir, [requestCode(newIdentity())], { env: { KOKOCHAT_LOCAL_GATEWAY_URL: url } });
      expect(r.exitCode).toBe(64);
      expect(r.stderr).toContain("KOKOCHAT_LOCAL_GATEWAY_URL is not a plain ws:// or wss:// URL");
      expect(r.stderr).not.toContain("pw@");
    }
    expect(snapshot(s.dir)).toEqual({});
  });

  it("takes the relay URL and gateway port from openclaw.env and openclaw.json, process env winning", async () => {
    using s = tempStateDir();
    writeFileSync(join(s.dir, "openclaw.env"), '# from the old installer\r\nKOKOCHAT_RELAY_URL="https://relay.from-file.example/base"\r\nOPENCLAW_GATEWAY_PORT=19000\r\n');
    writeFileSync(join(s.dir, "openclaw.json"), "{ gateway: { port: 18800 }, // comment\n}");
    const r = await pair(s.dir, ["--json", requestCode(newIdentity())]);
    expect(JSON.parse(r.stdout).relay.url).toBe("wss://relay.from-file.example/base");
    const relayId = JSON.parse(r.stdout).relay.id;
    expect(readJson(join(s.dir, "kokochat-relay", `${relayId}.json`)).gatewayUrl).toBe("ws://127.0.0.1:19000");
    const r2 = await pair(s.dir, ["--json", requestCode(newIdentity())], { env: { KOKOCHAT_RELAY_URL: "wss://relay.from-env.example" } });
    expect(JSON.parse(r2.stdout).relay.url).toBe("wss://relay.from-env.example");
  });
});

describe("the compiled binary ignores the working directory's config", () => {
  it("a hostile .env and bunfig.toml in the cwd change nothing", async () => {
    using home = tempStateDir();
    using cwd = tempStateDir();
    const state = join(home.dir, ".openclaw");
    mkdirSync(state);
    const marker = join(cwd.dir, "preload-ran");
    writeFileSync(join(cwd.dir, ".env"), `KOKOCHAT_RELAY_URL=ws://evil.example\nOPENCLAW_STATE_DIR=${cwd.dir}\nKOKOCHAT_PAIRING_REQUEST=x\n`);
    writeFileSync(join(cwd.dir, "evil.ts"), `require("fs").writeFileSync(${JSON.stringify(marker)}, "ran")`);
    writeFileSync(join(cwd.dir, "bunfig.toml"), 'preload = ["./evil.ts"]\n[run]\npreload = ["./evil.ts"]\n');
    mkdirSync(join(cwd.dir, "node_modules"), { recursive: true });
    // No --state-dir: the state dir must come from HOME, not from the planted OPENCLAW_STATE_DIR.
    const r = await run(["pair", "--no-connector", "--json", requestCode(newIdentity())], { cwd: cwd.dir, env: { HOME: home.dir } });
    expect(r.exitCode).toBe(0);
    expect(JSON.parse(r.stdout).relay.url).toBe("wss://deeply.plus/relay");
    expect(JSON.parse(r.stdout).stateDir).toBe(state);
    expect(existsSync(marker)).toBe(false);
  });
});
