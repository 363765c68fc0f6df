import { describe, expect, it } from "bun:test";
import { posix, win32 } from "node:path";
import { resolveStateDir, type Probe } from "../src/store/statedir.ts";

const probe = (existing: string[] = []): Probe => ({ home: "/home/u", cwd: "/work/dir", exists: (p) => existing.includes(p), path: posix });

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

describe("state dir resolution on Windows (drive letters, backslashes, USERPROFILE home)", () => {
  const winProbe = (existing: string[] = []): Probe => ({
    home: "C:\\Users\\u",
    cwd: "D:\\work\\dir",
    exists: (p) => existing.includes(p),
    path: win32,
  });
  const table: [string, Record<string, string>, string[], string, string][] = [
    ["the profile folder by default", {}, [], "C:\\Users\\u\\.openclaw", "home"],
    ["legacy .clawdbot under the profile", {}, ["C:\\Users\\u\\.clawdbot"], "C:\\Users\\u\\.clawdbot", "home (legacy .clawdbot)"],
    ["a drive-letter OPENCLAW_STATE_DIR with backslashes", { OPENCLAW_STATE_DIR: "E:\\OpenClaw\\state" }, [], "E:\\OpenClaw\\state", "OPENCLAW_STATE_DIR"],
    ["forward slashes become backslashes", { OPENCLAW_STATE_DIR: "E:/OpenClaw/state/" }, [], "E:\\OpenClaw\\state", "OPENCLAW_STATE_DIR"],
    ["a lower-case drive letter is kept", { OPENCLAW_STATE_DIR: "e:\\oc" }, [], "e:\\oc", "OPENCLAW_STATE_DIR"],
    ["~\\ expands to the profile", { OPENCLAW_STATE_DIR: "~\\oc" }, [], "C:\\Users\\u\\oc", "OPENCLAW_STATE_DIR"],
    ["~/ expands to the profile", { OPENCLAW_CONFIG_DIR: "~/oc" }, [], "C:\\Users\\u\\oc", "OPENCLAW_CONFIG_DIR"],
    ["a relative path is taken from the working directory", { OPENCLAW_STATE_DIR: "rel\\state" }, [], "D:\\work\\dir\\rel\\state", "OPENCLAW_STATE_DIR"],
    ["a rooted path without a drive takes the working directory's drive", { OPENCLAW_STATE_DIR: "\\oc" }, [], "D:\\oc", "OPENCLAW_STATE_DIR"],
    ["a UNC share", { OPENCLAW_STATE_DIR: "\\\\server\\share\\oc" }, [], "\\\\server\\share\\oc", "OPENCLAW_STATE_DIR"],
    ["OPENCLAW_HOME with a drive letter", { OPENCLAW_HOME: "F:\\home" }, [], "F:\\home\\.openclaw", "OPENCLAW_HOME"],
  ];
  for (const [name, env, existing, dir, source] of table) {
    it(name, () => expect(resolveStateDir(env, winProbe(existing))).toEqual({ dir, source }));
  }

  it("--state-dir with a drive letter beats every variable", () => {
    expect(resolveStateDir({ OPENCLAW_STATE_DIR: "E:\\s" }, winProbe(), "G:\\flag\\..\\state")).toEqual({ dir: "G:\\state", source: "--state-dir" });
  });
});

describe("the home the real machine uses (OpenClaw's order)", () => {
  it("is HOME, else USERPROFILE (Windows sets no HOME), else the OS's answer", async () => {
    const { systemProbe } = await import("../src/store/statedir.ts");
    expect(systemProbe({ HOME: "/h", USERPROFILE: "C:\\Users\\u" }).home).toBe("/h");
    expect(systemProbe({ USERPROFILE: "C:\\Users\\u" }).home).toBe("C:\\Users\\u");
    expect(systemProbe({ HOME: " ", USERPROFILE: "C:\\Users\\u" }).home).toBe("C:\\Users\\u");
    expect(systemProbe({}).home).toBe((await import("node:os")).homedir());
  });
});
