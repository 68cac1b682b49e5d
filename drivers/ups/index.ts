// The factory the runtime calls per UPS device (role ups, driver snmp-ups | nut | megatec). Every UPS device
// has the same shape (types.ts UpsDevice): start/stop, status (reading, commLost, freshness), typed events
// (power, reading, freshness, synced, fault). Feed `status` to src/domain/power.ts powerReport() as
// { power: status.reading?.power ?? null, commLost: status.commLost }.
import type { Device } from '../../src/domain/config.ts'
import type { UpsPower } from '../../src/domain/power.ts'
import type { Resolved } from '../../src/domain/primitives.ts'
import { MegatecUpsDevice } from '../megatec/device.ts'
import { NutUpsDevice } from '../nut/device.ts'
import type { TrapReceiver } from '../snmp/traps.ts'
import type { DriverContext } from '../types.ts'
import { SnmpUpsDevice } from './device.ts'
import type { UpsDevice, UpsStatus } from './types.ts'

export type { UpsDevice, UpsStatus } from './types.ts'
export { upsHealth, upsProbeResult } from './types.ts'

export interface UpsFactoryDeps extends DriverContext {
	/** the daemon's trap receiver (config `traps`), for snmp-ups devices with `traps: true` */
	traps?: TrapReceiver
	/** no answer for this long makes the UPS stale (the daemon gives the config's staleMs) */
	staleAfterMs?: number
}

/** A UPS device for a config device, or null when its driver is not a UPS driver (or it has none). */
export function createUpsDevice(device: Resolved<Device>, deps: UpsFactoryDeps): UpsDevice | null {
	const d = device.driver
	const log = deps.log
	const stale = deps.staleAfterMs !== undefined ? { staleAfterMs: deps.staleAfterMs } : {}
	switch (d?.type) {
		case 'snmp-ups':
			return new SnmpUpsDevice({
				id: device.id,
				config: d,
				log,
				...(deps.traps ? { traps: deps.traps } : {}),
				...stale,
			})
		case 'nut':
			return new NutUpsDevice({ id: device.id, config: d, log, ...stale })
		case 'megatec':
			return new MegatecUpsDevice({ id: device.id, config: d, log, ...stale })
		default:
			return null
	}
}

/** The power model's input from a device's status. */
export function observation(s: UpsStatus): { power: UpsPower | null; commLost: boolean } {
	return { power: s.reading?.power ?? null, commLost: s.commLost }
}
