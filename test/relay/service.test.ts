import { describe, expect, it, setDefaultTimeout } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  installSteps,
  renderLaunchdPlist,
  renderSystemdUnit,
  renderWindowsTask,
  restartSteps,
  servicePlace,
  systemdQuote,
  TASK_NAME,
  uninstallSteps,
  unitBytes,
  UNIT_NAME,
  windowsQuote,
} from "../../src/relay/service.ts";
import { binary, run } from "../support/binary.ts";

// Real processes and sockets: allow for a loaded CI machine.
setDefaultTimeout(30_000);

const temp = (prefix: string) => mkdtempSync(join(tmpdir(), prefix));

describe("service command", () => {
  it("prints the unit with --dry-run and writes nothing", async () => {
    const unitDir = temp("kokochat-units-");
    const state = temp("kokochat-state-");
    const r = await run(["service", "install", "--dry-run", "--state-dir", state], { env: { KOKOCHAT_SERVICE_DIR: unitDir } });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain("[Service]");
    expect(r.stdout).toContain(`ExecStart="${await binary()}" "connector" "--state-dir" "${state}"`);
    expect(r.stdout).toContain("Restart=always");
    expect(r.stdout).toContain(`Environment="OPENCLAW_STATE_DIR=${state}"`);
    expect(r.stderr).toContain("dry run");
    expect(readdirSync(unitDir)).toEqual([]);
    expect(readdirSync(state)).toEqual([]);
    expect(existsSync(join(process.env.HOME!, ".config"))).toBe(false);
  });

  it("writes the unit into the test unit dir without calling systemctl, then uninstalls it", async () => {
    const unitDir = temp("kokochat-units-");
    const state = temp("kokochat-state-");
    const env = { KOKOCHAT_SERVICE_DIR: unitDir };
    const installed = await run(["service", "install", "--state-dir", state], { env });
    expect(installed.exitCode).toBe(0);
    const path = join(unitDir, UNIT_NAME);
    expect(installed.stdout.trim()).toBe(path);
    expect(readFileSync(path, "utf8")).toContain("Restart=always");
    expect(installed.stderr).toContain("not running 'systemctl");

    const status = await run(["service", "status", "--state-dir", state], { env });
    expect(status.exitCode).toBe(0);
    expect(status.stdout.trim()).toBe("service unknown");

    const removed = await run(["service", "uninstall", "--state-dir", state], { env });
    expect(removed.exitCode).toBe(0);
    expect(removed.stdout.trim()).toBe("removed");
    expect(existsSync(path)).toBe(false);

    const again = await run(["service", "uninstall"], { env });
    expect(again.stdout.trim()).toBe("not installed");
  });

  it("rejects an unknown action as a usage error in one line", async () => {
    const r = await run(["service", "frobnicate"]);
    expect(r.exitCode).toBe(64);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
  });
});

describe("service unit rendering", () => {
  const input = {
    command: ["/opt/kokochat pairing/bin", "connector", "--state-dir", "/home/a/100%$dir\"x"],
    environment: { OPENCLAW_STATE_DIR: "/home/a/.openclaw" },
    logPath: "/home/a/.openclaw/kokochat-relay/connector.log",
  };

  it("quotes systemd words so spaces, quotes, % and $ survive", () => {
    expect(systemdQuote('a b"c\\d%e$f')).toBe('"a b\\"c\\\\d%%e$$f"');
    expect(() => systemdQuote("a\nb")).toThrow();
  });

  it("renders a user unit wanted by default.target and a system unit that can run as the state dir's owner", () => {
    expect(renderSystemdUnit("systemd-user", input)).toContain("WantedBy=default.target");
    const system = renderSystemdUnit("systemd-system", { ...input, user: 1000 });
    expect(system).toContain("WantedBy=multi-user.target");
    expect(system).toContain("User=1000");
  });

  it("renders a launchd agent that keeps the connector alive, XML-escaped", () => {
    const plist = renderLaunchdPlist({ ...input, command: ["/a&b/bin", "connector"] });
    expect(plist).toContain("<key>KeepAlive</key>\n  <true/>");
    expect(plist).toContain("<string>/a&amp;b/bin</string>");
    expect(plist).toContain("<key>RunAtLoad</key>");
  });
});

describe("the Windows logon task (Task Scheduler)", () => {
  const unit = {
    command: ["C:\\Tools\\kokochat-pairing.exe", "connector", "--state-dir", "C:\\Users\\ann\\.openclaw"],
    environment: {},
    logPath: "",
  };

  it("is kept under LOCALAPPDATA and registered, started and removed with schtasks by its task name", () => {
    const place = servicePlace({ LOCALAPPDATA: "C:\\Users\\ann\\AppData\\Local" }, "win32");
    expect(place.kind).toBe("schtasks");
    expect(place.path).toEndWith("kokochat-relay-connector.xml");
    expect(installSteps(place).map((s) => s.argv)).toEqual([
      ["schtasks", "/Create", "/XML", place.path, "/TN", TASK_NAME, "/F"],
      ["schtasks", "/Run", "/TN", TASK_NAME],
    ]);
    expect(restartSteps(place).map((s) => s.argv[1])).toEqual(["/End", "/Run"]);
    expect(uninstallSteps(place).map((s) => [s.argv[1], s.allowFail])).toEqual([["/End", true], ["/Delete", true]]);
  });

  it("starts the connector at this user's logon, hidden, unprivileged, without a time limit, restarted on failure", () => {
    const xml = renderWindowsTask(unit, "PC\\ann");
    expect(xml).toContain("<LogonTrigger>");
    expect(xml.match(/<UserId>PC\\ann<\/UserId>/g)).toHaveLength(2);
    expect(xml).toContain("<RunLevel>LeastPrivilege</RunLevel>");
    expect(xml).toContain("<ExecutionTimeLimit>PT0S</ExecutionTimeLimit>");
    expect(xml).toContain("<Hidden>true</Hidden>");
    expect(xml).toContain("<RestartOnFailure>");
    expect(xml).toContain("<Command>C:\\Tools\\kokochat-pairing.exe</Command>");
    expect(xml).toContain("<Arguments>&quot;connector&quot; &quot;--state-dir&quot; &quot;C:\\Users\\ann\\.openclaw&quot;</Arguments>");
  });

  it("quotes arguments so Windows hands them back unchanged (CommandLineToArgvW rules)", () => {
    expect(windowsQuote("C:\\Program Files\\k")).toBe('"C:\\Program Files\\k"');
    expect(windowsQuote("C:\\dir\\")).toBe('"C:\\dir\\\\"'); // a trailing backslash would escape the closing quote
    expect(windowsQuote('a"b')).toBe('"a\\"b"');
    expect(windowsQuote('a\\"b')).toBe('"a\\\\\\"b"');
    expect(() => windowsQuote("a\nb")).toThrow(/line break/);
  });

  it("writes the task XML as UTF-16LE with a byte-order mark and CRLF, as schtasks /XML reads it", () => {
    const place = servicePlace({ LOCALAPPDATA: "C:\\L" }, "win32");
    const bytes = Buffer.from(unitBytes(place, "<a>\n</a>\n") as Uint8Array);
    expect([...bytes.subarray(0, 2)]).toEqual([0xff, 0xfe]);
    expect(bytes.subarray(2).toString("utf16le")).toBe("<a>\r\n</a>\r\n");
    expect(unitBytes(servicePlace({ HOME: "/home/ann" }, "darwin"), "x")).toBe("x"); // other units stay text
  });
});
