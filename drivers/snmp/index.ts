// What the runtime uses from drivers/snmp: the signal-device factory and the one trap receiver.
import type { Config, Device } from '../../src/domain/config.ts'
import { splitListen } from '../../src/domain/primitives.ts'
import type { Resolved } from '../../src/domain/primitives.ts'
import type { DriverContext } from '../types.ts'
import { SnmpSignalDevice } from './device.ts'
import { TrapReceiver } from './traps.ts'

export { SnmpSignalDevice, type SignalState } from './device.ts'
export { TrapReceiver, type Notification } from './traps.ts'
export { PROFILES, EXPERIMENTAL_ARC } from './profiles.ts'

/** A signal device for a config device with driver `snmp`, else null. */
export function createSignalDevice(
	device: Resolved<Device>,
	deps: DriverContext & { traps?: TrapReceiver; staleAfterMs?: number },
): SnmpSignalDevice | null {
	const d = device.driver
	if (d?.type !== 'snmp') return null
	return new SnmpSignalDevice({
		id: device.id,
		config: d,
		log: deps.log,
		...(deps.traps ? { traps: deps.traps } : {}),
		...(deps.staleAfterMs !== undefined ? { staleAfterMs: deps.staleAfterMs } : {}),
	})
}

/** The trap/inform receiver of config `traps`, not yet started; null when the config has none. */
export function createTrapReceiver(config: Resolved<Pick<Config, 'traps'>>, deps: DriverContext): TrapReceiver | null {
	if (!config.traps) return null
	const { host, port } = splitListen(config.traps.listen)
	const community = config.traps.community ?? 'public'
	return new TrapReceiver({ host, port, community, log: deps.log })
}
