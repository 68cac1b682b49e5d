// What the daemon listens to on each device (wiring only, moved out of daemon.ts to keep it short): every change of
// a device's state goes to the publisher, every first sync to the readiness check, signal reports and UPS power to
// the daemon's own handlers.
import type { Logger } from 'pino'
import type { Router } from '../../drivers/router/index.ts'
import type { UpsDevice } from '../../drivers/ups/index.ts'
import type { SignalSource } from './devices.ts'
import type { Publisher } from './publisher.ts'

export interface DeviceEventDeps {
	log: Logger
	publisher: Publisher
	running: () => boolean
	/** a device completed a sync: the readiness check looks again */
	synced: () => void
	signal: (device: string, state: 'up' | 'down' | 'degraded' | 'unknown', at: number, reason?: string) => void
	power: (u: UpsDevice) => void
}

export function listenToDevices(
	routers: ReadonlyMap<string, Router>,
	sources: readonly SignalSource[],
	ups: readonly UpsDevice[],
	d: DeviceEventDeps,
): void {
	for (const [id, router] of routers) {
		router.on('synced', () => {
			if (!d.running()) return
			d.publisher.device(id)
			d.synced()
		})
		router.on('connection', (e) => {
			d.publisher.device(id)
			if (!e.connected) d.log.warn({ router: id, state: e.state, reason: e.reason }, 'router link down')
		})
		router.on('freshness', () => d.publisher.device(id))
		router.on('lock', () => d.publisher.device(id))
	}
	for (const src of sources) {
		src.on('signal', (e) => d.signal(src.deviceId, e.state, e.at, e.reason))
		src.on('synced', () => d.synced())
		src.on('status', () => d.publisher.device(src.deviceId))
	}
	for (const u of ups) {
		u.on('power', () => d.power(u))
		u.on('reading', () => d.publisher.device(u.id))
		u.on('freshness', () => d.publisher.device(u.id))
		u.on('synced', () => {
			d.power(u)
			d.synced()
		})
	}
}
