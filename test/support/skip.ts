import { it } from "bun:test";

/** `it` when the condition holds, else `it.skip` — and say on the console what was skipped and why. */
export function itWhen(condition: boolean, reason: string): typeof it {
  if (condition) return it;
  return ((name: string, ...rest: unknown[]) => {
    console.log(`skipped: ${name} — ${reason}`);
    return (it.skip as (...args: unknown[]) => void)(name, ...rest);
  }) as typeof it;
}
