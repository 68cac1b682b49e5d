// Simulators for configured UPS devices (for `sigpath lab` and tests): each speaks the device's real protocol
// where the config says the device is. snmp-ups: the SNMP agent simulator serving UPS-MIB; nut: a upsd
// simulator serving the configured UPS name; megatec: a Q1 serial simulator on the *other* end of a pty pair
// (the lab creates the pair, e.g. with socat, and passes that end as `megatecPeerPath`).
import type { Device } from '../../src/domain/config.ts'
import type { Resolved } from '../../src/domain/primitives.ts'
import { MegatecSim } from '../megatec/sim.ts'
import { NutSim } from '../nut/sim.ts'
import { simForDriver, SnmpAgentSim, type TrapTarget } from '../snmp/sim.ts'

export { MegatecSim, NutSim, SnmpAgentSim }

export type UpsSim = SnmpAgentSim | NutSim | MegatecSim

export interface UpsSimOptions {
	/** where snmp-ups simulators send their traps (the daemon's trap receiver) */
	trapTarget?: TrapTarget
	/** megatec: the pty end the simulator opens (the driver opens the configured serial.path) */
	megatecPeerPath?: string
}

/** A simulator for a UPS device of the config, not yet started; null for other drivers. */
export function simForUps(device: Resolved<Device>, o: UpsSimOptions = {}): UpsSim | null {
	const d = device.driver
	switch (d?.type) {
		case 'snmp-ups':
			return simForDriver(d, o.trapTarget)
		case 'nut':
			return new NutSim({
				host: d.host,
				port: d.port,
				ups: {
					[d.ups]: {
						description: device.name ?? device.id,
						vars: {
							'ups.status': 'OL',
							'battery.charge': '100',
							'battery.runtime': '2400',
							'ups.model': 'sigpath sim',
							'device.type': 'ups',
						},
					},
				},
			})
		case 'megatec':
			if (o.megatecPeerPath === undefined) throw new Error(`device "${device.id}": a megatec sim needs megatecPeerPath`)
			return new MegatecSim({ path: o.megatecPeerPath })
		default:
			return null
	}
}
