// For `sigpath lab` (#8): the simulator of a config router device, sized from its `size`, speaking its driver's
// protocol. The lab starts it where the config points the driver: `{host, port}` over TCP, or, for a serial SW-P-08
// device, the far end of a pty pair the lab made (`{serialPath}`).
import type { Device } from '../../src/domain/config.ts'
import { Swp08Sim } from '../swp08/sim.ts'
import { VideohubSim } from '../videohub/sim.ts'

export type RouterSim = VideohubSim | Swp08Sim

export function createRouterSim(device: Device): RouterSim {
	const size = device.size ?? { inputs: 16, outputs: 16 }
	switch (device.driver?.type) {
		case 'videohub':
			return new VideohubSim({ inputs: size.inputs, outputs: size.outputs, model: `sigpath lab ${device.id}` })
		case 'swp08':
			return new Swp08Sim({ inputs: size.inputs, outputs: size.outputs })
		default:
			throw new Error(`device "${device.id}" has no router driver to simulate`)
	}
}

/** where the simulator of this device listens over TCP, from its driver config (null for a serial SW-P-08) */
export function simListenAddress(device: Device): { host: string; port: number } | null {
	const d = device.driver
	if (d?.type === 'videohub') return { host: d.host, port: d.port }
	if (d?.type === 'swp08' && d.host !== undefined) return { host: d.host, port: d.port }
	return null
}
