// `sigpath probe FILE DEVICE` for an `snmp` signal device (contract §1): one full read, then disconnect.
import type { Device } from '../../src/domain/config.ts'
import type { ProbeOptions, ProbeResult } from '../types.ts'
import { SnmpSignalDevice } from './device.ts'

export async function probe(device: Device, options: ProbeOptions): Promise<ProbeResult> {
	const cfg = device.driver
	if (cfg?.type !== 'snmp') throw new Error(`device "${device.id}" is not an snmp device`)
	const dev = new SnmpSignalDevice({
		id: device.id,
		config: { ...cfg, traps: false },
		log: options.ctx.log,
		env: options.ctx.env,
	})
	try {
		await firstAnswer(dev, options.seconds * 1000)
		return dev.probeResult()
	} finally {
		await dev.stop()
	}
}

/** Resolves at the first reading or the first failed poll (after its retries), or at the deadline. */
function firstAnswer(dev: SnmpSignalDevice, ms: number): Promise<void> {
	return new Promise((resolve) => {
		const done = () => {
			clearTimeout(timer)
			dev.off('reading', done)
			resolve()
		}
		const timer = setTimeout(done, ms)
		dev.on('reading', done)
		dev.start()
	})
}
