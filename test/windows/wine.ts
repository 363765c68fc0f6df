/**
 * The Windows binary under wine: find wine and mingw, make an isolated wine
 * prefix, build the windows-x64 executable and the two small Windows helpers
 * (the ProcessPrng stub DLL Bun's runtime needs on wine 8, and hold-open.exe),
 * and run the executable as a real child process, Linux temp dirs mapped in
 * through wine's Z: drive.
 */
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildTarget } from "../../build.ts";
import type { RunResult } from "../support/binary.ts";

export type Tools = { wine64: string; wineserver: string; gcc: string };

/** Where Debian's wine64 package puts its programs (they are not on PATH without the `wine` package). */
const DEBIAN_WINE = "/usr/lib/wine";

const firstExisting = (...candidates: (string | null | undefined)[]) => candidates.find((c): c is string => !!c && existsSync(c));

/** The tools, or why the suite cannot run here. */
export function findTools(): Tools | { missing: string } {
  if (process.platform !== "linux" || process.arch !== "x64") return { missing: "a Linux x64 host (wine runs the x64 .exe natively only there)" };
  const wine64 = firstExisting(process.env.WINE, Bun.which("wine64"), join(DEBIAN_WINE, "wine64"));
  const wineserver = firstExisting(Bun.which("wineserver"), join(DEBIAN_WINE, "wineserver"));
  const gcc = firstExisting(Bun.which("x86_64-w64-mingw32-gcc"));
  const missing = [!wine64 && "wine64", !wineserver && "wineserver", !gcc && "x86_64-w64-mingw32-gcc"].filter(Boolean);
  if (missing.length > 0) return { missing: `${missing.join(", ")} (not found)` };
  return { wine64: wine64!, wineserver: wineserver!, gcc: gcc! };
}

/** A Linux path as wine's Z: drive shows it. */
export const winPath = (linuxPath: string) => `Z:${linuxPath.replaceAll("/", "\\")}`;

export type SpawnResult = RunResult & { ms: number };

/**
 * `stderrFile`: send stderr to a file, read after exit. Needed when the run
 * leaves a process behind: wine hands its unix stderr (where its own messages
 * go) to every process it starts, so a pipe there never reaches EOF.
 */
type SpawnOptions = { env?: Record<string, string | undefined>; stdin?: string; cwd?: string; timeoutMs?: number; stderrFile?: boolean };

async function collect(proc: Bun.Subprocess<"ignore" | Uint8Array, "pipe", "pipe" | number>, started: number, timeoutMs: number, what: string): Promise<SpawnResult> {
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    proc.kill("SIGKILL");
  }, timeoutMs);
  const stderrText = proc.stderr instanceof ReadableStream ? new Response(proc.stderr).text() : Promise.resolve("");
  const [stdout, stderr, exitCode] = await Promise.all([new Response(proc.stdout).text(), stderrText, proc.exited]);
  clearTimeout(timer);
  if (timedOut) throw new Error(`${what} did not finish within ${timeoutMs} ms`);
  return { exitCode, stdout, stderr, ms: Date.now() - started };
}

export class Wine {
  readonly prefix = mkdtempSync(join(tmpdir(), "kokochat-wineprefix-"));
  readonly bin = mkdtempSync(join(tmpdir(), "kokochat-winebin-"));
  exe = "";
  timings: Record<string, number> = {};

  constructor(readonly tools: Tools) {}

  /** wine's own environment: isolated prefix, quiet, no Mono/Gecko prompts, no menu entries; no HOME (wine hides it anyway). */
  private env(extra: Record<string, string | undefined> = {}): Record<string, string> {
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      WINEPREFIX: this.prefix,
      WINEDEBUG: "-all",
      WINEDLLOVERRIDES: "mscoree,mshtml=;winemenubuilder.exe=d",
      NO_COLOR: "1",
      // As for the Linux binary (test/support/binary.ts): no connector unless a test asks for one.
      KOKOCHAT_SKIP_RELAY_CONNECTOR_START: "1",
    };
    for (const [key, value] of Object.entries(extra)) {
      if (value === undefined) delete env[key];
      else env[key] = value;
    }
    return env;
  }

  private async timed<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const t0 = Date.now();
    try {
      return await fn();
    } finally {
      this.timings[name] = Date.now() - t0;
    }
  }

  /**
   * Run a setup step to its exit. Output goes to a log file, not a pipe: wineserver
   * and wineboot leave daemons behind that keep inherited pipes open forever.
   */
  private async exec(argv: string[], what: string, timeoutMs: number): Promise<void> {
    const log = join(this.bin, `setup-${Object.keys(this.timings).length}-${Date.now()}.log`);
    const fd = openSync(log, "w");
    const proc = Bun.spawn(argv, { env: this.env(), cwd: this.bin, stdin: "ignore", stdout: fd, stderr: fd });
    const timer = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
    const exitCode = await proc.exited;
    clearTimeout(timer);
    closeSync(fd);
    const output = existsSync(log) ? readFileSync(log, "utf8") : "";
    rmSync(log, { force: true });
    if (proc.signalCode === "SIGKILL") throw new Error(`${what} did not finish within ${timeoutMs} ms`);
    if (exitCode !== 0) throw new Error(`${what} failed (exit ${exitCode}): ${output.trim().split("\n").slice(-3).join(" | ")}`);
  }

  /** Everything the runs need, in parallel: prefix + persistent wineserver, the .exe, the stub DLL, hold-open.exe. */
  async setUp(): Promise<void> {
    const boot = this.timed("wineboot", async () => {
      // A persistent server spares every run its ~3 s start; wineboot then fills the prefix once.
      await this.exec([this.tools.wineserver, "-p"], "wineserver -p", 30_000);
      await this.exec([this.tools.wine64, "wineboot", "--init"], "wineboot --init", 120_000);
    });
    const exe = this.timed("build windows-x64", async () => {
      this.exe = await buildTarget({ os: "windows", arch: "x64" }, this.bin);
    });
    const dll = this.timed("build stub DLL", () =>
      this.exec(
        [this.tools.gcc, "-shared", "-O2", "-s", "-o", join(this.bin, "bcryptprimitives.dll"), join(import.meta.dir, "processprng-stub.c"), "-ladvapi32"],
        "mingw build of the ProcessPrng stub",
        60_000,
      ),
    );
    const holder = this.timed("build hold-open.exe", () =>
      this.exec([this.tools.gcc, "-O2", "-s", "-o", join(this.bin, "hold-open.exe"), join(import.meta.dir, "hold-open.c")], "mingw build of hold-open.exe", 60_000),
    );
    await Promise.all([boot, exe, dll, holder]);
  }

  /** The folder wine made for the user (C:\users\<name>), seen from Linux, and its Windows name. */
  profile(): { linux: string; windows: string } {
    const users = join(this.prefix, "drive_c", "users");
    const name = readdirSync(users).find((n) => n !== "Public");
    if (!name) throw new Error("wine made no user profile folder");
    return { linux: join(users, name), windows: `C:\\users\\${name}` };
  }

  /** Start the windows-x64 kokochat-pairing (or another program in bin/) under wine. */
  spawn(args: string[], options: Omit<SpawnOptions, "stderrFile"> = {}, program = this.exe, stderr: "pipe" | number = "pipe") {
    return Bun.spawn([this.tools.wine64, program, ...args], {
      env: this.env(options.env),
      cwd: options.cwd ?? this.bin,
      stdin: options.stdin === undefined ? "ignore" : new TextEncoder().encode(options.stdin),
      stdout: "pipe",
      stderr,
    });
  }

  async run(args: string[], options: SpawnOptions = {}): Promise<SpawnResult> {
    const started = Date.now();
    const shown = args.map((a) => (a.length > 24 ? `${a.slice(0, 12)}…` : a)).join(" ");
    const what = `wine kokochat-pairing ${shown}`;
    const timeoutMs = options.timeoutMs ?? 40_000;
    if (!options.stderrFile) return collect(this.spawn(args, options), started, timeoutMs, what);
    const path = join(this.bin, `stderr-${started}-${Math.random().toString(36).slice(2)}.txt`);
    const fd = openSync(path, "w");
    try {
      const r = await collect(this.spawn(args, options, this.exe, fd), started, timeoutMs, what);
      return { ...r, stderr: readFileSync(path, "utf8") };
    } finally {
      closeSync(fd);
      rmSync(path, { force: true });
    }
  }

  /** End a Windows process by its Windows pid (a detached connector has no Linux parent we hold). */
  async taskkill(windowsPid: number): Promise<void> {
    await this.exec([this.tools.wine64, "taskkill", "/F", "/PID", String(windowsPid)], "taskkill", 30_000);
  }

  async tearDown(): Promise<void> {
    try {
      await this.exec([this.tools.wineserver, "-k"], "wineserver -k", 15_000);
    } catch {} // already gone
    rmSync(this.prefix, { recursive: true, force: true });
    rmSync(this.bin, { recursive: true, force: true });
  }
}
