// The one place that picks a router driver from the config's `driver.type`, so the daemon (#7), `sigpath take` and
// `sigpath probe` never switch on protocol types themselves.
import type { Device } from '../../src/domain/config.ts'
import type { DriverContext } from '../types.ts'
import { Swp08Router } from '../swp08/connection.ts'
import { VideohubRouter } from '../videohub/connection.ts'
import type { Router } from './types.ts'

export type { Router } from './types.ts'
export { RouterError } from './types.ts'

export interface RouterTuning {
	takeTimeoutMs?: number
	/** keep-alive period: Videohub PING, SW-P-08 interrogate */
	keepAliveMs?: number
	connectTimeoutMs?: number
	/** no frame from the router for this long makes it stale (the daemon gives the config's staleMs) */
	staleAfterMs?: number
}

/** A router for a config device whose driver is `videohub` or `swp08`. Not started: call start(). */
export function createRouter(device: Device, ctx: DriverContext, tuning: RouterTuning = {}): Router {
	const d = device.driver
	const log = ctx.log.child({ device: device.id })
	const common = {
		deviceId: device.id,
		log,
		size: device.size,
		...(tuning.takeTimeoutMs !== undefined ? { takeTimeoutMs: tuning.takeTimeoutMs } : {}),
		...(tuning.connectTimeoutMs !== undefined ? { connectTimeoutMs: tuning.connectTimeoutMs } : {}),
		...(tuning.staleAfterMs !== undefined ? { staleAfterMs: tuning.staleAfterMs } : {}),
	}
	switch (d?.type) {
		case 'videohub':
			return new VideohubRouter({
				...common,
				host: d.host,
				port: d.port,
				...(tuning.keepAliveMs !== undefined ? { pingIntervalMs: tuning.keepAliveMs } : {}),
			})
		case 'swp08': {
			const transport = d.serial
				? { serial: d.serial }
				: d.host !== undefined
					? { tcp: { host: d.host, port: d.port } }
					: null
			if (!transport) throw new Error(`device "${device.id}": a swp08 driver needs host or serial`)
			return new Swp08Router({
				...common,
				transport,
				matrix: d.matrix,
				level: d.level,
				...(tuning.keepAliveMs !== undefined ? { keepAliveMs: tuning.keepAliveMs } : {}),
			})
		}
		default:
			throw new Error(
				`device "${device.id}" is not a router this version drives (driver ${d ? `"${d.type}"` : 'absent'}; routers use videohub or swp08)`,
			)
	}
}

/**
 * The most ports (1-based) the device's router protocol can address, where the protocol has a limit: what
 * `sigpath take` checks before it connects (docs/contract.md §1). Videohub has none of its own (its size is the
 * one the router reports); SW-P-08 carries 16-bit numbers in its extended form.
 */
export function protocolPortLimit(device: Device): { protocol: string; ports: number } | undefined {
	return device.driver?.type === 'swp08' ? Swp08Router.PORT_LIMIT : undefined
}

/** true when the device has a router driver */
export function isRouterDevice(device: Device): boolean {
	return device.driver?.type === 'videohub' || device.driver?.type === 'swp08'
}
