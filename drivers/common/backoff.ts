// The one reconnect backoff of every driver (router links, SRT, SNMP polls, NUT, Megatec): capped exponential with
// "equal jitter" (AWS Architecture Blog, "Exponential Backoff And Jitter"). Attempt n has a ceiling of
// min(maxMs, initialMs * 2^n); the delay is half that ceiling plus a random part of the other half.
//
// Why equal jitter: after a power cut every controller (and every driver of one controller) loses the same device
// at the same instant; the random half decorrelates their retries so a device that is booting is not hit in
// lockstep, and the fixed half is a floor (initialMs / 2) so a device that refuses at once is never hammered, as
// full jitter (which may draw 0 ms) would allow. Drivers already used this rule in four of five places.
//
// The random source is injectable so tests are deterministic; reset() after a success (each driver decides what
// counts: a router link resets only after a connection that stayed up).

export interface BackoffOptions {
	/** the first attempt's ceiling, ms; half of it is the floor of every delay */
	initialMs: number
	/** the cap of every delay, ms */
	maxMs: number
	/** uniform in [0, 1); default Math.random (read at each call, so a test may spy on it) */
	random?: () => number
}

/** past this the ceiling is the cap anyway; bounding it keeps 2 ** n finite */
const MAX_EXPONENT = 30

export class Backoff {
	#attempt = 0
	readonly #initialMs: number
	readonly #maxMs: number
	readonly #random: () => number

	constructor(o: BackoffOptions) {
		if (!(o.initialMs > 0) || !(o.maxMs > 0))
			throw new Error(`backoff needs positive delays, got ${o.initialMs}/${o.maxMs}`)
		this.#initialMs = o.initialMs
		this.#maxMs = o.maxMs
		this.#random = o.random ?? (() => Math.random())
	}

	/** how many delays were given since the last reset */
	get attempt(): number {
		return this.#attempt
	}

	/** the lowest delay this backoff ever gives */
	get floorMs(): number {
		return Math.min(this.#initialMs, this.#maxMs) / 2
	}

	/** the next delay, ms (whole), and one more attempt counted */
	next(): number {
		const ceiling = Math.min(this.#maxMs, this.#initialMs * 2 ** Math.min(this.#attempt, MAX_EXPONENT))
		this.#attempt++
		// a random source that strays outside [0, 1] must not break the bounds
		const r = Math.min(1, Math.max(0, this.#random()))
		const delay = Math.round(ceiling / 2 + r * (ceiling / 2))
		return Math.min(ceiling, Math.max(Math.ceil(this.floorMs), delay))
	}

	/** a success: the next delay is the first one again */
	reset(): void {
		this.#attempt = 0
	}
}
