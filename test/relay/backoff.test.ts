import { describe, expect, it } from "bun:test";
import { Backoff } from "../../src/relay/backoff.ts";

describe("reconnect backoff", () => {
  it("grows exponentially from the initial delay up to the cap", () => {
    const b = new Backoff({ random: () => 0, jitter: 0.25 });
    const delays = Array.from({ length: 8 }, () => b.next());
    expect(delays).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]);
  });

  it("takes up to `jitter` of each delay off at random", () => {
    const b = new Backoff({ random: () => 0.999999, jitter: 0.25 });
    expect(b.next()).toBe(750);
    expect(b.next()).toBe(1_500);
  });

  it("does not reset after a link that dropped at once", () => {
    let now = 0;
    const b = new Backoff({ random: () => 0, now: () => now, stableAfterMs: 10_000 });
    b.next();
    b.next();
    b.connected();
    now += 500;
    expect(b.next()).toBe(4_000);
  });

  it("resets only after the link stayed up for stableAfterMs", () => {
    let now = 0;
    const b = new Backoff({ random: () => 0, now: () => now, stableAfterMs: 10_000 });
    b.next();
    b.next();
    b.next();
    b.connected();
    now += 10_000;
    expect(b.next()).toBe(1_000);
    expect(b.attempt).toBe(1);
  });

  it("rejects options that make no sense with a RangeError naming the option", () => {
    expect(() => new Backoff({ initialDelayMs: 0 })).toThrow(/initialDelayMs/);
    expect(() => new Backoff({ maxDelayMs: 10, initialDelayMs: 100 })).toThrow(/maxDelayMs/);
    expect(() => new Backoff({ jitter: 2 })).toThrow(/jitter/);
    expect(() => new Backoff({ factor: 0.5 })).toThrow(/factor/);
  });
});
