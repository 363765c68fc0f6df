/**
 * `kokochat-pairing revoke DEVICE [--yes] [--dry-run] [--json]`: mark a
 * device's operator token revoked (`revokedAtMs`), after confirmation on a
 * terminal. DEVICE is a device id or a unique prefix of 8+ hex digits.
 */
import { CliError, usageError } from "../errors.ts";
import { findDevice, locateStore, parseDevicePrefix, readDevices, revokeDevice, revokeState, summarise } from "../devices.ts";
import { parse, STORE_OPTIONS, storeOptions } from "./args.ts";
import { storeJson } from "../store/select.ts";
import { storeName, when, who } from "./format.ts";
import { info, result, resultJson } from "./output.ts";

const OPTIONS = {
  ...STORE_OPTIONS,
  yes: { type: "boolean", short: "y", default: false },
  "dry-run": { type: "boolean", default: false },
  json: { type: "boolean", default: false },
} as const;

/** Exit status when the user answers anything but yes: nothing was changed. */
const DECLINED = 1;

/** One line from stdin (the terminal); "" at end of input. */
function readLine(): Promise<string> {
  return new Promise((resolve) => {
    let buffer = "";
    const finish = (line: string) => {
      process.stdin.off("data", onData);
      process.stdin.off("end", onEnd);
      process.stdin.pause();
      resolve(line);
    };
    const onData = (chunk: Buffer | string) => {
      buffer += chunk.toString();
      const end = buffer.indexOf("\n");
      if (end >= 0) finish(buffer.slice(0, end));
    };
    const onEnd = () => finish(buffer);
    process.stdin.on("data", onData);
    process.stdin.on("end", onEnd);
    process.stdin.resume();
  });
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, OPTIONS);
  const store = storeOptions(values);
  if (positionals.length !== 1)
    throw usageError(`revoke takes one DEVICE (a device id or its first 8+ hex digits, from 'kokochat-pairing devices'): see 'kokochat-pairing --help'`);
  const prefix = parseDevicePrefix(positionals[0]!);
  const at = locateStore(store, process.env);
  const found = findDevice(readDevices(at), prefix);
  const device = summarise(found);
  const where = `the ${storeName(at.store)}`;
  const report = (extra: Record<string, unknown>) =>
    values.json &&
    resultJson({ ok: true, ...extra, device, stateDir: at.state.dir, stateDirSource: at.state.source, store: storeJson(at.store) });

  if (found.unreadable.length > 0)
    throw new CliError(
      "bad-store",
      `device ${device.shortId}…: ${found.unreadable.join(", ")} in ${at.store.path} is not JSON; nothing was changed: remove the device with 'openclaw devices remove <deviceId>'`,
    );
  const before = revokeState(found.record);
  if (before === "no-operator-token") {
    info(`${who(device)} has no operator token in ${where}; nothing to revoke`);
    report({ state: before, changed: false });
    return 0;
  }
  if (before === "already-revoked") {
    info(`the operator token of ${who(device)} was already revoked (${when(device.tokens.find((t) => t.role === "operator")?.revokedAtMs)}); nothing was changed`);
    report({ state: before, changed: false });
    return 0;
  }
  if (values["dry-run"]) {
    info(`dry run: would revoke the operator token of ${who(device)} in ${where}; nothing was written`);
    report({ dryRun: true, state: "would-revoke", changed: false });
    return 0;
  }
  if (!values.yes) {
    if (process.stdin.isTTY !== true)
      throw usageError(`revoking ${who(device)} needs confirmation and stdin is not a terminal: pass --yes`);
    process.stderr.write(
      `Revoke the operator token of ${who(device)}, approved ${when(device.approvedAtMs, "?")}, last used ${when(device.lastUsedAtMs)}?\nThe phone will no longer be able to connect until it is paired again. [y/N] `,
    );
    const answer = (await readLine()).trim().toLowerCase();
    if (answer !== "y" && answer !== "yes") {
      info("not revoked; nothing was changed");
      if (values.json) resultJson({ ok: false, error: { code: "declined", exit: DECLINED, message: "not revoked: the answer was not yes" } });
      return DECLINED;
    }
  }

  const outcome = await revokeDevice(at, found.id, Date.now());
  if (outcome.state === "revoked") {
    info(`Revoked the operator token of ${who(device)} in ${where}.`);
    info("Its next connect is refused (a connection open now lasts until it drops or the gateway restarts); pair the phone again to let it back in.");
    device.token = "revoked";
    for (const t of device.tokens) if (t.role === "operator") Object.assign(t, { state: "revoked", revokedAtMs: outcome.revokedAtMs });
  } else info(`${who(device)}: ${outcome.state === "already-revoked" ? "already revoked meanwhile" : "has no operator token"}; nothing was changed`);
  if (values.json) report({ state: outcome.state, changed: outcome.state === "revoked", ...(outcome.revokedAtMs !== undefined && { revokedAtMs: outcome.revokedAtMs }) });
  else result(found.id);
  return 0;
}
