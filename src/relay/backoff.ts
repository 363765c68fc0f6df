/**
 * Reconnect delays: randomised exponential backoff with a cap. The attempt
 * count is reset only after a link stayed up for `stableAfterMs`, so a relay
 * that accepts and then drops at once is not hammered every `initialDelayMs`.
 */
export type BackoffOptions = {
  /** Delay before the first retry. */
  initialDelayMs: number;
  /** No delay is ever longer than this. */
  maxDelayMs: number;
  /** Each failed attempt multiplies the delay by this. */
  factor: number;
  /** Share of each delay that is random: 0.5 gives a delay between 50% and 100% of the nominal one. */
  jitter: number;
  /** A link that stayed up this long resets the attempt count. */
  stableAfterMs: number;
  /** Source of randomness in [0, 1); tests pass a fixed one. */
  random: () => number;
  /** Clock; tests pass a fake one. */
  now: () => number;
};

const DEFAULT_BACKOFF: BackoffOptions = {
  initialDelayMs: 1_000,
  maxDelayMs: 30_000,
  factor: 2,
  jitter: 0.25,
  stableAfterMs: 30_000,
  random: Math.random,
  now: () => performance.now(),
};

export class Backoff {
  readonly options: BackoffOptions;
  #attempt = 0;
  #upSince: number | undefined;

  constructor(options: Partial<BackoffOptions> = {}) {
    this.options = { ...DEFAULT_BACKOFF, ...options };
    const { initialDelayMs, maxDelayMs, factor, jitter } = this.options;
    if (!(initialDelayMs > 0)) throw new RangeError("backoff initialDelayMs: expected a positive number");
    if (!(maxDelayMs >= initialDelayMs)) throw new RangeError("backoff maxDelayMs: expected >= initialDelayMs");
    if (!(factor >= 1)) throw new RangeError("backoff factor: expected >= 1");
    if (!(jitter >= 0 && jitter <= 1)) throw new RangeError("backoff jitter: expected a number in [0, 1]");
  }

  /** Failed attempts since the last stable link. */
  get attempt(): number {
    return this.#attempt;
  }

  /** The link is up: start timing how long it stays up. */
  connected(): void {
    this.#upSince = this.options.now();
  }

  /** The link is down (or never came up): the delay to wait before the next try. */
  next(): number {
    const { initialDelayMs, maxDelayMs, factor, jitter, stableAfterMs, random, now } = this.options;
    if (this.#upSince !== undefined && now() - this.#upSince >= stableAfterMs) this.#attempt = 0;
    this.#upSince = undefined;
    const nominal = Math.min(maxDelayMs, initialDelayMs * factor ** Math.min(this.#attempt, 64));
    this.#attempt++;
    return Math.round(nominal * (1 - jitter * random()));
  }
}
