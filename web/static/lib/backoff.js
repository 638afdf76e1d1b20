// @ts-check
/**
 * Reconnect delays: exponential backoff with jitter ("equal jitter": half the cap fixed, half
 * random), so a thousand readers dropped at once do not return at once. Pure: the random
 * source is injected.
 */

export class Backoff {
  /**
   * @param {object} [options]
   * @param {number} [options.baseMs] cap of the first delay
   * @param {number} [options.maxMs] largest cap
   * @param {() => number} [options.random] uniform in [0, 1)
   */
  constructor({ baseMs = 1000, maxMs = 30000, random = Math.random } = {}) {
    this.baseMs = baseMs;
    this.maxMs = maxMs;
    this.random = random;
    this.attempt = 0;
  }

  /** The cap for the current attempt: `min(maxMs, baseMs · 2^attempt)`. */
  cap() {
    return Math.min(this.maxMs, this.baseMs * 2 ** this.attempt);
  }

  /** The next delay in ms, in [cap/2, cap); each call doubles the cap up to `maxMs`. */
  next() {
    const cap = this.cap();
    if (cap < this.maxMs) this.attempt += 1;
    return cap / 2 + this.random() * (cap / 2);
  }

  /** A connection worked: start from the smallest delay again. */
  reset() {
    this.attempt = 0;
  }
}
