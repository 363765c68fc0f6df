#!/usr/bin/env bun
/**
 * Entry point: argv → command → the one catch → exit code.
 * Commands are imported lazily so `--version` and `--help` load nothing else.
 */
import { CliError, EXIT } from "./errors.ts";
import { errorLine, info, resultAlone, resultJson } from "./cli/output.ts";

type Command = { run(argv: string[]): Promise<number> };

const COMMANDS: Record<string, () => Promise<Command>> = {
  pair: () => import("./cli/pair.ts"),
  connector: () => import("./cli/connector.ts"),
  service: () => import("./cli/service.ts"),
  devices: () => import("./cli/devices.ts"),
  revoke: () => import("./cli/revoke.ts"),
  doctor: () => import("./cli/doctor.ts"),
};

const HELP = `kokochat-pairing — approve a KokoChat phone on this OpenClaw gateway

Usage:
  kokochat-pairing [pair] [REQUEST…]   approve a pairing request, print the setup code
  kokochat-pairing connector           run the relay connector in the foreground
  kokochat-pairing service install|uninstall|status
                                       run the connector as a service (systemd/launchd/logon task)
  kokochat-pairing devices             list paired devices (never their tokens)
  kokochat-pairing revoke DEVICE       revoke a device's operator token
  kokochat-pairing doctor              explain what the tool sees and what is wrong
  kokochat-pairing --help | --version

The request is read from KOKOCHAT_PAIRING_REQUEST, else the arguments, else
piped stdin: raw JSON, base64url or base64, alone or inside a chat message.

pair options:
  --state-dir DIR          OpenClaw state dir (default: as OpenClaw resolves it)
  --store auto|sqlite|json device store to write (default: the one the gateway reads)
  --relay-url URL          relay base URL (default: KOKOCHAT_RELAY_URL or wss://deeply.plus/relay)
  --insecure-relay         allow a ws:// relay on a non-loopback host
  --no-connector           do not start the relay connector
  --limited                never grant operator.admin
  --json                   print one JSON object instead of the setup code
  --dry-run                validate and report; write nothing, print no code

connector options:
  --config FILE            connector config (default: kokochat-relay/relay.json in the state dir)
  --state-dir DIR          OpenClaw state dir

service options:
  --state-dir DIR          OpenClaw state dir the service connector uses
  --dry-run                print the unit instead of installing it

devices options: --json, --all (every device, not only KokoChat's), --state-dir DIR, --store
revoke options:  DEVICE is a device id or its first 8+ hex digits; --yes (needed when
                 stdin is not a terminal), --dry-run, --json, --state-dir DIR, --store
doctor options:  --json, --state-dir DIR; exit 1 when it finds a problem

Exit codes: 0 ok, 64 usage, 65 invalid request, 66 no request, 69 store not
there yet, 70 internal, 74 I/O, 75 busy (retry), 77 refused, 78 unreadable or
unknown store/config; revoke: 1 when the answer was not yes; doctor: 1 when a
problem was found.
`;

async function main(argv: string[]): Promise<number> {
  const first = argv[0];
  if (first === "--version" || first === "-v") {
    const { VERSION } = await import("./version.ts");
    await resultAlone(VERSION);
    return EXIT.ok;
  }
  if (first === "--help" || first === "-h" || first === "help") {
    await resultAlone(HELP.trimEnd()); // process.stdout would load Node's stream machinery (+4 ms, +4 MiB)
    return EXIT.ok;
  }
  const name = first !== undefined && Object.hasOwn(COMMANDS, first) ? first : "pair";
  const rest = name === first ? argv.slice(1) : argv;
  const command = await COMMANDS[name]!();
  return command.run(rest);
}

const wantsJson = (argv: string[]) => argv.includes("--json");

let exitCode: number;
try {
  exitCode = await main(process.argv.slice(2));
} catch (error) {
  const known = error instanceof CliError;
  const code = known ? error.code : "internal";
  const exit = known ? error.exitCode : EXIT.internal;
  const message = known
    ? error.message
    : `internal error (${error instanceof Error ? error.name : typeof error}): please report it with 'kokochat-pairing doctor' output`;
  if (wantsJson(process.argv)) resultJson({ ok: false, error: { code, exit, message } });
  errorLine(message);
  if (!known && process.env.KOKOCHAT_DEBUG) info(String((error as Error)?.stack ?? error));
  exitCode = exit;
}
// Every write above was synchronous. Exit now rather than when the event loop
// drains: a gateway probe still waiting on a silent port (Bun.connect cannot be
// cancelled) must not hold a finished command open.
process.exit(exitCode);
