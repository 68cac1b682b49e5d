// The one clock of sigpath. Every timestamp a driver takes, and every engine time the runtime derives, is
// CLOCK_MONOTONIC in fractional milliseconds, so a timestamp taken in native code with
// clock_gettime(CLOCK_MONOTONIC) (the SRT receive threads) compares directly with one taken in JS. Wall time is
// only for people (journal records, alarms, the dashboard), never for deciding.
//
// Parts that read time take a `Clock` in their options (default: `systemClock`), so tests and replay can drive
// them; the pure engine and rule take time as an argument and never import this module.

export interface Clock {
	/** monotonic milliseconds, fractional: for intervals and ordering */
	monotonicMs(): number
	/** wall-clock milliseconds since the epoch: for people, never for deciding */
	wallMs(): number
}

/** Monotonic milliseconds (CLOCK_MONOTONIC on Linux, fractional). */
export function monotonicMs(): number {
	return Number(process.hrtime.bigint()) / 1e6
}

export const systemClock: Clock = { monotonicMs, wallMs: () => Date.now() }
