// The power monitor: the contribution rule kept live as UPS units report (docs/contract.md §3 and §7). Pure: the
// config and each UPS's latest reading in, the power alarms that changed and each feed's live compliance out. No
// clock, no I/O, no logger, so replay and property tests drive it as the daemon does.
//
// - A UPS on battery raises `power-on-battery`; low battery (or contact lost while on battery) raises
//   `power-low-battery` instead. Each is held per UPS until it clears.
// - A device of a critical feed that is down to fewer than two protected sources, or has one on battery, makes the
//   feed `at-risk` (held per feed, apart from the engine's at-risk of too few healthy paths: two causes, two
//   alarms; its message names each such device).
// - Live compliance is the rule itself judged on the config as it stands: lost sources removed, a UPS on bypass
//   counted as utility (see liveConfig in src/domain/power.ts).
import { alarmId } from '../domain/alarms.ts'
import type { Config } from '../domain/config.ts'
import type { FeedKey } from '../domain/model.ts'
import { liveConfig, powerReport, type PowerReport, type UpsObservation, type UpsPower } from '../domain/power.ts'
import { judge, type Violation } from './index.ts'

/** What a UPS driver last reported, as the power monitor needs it. */
export interface UpsReading {
	power: UpsPower | null
	commLost: boolean
	minutesRemaining: number | null
}

export type PowerAlarmCode = 'power-on-battery' | 'power-low-battery' | 'at-risk'

/** A held power alarm, as it stands after an update: `id` names the condition (one per UPS and code, one per feed). */
export interface PowerAlarm {
	id: string
	code: PowerAlarmCode
	active: boolean
	device?: string
	feed?: FeedKey
	/** the condition as it stands (what a raise says) */
	message: string
	/** what a clear says: the condition ended, and how things stand now */
	cleared: string
}

export interface FeedCompliance {
	compliant: boolean
	violations: Violation[]
}

export interface PowerStep {
	report: PowerReport
	/** every power alarm's state now, in a stable order (UPS alarms, then feeds): the alarm manager keeps the changes */
	alarms: PowerAlarm[]
	/** the feeds whose live compliance changed with this update */
	changed: FeedKey[]
}

const minutes = (r: UpsReading | undefined): string =>
	r?.minutesRemaining != null ? `${r.minutesRemaining} min left` : ''

/** A UPS as it stands now, for the clear of one of its alarms (which may end because another began). */
function upsNow(id: string, r: UpsReading, lowish: boolean): string {
	const left = minutes(r)
	if (lowish) return `UPS ${id}: battery now low${left ? `, ${left}` : ''} (power-low-battery)`
	switch (r.power) {
		case 'online':
			return `UPS ${id} back on mains`
		case 'bypass':
			return `UPS ${id} off battery, on bypass (mains, not protected)`
		case 'on-battery':
			return `UPS ${id} no longer low, still on battery${left ? ` (${left})` : ''}`
		case 'off':
			return `UPS ${id} is off`
		default:
			return `UPS ${id} no longer reports battery power`
	}
}

export class PowerMonitor {
	private readonly compliance = new Map<FeedKey, FeedCompliance>()
	private last: PowerReport | undefined

	constructor(private readonly config: Config) {
		for (const f of judge(config).feeds)
			this.compliance.set(`${f.event}/${f.feed}`, { compliant: f.compliant, violations: f.violations })
	}

	/** The power model after the last update (undefined before any). */
	get report(): PowerReport | undefined {
		return this.last
	}

	/** A feed's compliance: the config's at start, then live. */
	feedCompliance(key: FeedKey): FeedCompliance | undefined {
		return this.compliance.get(key)
	}

	/** Every UPS's latest reading (UPS devices not in the map have never reported). */
	update(readings: ReadonlyMap<string, UpsReading>): PowerStep {
		const obs = new Map<string, UpsObservation>()
		for (const [id, r] of readings) obs.set(id, { power: r.power, commLost: r.commLost })
		const report = powerReport(this.config, obs)
		this.last = report
		const alarms: PowerAlarm[] = []
		for (const [id, r] of readings) {
			const lowish = r.power === 'low-battery' || (r.commLost && r.power === 'on-battery')
			const left = minutes(r)
			alarms.push({
				id: alarmId.device('power-low-battery', id),
				code: 'power-low-battery',
				active: lowish,
				device: id,
				message: `UPS ${id}: low battery${left ? `, ${left}` : ''}${r.commLost && r.power === 'on-battery' ? ' (silent while on battery)' : ''}`,
				cleared: upsNow(id, r, false),
			})
			alarms.push({
				id: alarmId.device('power-on-battery', id),
				code: 'power-on-battery',
				active: r.power === 'on-battery' && !lowish,
				device: id,
				message: `UPS ${id} is on battery${left ? ` (${left})` : ''}`,
				cleared: upsNow(id, r, lowish),
			})
		}
		const live = judge(liveConfig(this.config, report))
		// a device is weak when it is down to fewer than two protected sources, or one of them is on battery
		const weak = new Map(
			[...report.devices.values()]
				.filter((d) => d.sources >= 2 && (d.protectedSources < 2 || d.atRisk.length > 0))
				.map((d) => [d.device, d]),
		)
		const changed: FeedKey[] = []
		const viaOf = new Map<FeedKey, string[]>()
		for (const e of this.config.events)
			for (const f of e.feeds) if (f.critical) viaOf.set(`${e.id}/${f.id}`, [...new Set(f.paths.flatMap((p) => p.via))])
		for (const f of live.feeds) {
			const key: FeedKey = `${f.event}/${f.feed}`
			const was = this.compliance.get(key)
			this.compliance.set(key, { compliant: f.compliant, violations: f.violations })
			if (was?.compliant !== f.compliant) changed.push(key)
			const via = viaOf.get(key)
			if (!via) continue
			const devices = via.filter((d) => weak.has(d))
			const msg = devices
				.map((d) => {
					const w = weak.get(d)!
					const onBattery = w.atRisk.length > 0 ? ` (${w.atRisk.join(', ')} on battery)` : ''
					return `${d} has ${w.protectedSources} protected power source${w.protectedSources === 1 ? '' : 's'} left${onBattery}`
				})
				.join('; ')
			alarms.push({
				id: alarmId.atRiskPower(key),
				code: 'at-risk',
				active: devices.length > 0,
				feed: key,
				message: `feed ${key} is at risk: ${msg}`,
				cleared: `feed ${key}: no longer at risk from power (its devices have their protected sources back)`,
			})
		}
		return { report, alarms, changed }
	}
}
