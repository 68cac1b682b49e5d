// The power model: which power sources are up, and how many protected sources each device has left, given the
// config and what the UPS devices report. Pure: no I/O, no clock, no logger. The runtime feeds it driver
// states and re-judges live compliance with `liveConfig()` (the rule of src/rule is pure too).
//
// How a UPS state counts for the `ups` power source its device monitors (powerSources[].device):
//   online                         protected  the load is on the inverter (or line-interactive) with a battery behind it
//   on-battery                     at-risk    still protected, but only for minutesRemaining: alarm, do not remove
//   bypass                         unprotected the load is on raw utility: powered, not UPS-protected (counts as a
//                                             non-ups source: live compliance sees `power-not-ups`)
//   low-battery (incl. depleted)   lost       the UPS will drop the load any moment (NUT upsmon shuts down here)
//   off                            lost       no output
//   comm-lost, last seen on battery lost     NUT upsmon's rule: a UPS that falls silent on battery is taken to be
//                                             on low battery (it is the silence you get when the battery dies)
//   comm-lost, otherwise           unknown    last seen online or bypass: assumed still feeding; counted as
//                                             protected (its last known state), flagged so the operator knows
//   never read                     unknown    as above: a restart must not declare every source lost
// A ups source with no monitoring device, and utility/generator sources, are taken as configured (not monitored).
// A source whose upstream source is lost is not lost itself: that is exactly what a UPS is for.

export type UpsPower = 'online' | 'on-battery' | 'low-battery' | 'bypass' | 'off'

/** What a UPS driver reports, reduced to what the power model needs. */
export interface UpsObservation {
	/** the last power state the device reported, null before its first report */
	power: UpsPower | null
	/** the driver has lost contact (SNMP agent silent, upsd dead/stale, serial silent) */
	commLost: boolean
}

export type SourceState = 'protected' | 'at-risk' | 'unprotected' | 'lost' | 'unknown' | 'unmonitored'

export interface SourceStatus {
	id: string
	kind: 'utility' | 'generator' | 'ups'
	state: SourceState
	/** the monitoring UPS device, if any */
	device?: string
	reason: string
}

export interface DevicePower {
	device: string
	/** distinct sources listed in the config */
	sources: number
	/** ups sources still protecting it (protected, at-risk, unknown, unmonitored ups) */
	protectedSources: number
	/** of those, on battery right now */
	atRisk: string[]
	lost: string[]
	unprotected: string[]
}

export interface PowerReport {
	sources: Map<string, SourceStatus>
	devices: Map<string, DevicePower>
}

/** Minimal config shape (a subset of src/domain/config.ts Config), so the model is testable on its own. */
export interface PowerConfig {
	powerSources: readonly {
		id: string
		kind: 'utility' | 'generator' | 'ups'
		device?: string | undefined
		surgeProtected: boolean
	}[]
	devices: readonly { id: string; power: readonly string[] }[]
}

export function sourceState(obs: UpsObservation | undefined): { state: SourceState; reason: string } {
	if (!obs || obs.power === null) return { state: 'unknown', reason: 'not read yet' }
	if (obs.commLost) {
		if (obs.power === 'on-battery' || obs.power === 'low-battery')
			return { state: 'lost', reason: `UPS silent while on battery (last ${obs.power}): taken as low battery` }
		if (obs.power === 'off') return { state: 'lost', reason: 'UPS silent, last seen off' }
		return { state: 'unknown', reason: `UPS silent, last seen ${obs.power}` }
	}
	switch (obs.power) {
		case 'online':
			return { state: 'protected', reason: 'online' }
		case 'on-battery':
			return { state: 'at-risk', reason: 'on battery' }
		case 'bypass':
			return { state: 'unprotected', reason: 'on bypass: load on raw utility' }
		case 'low-battery':
			return { state: 'lost', reason: 'low battery' }
		case 'off':
			return { state: 'lost', reason: 'output off' }
	}
}

/** `ups` maps a UPS device id to its observation. */
export function powerReport(config: PowerConfig, ups: ReadonlyMap<string, UpsObservation>): PowerReport {
	const sources = new Map<string, SourceStatus>()
	for (const ps of config.powerSources) {
		if (ps.kind !== 'ups' || ps.device === undefined) {
			sources.set(ps.id, { id: ps.id, kind: ps.kind, state: 'unmonitored', reason: 'not monitored' })
			continue
		}
		const { state, reason } = sourceState(ups.get(ps.device))
		sources.set(ps.id, { id: ps.id, kind: ps.kind, state, device: ps.device, reason })
	}
	const devices = new Map<string, DevicePower>()
	for (const d of config.devices) {
		const ids = [...new Set(d.power)]
		const dp: DevicePower = {
			device: d.id,
			sources: ids.length,
			protectedSources: 0,
			atRisk: [],
			lost: [],
			unprotected: [],
		}
		for (const id of ids) {
			const s = sources.get(id)
			if (!s) continue
			if (s.state === 'lost') dp.lost.push(id)
			else if (s.state === 'unprotected') dp.unprotected.push(id)
			else if (s.kind === 'ups') {
				dp.protectedSources++
				if (s.state === 'at-risk') dp.atRisk.push(id)
			}
		}
		devices.set(d.id, dp)
	}
	return { sources, devices }
}

/**
 * The config as it stands now, for re-judging live compliance with the pure rule: lost sources are removed from
 * every device's `power`, and a UPS on bypass becomes a `utility` source (powered, not protected). Everything
 * else is the same object graph, so the rule's report reads exactly as `sigpath check` would on that config.
 */
export function liveConfig<C extends PowerConfig>(config: C, report: PowerReport): C {
	const lost = new Set([...report.sources.values()].filter((s) => s.state === 'lost').map((s) => s.id))
	const bypass = new Set([...report.sources.values()].filter((s) => s.state === 'unprotected').map((s) => s.id))
	return {
		...config,
		powerSources: config.powerSources.map((ps) => (bypass.has(ps.id) ? { ...ps, kind: 'utility' as const } : ps)),
		devices: config.devices.map((d) => ({ ...d, power: d.power.filter((p) => !lost.has(p)) })),
	}
}

/** One line per device that is down to fewer than `min` protected sources: what the runtime alarms on. */
export function atRiskDevices(report: PowerReport, min = 2): DevicePower[] {
	return [...report.devices.values()].filter((d) => d.sources >= min && d.protectedSources < min)
}
