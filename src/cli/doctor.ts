/**
 * `kokochat-pairing doctor [--json] [--state-dir DIR]`: what the tool sees and
 * what is wrong, each problem with its fix. Writes nothing. Exit 0 when all is
 * well, 1 when any problem was found.
 */
import { diagnose } from "../doctor.ts";
import { parse } from "./args.ts";
import { safeText } from "./format.ts";
import { resultJson, result } from "./output.ts";

/** Exit status when doctor found a problem. */
const PROBLEMS_FOUND = 1;

const LABEL = { ok: "ok     ", note: "note   ", problem: "PROBLEM" } as const;

export async function run(argv: string[]): Promise<number> {
  const { values } = parse(argv, { "state-dir": { type: "string" }, json: { type: "boolean", default: false } }, false);
  const report = await diagnose(values["state-dir"] !== undefined ? { stateDir: values["state-dir"] } : {}, process.env);
  if (values.json) resultJson(report);
  else {
    const width = Math.max(...report.checks.map((c) => c.check.length));
    const lines = report.checks.flatMap((c) => [
      `${LABEL[c.status]}  ${c.check.padEnd(width)}  ${safeText(c.summary, 400)}`,
      ...(c.fix ? [`${" ".repeat(9 + width)}  fix: ${safeText(c.fix, 400)}`] : []),
    ]);
    lines.push(report.ok ? "No problems found." : `${report.problems} problem${report.problems === 1 ? "" : "s"} found.`);
    result(lines.join("\n"));
  }
  return report.ok ? 0 : PROBLEMS_FOUND;
}
