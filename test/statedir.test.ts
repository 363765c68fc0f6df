import { describe, expect, it } from "bun:test";
import { resolveStateDir, type Probe } from "../src/store/statedir.ts";

const probe = (existing: string[] = []): Probe => ({ home: "/home/u", cwd: "/work/dir", exists: (p) => existing.includes(p) });

describe("state dir resolution (SPEC §3, line by line)", () => {
  const table: [string, Record<string, string>, string[], string, string][] = [
    ["OPENCLAW_STATE_DIR wins", { OPENCLAW_STATE_DIR: "/s", CLAWDBOT_STATE_DIR: "/c", OPENCLAW_CONFIG_DIR: "/k", OPENCLAW_HOME: "/h" }, [], "/s", "OPENCLAW_STATE_DIR"],
    ["legacy CLAWDBOT_STATE_DIR next", { CLAWDBOT_STATE_DIR: "/c", OPENCLAW_CONFIG_DIR: "/k" }, [], "/c", "CLAWDBOT_STATE_DIR"],
    ["OPENCLAW_CONFIG_DIR (old script, service units) after the state-dir variables", { OPENCLAW_CONFIG_DIR: "/k", OPENCLAW_HOME: "/h" }, [], "/k", "OPENCLAW_CONFIG_DIR"],
    ["OPENCLAW_HOME is the home, not the state dir", { OPENCLAW_HOME: "/h" }, [], "/h/.openclaw", "OPENCLAW_HOME"],
    ["the user's home by default", {}, [], "/home/u/.openclaw", "home"],
    ["legacy .clawdbot when .openclaw is absent", {}, ["/home/u/.clawdbot"], "/home/u/.clawdbot", "home (legacy .clawdbot)"],
    ["legacy .moldbot when .openclaw is absent", {}, ["/home/u/.moldbot"], "/home/u/.moldbot", "home (legacy .moldbot)"],
    ["legacy .moltbot when .openclaw is absent", {}, ["/home/u/.moltbot"], "/home/u/.moltbot", "home (legacy .moltbot)"],
    [".openclaw beats a legacy folder when both exist", {}, ["/home/u/.openclaw", "/home/u/.clawdbot"], "/home/u/.openclaw", "home"],
    ["legacy folders under OPENCLAW_HOME", { OPENCLAW_HOME: "/h" }, ["/h/.clawdbot"], "/h/.clawdbot", "OPENCLAW_HOME (legacy .clawdbot)"],
    ["a leading ~ expands", { OPENCLAW_STATE_DIR: "~/state" }, [], "/home/u/state", "OPENCLAW_STATE_DIR"],
    ["~ alone expands", { OPENCLAW_HOME: "~" }, [], "/home/u/.openclaw", "OPENCLAW_HOME"],
    ["a relative path is taken from the working directory", { OPENCLAW_STATE_DIR: "rel/state" }, [], "/work/dir/rel/state", "OPENCLAW_STATE_DIR"],
    ["empty and blank values are ignored", { OPENCLAW_STATE_DIR: "", CLAWDBOT_STATE_DIR: "  ", OPENCLAW_HOME: "" }, [], "/home/u/.openclaw", "home"],
  ];
  for (const [name, env, existing, dir, source] of table) {
    it(name, () => expect(resolveStateDir(env, probe(existing))).toEqual({ dir, source }));
  }

  it("--state-dir beats every variable", () => {
    expect(resolveStateDir({ OPENCLAW_STATE_DIR: "/s" }, probe(), "~/flag")).toEqual({ dir: "/home/u/flag", source: "--state-dir" });
  });
});
