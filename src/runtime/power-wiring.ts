// The UPS devices wired to the power monitor (src/rule/power.ts): each UPS's power state, when it changes, is
// journaled as an observation (replay gives it to the power monitor as the daemon does), the power monitor
// recomputes the power model, the UPS alarms and each feed's live compliance, and the alarm manager raises or clears
// what changed. Split from the daemon, which only calls it.
import type { UpsDevice } from '../../drivers/ups/index.ts'
import type { PowerMonitor } from '../rule/power.ts'
import { upsReadings } from './adapters.ts'
import type { AlarmManager } from './alarms.ts'
import type { EngineLoop } from './loop.ts'
import type { Publisher } from './publisher.ts'

export interface PowerWiring {
	ups: readonly UpsDevice[]
	power: PowerMonitor
	loop: EngineLoop
	publisher: Publisher
	alarms: AlarmManager
	running: () => boolean
	/** a UPS completed its first read (for readiness) */
	synced: () => void
}

export function followPower(w: PowerWiring): void {
	for (const u of w.ups) {
		u.on('power', () => onPower(w, u))
		u.on('reading', () => w.publisher.device(u.id))
		u.on('freshness', () => w.publisher.device(u.id))
		u.on('synced', () => {
			onPower(w, u)
			w.synced()
		})
	}
}

function onPower(w: PowerWiring, u: UpsDevice): void {
	if (!w.running()) return
	const readings = upsReadings(w.ups)
	const r = readings.get(u.id)!
	const t = w.loop.now()
	w.loop.apply({ type: 'ups', t, ups: u.id, ...r }, 'driver')
	const step = w.power.update(readings)
	for (const x of w.ups) w.publisher.device(x.id)
	w.publisher.feeds(step.changed)
	for (const a of step.alarms)
		w.alarms.hold(a.id, a.active, a.code, a.feed ? { feed: a.feed } : { device: a.device! }, a.message, t)
}
