// What every driver shares with the runtime. Drivers know nothing of feeds or events: they speak their protocol,
// keep their device's real state and report it in this small vocabulary (docs/architecture.md, habit 5).
import type { Logger } from 'pino'

/** The fixed health vocabulary of docs/contract.md §1 (`sigpath probe`) and §5 (device state). */
export type Health = 'ok' | 'degraded' | 'down' | 'unknown'

/** A signal report of docs/contract.md §4: `unknown` withdraws the source's last report. */
export type SignalReport = 'up' | 'down' | 'degraded' | 'unknown'

/** Freshness, kept by every driver: connected, stale (no good answer for longer than the driver allows), lastOkAt. */
export interface Freshness {
	connected: boolean
	stale: boolean
	/** monotonic ms of the last good answer from the device, or null before the first */
	lastOkAt: number | null
}

/** What `sigpath probe` prints (docs/contract.md §1). */
export interface ProbeResult {
	device: string
	connected: boolean
	health: Health
	detail: Record<string, unknown>
}

/** What a driver gets besides its config. Secrets come resolved in the config (src/domain/secrets.ts resolveSecrets). */
export interface DriverContext {
	log: Logger
}

export interface ProbeOptions {
	/** how long to watch, for drivers that measure over time (SRT); others use it as their connect timeout */
	seconds: number
	ctx: DriverContext
}

/**
 * A driver that cannot run on this machine at all (its native part is missing or does not load): no device of its
 * type can work until an operator fixes the installation, and retrying does not help. The message is one line that
 * names the fix.
 */
export class DriverUnavailableError extends Error {
	override name = 'DriverUnavailableError'
}
