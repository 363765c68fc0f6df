/**
 * The connector as a service: a systemd unit on Linux (system unit as root,
 * user unit otherwise) or a launchd agent on macOS, running this binary's
 * `connector` with restart-always. Pure rendering functions plus the few
 * calls to systemctl/launchctl.
 *
 * Tests never touch the real service manager: KOKOCHAT_SERVICE_DIR (tests
 * only) puts the unit file in another folder and turns every systemctl or
 * launchctl call into a printed line.
 */
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { CliError } from "../errors.ts";
import { osHomedir } from "../store/statedir.ts";

export const UNIT_NAME = "kokochat-relay-connector.service";
export const LAUNCHD_LABEL = "kokochat-relay-connector";

export type ServiceKind = "systemd-system" | "systemd-user" | "launchd" | "schtasks";

/** The Windows logon task (Task Scheduler) that runs the connector. */
export const TASK_NAME = "KokoChatRelayConnector";

export type ServicePlace = {
  kind: ServiceKind;
  /** The unit, plist or task XML file. */
  path: string;
  /** True when KOKOCHAT_SERVICE_DIR redirected it: no service manager is called. */
  overridden: boolean;
};

type Env = NodeJS.ProcessEnv;

const isRoot = () => typeof process.getuid === "function" && process.getuid() === 0;
const home = (env: Env) => (env.HOME?.trim() ? env.HOME.trim() : osHomedir());

/** Where this user's unit would go (what `service install` writes). */
export function servicePlace(env: Env, platform: NodeJS.Platform = process.platform): ServicePlace {
  const override = env.KOKOCHAT_SERVICE_DIR?.trim();
  if (platform === "darwin") {
    const dir = override || join(home(env), "Library", "LaunchAgents");
    return { kind: "launchd", path: join(dir, `${LAUNCHD_LABEL}.plist`), overridden: !!override };
  }
  if (platform === "linux") {
    const kind: ServiceKind = isRoot() ? "systemd-system" : "systemd-user";
    const dir = override || (kind === "systemd-system" ? "/etc/systemd/system" : join(home(env), ".config", "systemd", "user"));
    return { kind, path: join(dir, UNIT_NAME), overridden: !!override };
  }
  if (platform === "win32") {
    // The task definition we register, kept so `uninstall` and `pair` know the task is ours.
    const local = env.LOCALAPPDATA?.trim() || join(env.USERPROFILE?.trim() || home(env), "AppData", "Local");
    const dir = override || join(local, "kokochat-pairing");
    return { kind: "schtasks", path: join(dir, "kokochat-relay-connector.xml"), overridden: !!override };
  }
  throw unsupportedOs(platform);
}

export function unsupportedOs(platform: string): CliError {
  return new CliError(
    "refused",
    `no service support on ${platform}: run 'kokochat-pairing connector' from your system's service manager or at login instead`,
  );
}

/** Whether systemd runs this machine (sd_booted(3): /run/systemd/system exists) and systemctl is there. */
export const systemdRunning = (): boolean => existsSync("/run/systemd/system") && Bun.which("systemctl") !== null;

/**
 * An installed connector service, wherever it was installed (by us, or by the
 * old KokoChat installer as a system unit), or undefined.
 */
export function installedService(env: Env, platform: NodeJS.Platform = process.platform): ServicePlace | undefined {
  // One place to look: macOS, Windows, and wherever KOKOCHAT_SERVICE_DIR puts the unit.
  if (platform === "darwin" || platform === "win32" || (platform === "linux" && env.KOKOCHAT_SERVICE_DIR?.trim())) {
    const place = servicePlace(env, platform);
    return existsSync(place.path) ? place : undefined;
  }
  if (platform !== "linux") return undefined;
  // A unit file on a machine not booted with systemd cannot be restarted: the pid-file connector is used then.
  if (!systemdRunning()) return undefined;
  for (const dir of ["/etc/systemd/system", "/usr/local/lib/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system"]) {
    const path = join(dir, UNIT_NAME);
    if (existsSync(path)) return { kind: "systemd-system", path, overridden: false };
  }
  const user = join(home(env), ".config", "systemd", "user", UNIT_NAME);
  if (existsSync(user)) return { kind: "systemd-user", path: user, overridden: false };
  return undefined;
}

// ── rendering ────────────────────────────────────────────────────────────────

/** One systemd word, double-quoted, with \, ", % and $ escaped. */
export function systemdQuote(word: string): string {
  if (/[\n\r\0]/.test(word)) throw new CliError("usage", "a path for the service unit holds a line break: move it to a plain path");
  return `"${word.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/%/g, "%%").replace(/\$/g, "$$$$")}"`;
}

const xml = (text: string) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

export type UnitInput = {
  /** argv of the connector: this binary, `connector`, its options. */
  command: string[];
  /** Environment the connector needs (state dir, gateway overrides). */
  environment: Record<string, string>;
  /** Run as this uid (system units for a state dir owned by another user). */
  user?: number;
  logPath: string;
};

export function renderSystemdUnit(kind: "systemd-system" | "systemd-user", u: UnitInput): string {
  const env = Object.entries(u.environment).map(([k, v]) => `Environment=${systemdQuote(`${k}=${v}`)}\n`);
  return `# Written by 'kokochat-pairing service install'. Remove with 'kokochat-pairing service uninstall'.
[Unit]
Description=KokoChat relay connector for the local OpenClaw gateway
After=network-online.target
Wants=network-online.target
StartLimitIntervalSec=0

[Service]
Type=simple
ExecStart=${u.command.map(systemdQuote).join(" ")}
${env.join("")}${u.user !== undefined ? `User=${u.user}\n` : ""}Restart=always
RestartSec=5
KillSignal=SIGTERM
TimeoutStopSec=10
NoNewPrivileges=true

[Install]
WantedBy=${kind === "systemd-system" ? "multi-user.target" : "default.target"}
`;
}

export function renderLaunchdPlist(u: UnitInput): string {
  const args = u.command.map((a) => `    <string>${xml(a)}</string>\n`).join("");
  const env = Object.entries(u.environment)
    .map(([k, v]) => `    <key>${xml(k)}</key>\n    <string>${xml(v)}</string>\n`)
    .join("");
  return `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<!-- Written by 'kokochat-pairing service install'. Remove with 'kokochat-pairing service uninstall'. -->
<plist version="1.0">
<dict>
  <key>Label</key>
  <string>${LAUNCHD_LABEL}</string>
  <key>ProgramArguments</key>
  <array>
${args}  </array>
  <key>EnvironmentVariables</key>
  <dict>
${env}  </dict>
  <key>RunAtLoad</key>
  <true/>
  <key>KeepAlive</key>
  <true/>
  <key>ThrottleInterval</key>
  <integer>5</integer>
  <key>StandardOutPath</key>
  <string>${xml(u.logPath)}</string>
  <key>StandardErrorPath</key>
  <string>${xml(u.logPath)}</string>
</dict>
</plist>
`;
}

/** One Windows command-line argument, quoted so CommandLineToArgvW gives it back unchanged. */
export function windowsQuote(arg: string): string {
  if (/[\n\r\0]/.test(arg)) throw new CliError("usage", "a path for the logon task holds a line break: move it to a plain path");
  return `"${arg.replace(/(\\*)"/g, '$1$1\\"').replace(/(\\+)$/, "$1$1")}"`;
}

/**
 * A Task Scheduler task (schema 1.2) that starts the connector at this user's
 * logon, hidden, without privileges, with no time limit, restarted on failure.
 * Tasks carry no environment: the connector reads the state dir it is given.
 */
export function renderWindowsTask(u: UnitInput, userId: string | undefined): string {
  const [command, ...args] = u.command;
  return `<?xml version="1.0" encoding="UTF-16"?>
<!-- Written by 'kokochat-pairing service install'. Remove with 'kokochat-pairing service uninstall'. -->
<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">
  <RegistrationInfo>
    <Description>KokoChat relay connector for the local OpenClaw gateway</Description>
  </RegistrationInfo>
  <Triggers>
    <LogonTrigger>
      <Enabled>true</Enabled>
${userId ? `      <UserId>${xml(userId)}</UserId>
` : ""}    </LogonTrigger>
  </Triggers>
  <Principals>
    <Principal id="Author">
${userId ? `      <UserId>${xml(userId)}</UserId>
` : ""}      <LogonType>InteractiveToken</LogonType>
      <RunLevel>LeastPrivilege</RunLevel>
    </Principal>
  </Principals>
  <Settings>
    <MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>
    <DisallowStartIfOnBatteries>false</DisallowStartIfOnBatteries>
    <StopIfGoingOnBatteries>false</StopIfGoingOnBatteries>
    <StartWhenAvailable>true</StartWhenAvailable>
    <ExecutionTimeLimit>PT0S</ExecutionTimeLimit>
    <Hidden>true</Hidden>
    <RestartOnFailure>
      <Interval>PT1M</Interval>
      <Count>999</Count>
    </RestartOnFailure>
  </Settings>
  <Actions Context="Author">
    <Exec>
      <Command>${xml(command ?? "")}</Command>
      <Arguments>${xml(args.map(windowsQuote).join(" "))}</Arguments>
    </Exec>
  </Actions>
</Task>
`;
}

/** The current Windows user as Task Scheduler names it (DOMAIN\user), when the environment says. */
const windowsUser = () => {
  const user = process.env.USERNAME?.trim();
  const domain = process.env.USERDOMAIN?.trim();
  return user ? (domain ? `${domain}\\${user}` : user) : undefined;
};

export function renderUnit(place: ServicePlace, u: UnitInput): string {
  if (place.kind === "launchd") return renderLaunchdPlist(u);
  if (place.kind === "schtasks") return renderWindowsTask(u, windowsUser());
  return renderSystemdUnit(place.kind, u);
}

/** The bytes of a unit file: Task Scheduler reads its XML as UTF-16 with a byte-order mark. */
export function unitBytes(place: ServicePlace, unit: string): string | Uint8Array {
  if (place.kind !== "schtasks") return unit;
  return new Uint8Array(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(unit.replace(/\r?\n/g, "\r\n"), "utf16le")]));
}

/** Owner uid of the state dir when a root-installed system unit should run as that user. */
export function stateDirOwner(stateDir: string): number | undefined {
  if (!isRoot()) return undefined;
  try {
    const uid = statSync(stateDir).uid;
    return uid === 0 ? undefined : uid;
  } catch {
    return undefined;
  }
}

// ── the service manager ──────────────────────────────────────────────────────

export type ManagerStep = { argv: string[]; allowFail?: boolean };

const systemctl = (kind: ServiceKind, ...args: string[]) => (kind === "systemd-user" ? ["systemctl", "--user", ...args] : ["systemctl", ...args]);
const launchDomain = () => `gui/${typeof process.getuid === "function" ? process.getuid() : 0}`;

const schtasks = (...args: string[]) => ["schtasks", ...args, "/TN", TASK_NAME];

export function installSteps(place: ServicePlace): ManagerStep[] {
  if (place.kind === "schtasks")
    return [{ argv: [...schtasks("/Create", "/XML", place.path), "/F"] }, { argv: schtasks("/Run") }];
  if (place.kind === "launchd")
    return [
      { argv: ["launchctl", "bootout", `${launchDomain()}/${LAUNCHD_LABEL}`], allowFail: true },
      { argv: ["launchctl", "bootstrap", launchDomain(), place.path] },
    ];
  return [
    { argv: systemctl(place.kind, "daemon-reload") },
    { argv: systemctl(place.kind, "enable", UNIT_NAME) },
    { argv: systemctl(place.kind, "restart", UNIT_NAME) },
  ];
}

export function uninstallSteps(place: ServicePlace): ManagerStep[] {
  if (place.kind === "schtasks") return [{ argv: schtasks("/End"), allowFail: true }, { argv: [...schtasks("/Delete"), "/F"], allowFail: true }];
  if (place.kind === "launchd") return [{ argv: ["launchctl", "bootout", `${launchDomain()}/${LAUNCHD_LABEL}`], allowFail: true }];
  return [{ argv: systemctl(place.kind, "disable", "--now", UNIT_NAME), allowFail: true }];
}

export function afterUninstallSteps(place: ServicePlace): ManagerStep[] {
  return place.kind === "launchd" || place.kind === "schtasks" ? [] : [{ argv: systemctl(place.kind, "daemon-reload"), allowFail: true }];
}

export function restartSteps(place: ServicePlace): ManagerStep[] {
  if (place.kind === "schtasks") return [{ argv: schtasks("/End"), allowFail: true }, { argv: schtasks("/Run") }];
  if (place.kind === "launchd") return [{ argv: ["launchctl", "kickstart", "-k", `${launchDomain()}/${LAUNCHD_LABEL}`] }];
  return [{ argv: systemctl(place.kind, "restart", UNIT_NAME) }];
}

export type StepRunner = (step: ManagerStep) => { ok: boolean; output: string };

/** Run one service-manager command; its output is kept for an error line, never echoed whole. */
export const runStep: StepRunner = (step) => {
  // A service manager that hangs must not hang `pair`: give up after a while and say so.
  const r = Bun.spawnSync(step.argv, { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { ...process.env, LC_ALL: "C" }, timeout: STEP_TIMEOUT_MS });
  const output = `${r.stdout.toString()}${r.stderr.toString()}`.trim().split("\n")[0] ?? "";
  if (r.exitCode === null) return { ok: false, output: output || `no answer within ${STEP_TIMEOUT_MS / 1000} s` };
  return { ok: r.exitCode === 0, output };
};

const STEP_TIMEOUT_MS = 20_000;

/** Run steps in order; a failing step that is not allowed to fail is a CliError naming the command. */
export function runSteps(place: ServicePlace, steps: ManagerStep[], run: StepRunner, say: (line: string) => void): void {
  for (const step of steps) {
    if (place.overridden) {
      say(`not running '${step.argv.join(" ")}' (KOKOCHAT_SERVICE_DIR is set)`);
      continue;
    }
    const r = run(step);
    if (!r.ok && !step.allowFail) {
      const hint = place.kind === "systemd-system" && !isRoot() ? ": run it as root" : "";
      throw new CliError("io", `'${step.argv.join(" ")}' failed (${r.output.slice(0, 160) || "no output"})${hint}`);
    }
  }
}

/** `active`, `inactive`, `failed`… as the service manager reports it. */
export function serviceState(place: ServicePlace, run: StepRunner = runStep): string {
  if (place.overridden) return "unknown";
  if (place.kind === "launchd") {
    const r = run({ argv: ["launchctl", "print", `${launchDomain()}/${LAUNCHD_LABEL}`], allowFail: true });
    return r.ok ? "loaded" : "not loaded";
  }
  if (place.kind === "schtasks") return run({ argv: schtasks("/Query"), allowFail: true }).ok ? "registered" : "not registered";
  const r = run({ argv: systemctl(place.kind, "is-active", UNIT_NAME), allowFail: true });
  return r.output.trim() || (r.ok ? "active" : "unknown");
}
