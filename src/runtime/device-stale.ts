// device-stale (docs/contract.md §7): a device whose control link is lost or unanswered. One alarm per device
// (`device-stale:<device>`), judged from what the drivers already track, so the alarm and the device's own state
// (`/status`, MQTT device state) never disagree:
// - after its first sync, the shared freshness tracker (drivers/common/freshness.ts) with the device's staleMs
//   (driver.staleMs, else drivers.staleMs [5000]; src/domain/drivers.ts staleMsOf): a router with no frame for
//   staleMs, link up or down; an SNMP or UPS poller (snmp, snmp-ups, NUT, Megatec) with no good answer for staleMs.
//   Cleared on the next answer.
// - before it, the first sync (first-sync.ts, docs/contract.md §6a): a device not synced by startup.readyTimeoutMs
//   (a router never reached, a poller never answered, an SRT listener that cannot bind) stands as device-stale until
//   it syncs. Devices come up at their own pace at start; the ready timeout is the start's bound, staleMs the
//   running daemon's.
// Both causes are one condition of one device: whichever holds, the alarm stands, and it clears when neither does.
// A router's device-stale is major (no take can be made on it, no tally followed); any other device's is minor.
import type { Router } from '../../drivers/router/index.ts'
import type { Freshness } from '../../drivers/types.ts'
import type { UpsDevice } from '../../drivers/ups/index.ts'
import { alarmId, type AlarmSeverity } from '../domain/alarms.ts'
import type { Config } from '../domain/config.ts'
import { staleMsOf } from '../domain/drivers.ts'
import type { Condition } from './alarms.ts'
import type { SignalSource } from './devices.ts'

interface Watched {
	label: string
	severity?: AlarmSeverity
	staleMs: number | undefined
	synced: () => boolean
	/** the shared tracker's view; undefined: no control link judged here (an SRT receiver) */
	freshness: () => Freshness | undefined
	/** a session's link is down (routers): said in the message */
	session: boolean
}

export interface DeviceStaleDeps {
	config: Config
	hold: (c: Condition) => void
	/** false while starting or stopping: a device's links going down at stop are no alarm */
	running: () => boolean
}

const LABEL: Record<string, string> = {
	router: 'router',
	ups: 'UPS',
	'srt-receiver': 'SRT receiver',
	ird: 'IRD',
	other: 'device',
}

export class DeviceStale {
	private readonly devices = new Map<string, Watched>()
	/** devices through their first sync at least once: from then on freshness decides */
	private readonly everSynced = new Set<string>()
	/** devices the first sync gave up on at its timeout, with why */
	private readonly unsynced = new Map<string, string>()
	/** the cause an active alarm was raised for */
	private readonly raised = new Map<string, 'silent' | 'unsynced'>()
	/** why each router's link last went down */
	private readonly linkReason = new Map<string, string>()

	constructor(private readonly d: DeviceStaleDeps) {}

	/** Follows every device with a driver: re-judged on each of its freshness, link and sync events. */
	watch(routers: ReadonlyMap<string, Router>, sources: readonly SignalSource[], ups: readonly UpsDevice[]): void {
		for (const [id, r] of routers) {
			this.add(id, { synced: () => r.isSynced(), freshness: () => r.freshness(), session: true }, 'major')
			r.on('freshness', () => this.check(id))
			r.on('synced', () => this.check(id))
			r.on('connection', (e) => {
				if (!e.connected && e.reason !== undefined) this.linkReason.set(id, e.reason)
				this.check(id)
			})
		}
		for (const s of sources) {
			const id = s.deviceId
			this.add(id, { synced: () => s.isSynced(), freshness: () => s.freshness?.(), session: false })
			s.on('status', () => this.check(id))
			s.on('synced', () => this.check(id))
		}
		for (const u of ups) {
			this.add(u.id, { synced: () => u.synced, freshness: () => u.status.freshness, session: false })
			u.on('freshness', () => this.check(u.id))
			u.on('synced', () => this.check(u.id))
		}
	}

	/** The first sync's verdict at its timeout (true: not synced, with why), and its end (false: synced since). */
	firstSync(device: string, stale: boolean, why: string): void {
		if (stale) this.unsynced.set(device, why)
		else this.unsynced.delete(device)
		this.check(device)
	}

	/** Re-judges one device: raises or clears its device-stale alarm when the verdict changed. */
	check(id: string): void {
		const w = this.devices.get(id)
		if (!w || !this.d.running()) return
		if (w.synced()) this.everSynced.add(id)
		const f = w.freshness()
		const silent = this.everSynced.has(id) && w.staleMs !== undefined && f?.stale === true
		const cause = silent ? 'silent' : this.unsynced.has(id) ? 'unsynced' : null
		const was = this.raised.get(id)
		if ((cause === null) === (was === undefined)) return
		const name = `${w.label} ${id}`
		if (cause !== null) this.raised.set(id, cause)
		else this.raised.delete(id)
		const why = this.unsynced.get(id) ?? 'no answer'
		const link = w.session && f && !f.connected ? `; link down${this.reason(id)}` : ''
		this.d.hold({
			id: alarmId.device('device-stale', id),
			code: 'device-stale',
			active: cause !== null,
			device: id,
			...(w.severity ? { severity: w.severity } : {}),
			message:
				cause === 'silent'
					? `${name}: no answer for over ${seconds(w.staleMs!)}${link}`
					: `${name} has not completed its first sync: ${why}`,
			cleared: was === 'unsynced' ? `${name} has completed its first sync` : `${name} is answering again`,
		})
	}

	private add(id: string, w: Omit<Watched, 'label' | 'staleMs'>, severity?: AlarmSeverity): void {
		const dev = this.d.config.devices.find((d) => d.id === id)
		const staleMs = dev?.driver ? staleMsOf(dev.driver, this.d.config.drivers?.staleMs) : undefined
		const label = LABEL[dev?.role ?? ''] ?? dev?.role ?? 'device'
		this.devices.set(id, { ...w, label, staleMs, ...(severity ? { severity } : {}) })
	}

	private reason(id: string): string {
		const r = this.linkReason.get(id)
		return r ? `: ${r}` : ''
	}
}

function seconds(ms: number): string {
	return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`
}
