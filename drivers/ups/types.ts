// What every UPS driver (snmp-ups, nut, megatec) reports, in one vocabulary, so the runtime and the power model
// (src/domain/power.ts) treat them alike.
import type { EventEmitter } from 'node:events'
import type { UpsPower } from '../../src/domain/power.ts'
import type { Freshness, Health, ProbeResult } from '../types.ts'

export type { UpsPower }

/** One full reading of a UPS, as the device reported it. */
export interface UpsReading {
	power: UpsPower
	/** the battery is depleted (UPS-MIB upsBatteryStatus 4); `power` is then low-battery */
	depleted: boolean
	minutesRemaining: number | null
	chargePercent: number | null
	/** protocol-specific facts worth showing (raw status flags, alarms, voltages) */
	extra: Record<string, unknown>
}

export interface UpsStatus {
	/** the last reading, null before the first */
	reading: UpsReading | null
	/** contact lost (the device stopped answering); `reading` is then the last one seen */
	commLost: boolean
	freshness: Freshness
}

export interface UpsEvents {
	/** the power state changed (or comm-lost changed); `previous` is null on the first reading */
	power: [status: UpsStatus, previous: UpsPower | null]
	/** any new reading (also when only minutes or charge changed) */
	reading: [status: UpsStatus]
	freshness: [freshness: Freshness]
	/** first full read after start: the runtime publishes this device only from here (architecture habit 4) */
	synced: []
	/** a failed poll or an answer that made no sense (not an EventEmitter "error": it never throws) */
	fault: [err: Error]
}

export interface UpsDevice extends EventEmitter<UpsEvents> {
	readonly id: string
	start(): void
	stop(): Promise<void>
	readonly status: UpsStatus
	readonly synced: boolean
}

/** docs/contract.md §1 health from a UPS status. */
export function upsHealth(s: UpsStatus): Health {
	if (s.commLost || !s.reading) return 'unknown'
	switch (s.reading.power) {
		case 'online':
			return 'ok'
		case 'on-battery':
		case 'bypass':
			return 'degraded'
		case 'low-battery':
		case 'off':
			return 'down'
	}
}

/** docs/contract.md §1 probe result for any UPS driver. */
export function upsProbeResult(id: string, s: UpsStatus): ProbeResult {
	const r = s.reading
	return {
		device: id,
		connected: s.freshness.connected,
		health: s.freshness.connected ? upsHealth(s) : 'unknown',
		detail: {
			power: r?.power ?? null,
			minutesRemaining: r?.minutesRemaining ?? null,
			chargePercent: r?.chargePercent ?? null,
			depleted: r?.depleted ?? false,
			commLost: s.commLost,
			...(r?.extra ?? {}),
		},
	}
}
