// `sigpath probe FILE DEVICE` for an `snmp-ups` UPS (contract §1 detail: power, minutesRemaining, chargePercent).
import type { Device } from '../../src/domain/config.ts'
import type { ProbeOptions, ProbeResult } from '../types.ts'
import { SnmpUpsDevice } from './device.ts'
import { upsProbeResult } from './types.ts'

export async function probe(device: Device, options: ProbeOptions): Promise<ProbeResult> {
	const cfg = device.driver
	if (cfg?.type !== 'snmp-ups') throw new Error(`device "${device.id}" is not an snmp-ups device`)
	const dev = new SnmpUpsDevice({
		id: device.id,
		config: { ...cfg, traps: false },
		log: options.ctx.log,
		env: options.ctx.env,
	})
	try {
		await new Promise<void>((resolve) => {
			const done = () => {
				clearTimeout(timer)
				dev.off('reading', done)
				dev.off('fault', done)
				resolve()
			}
			const timer = setTimeout(done, options.seconds * 1000)
			dev.on('reading', done)
			dev.on('fault', done)
			dev.start()
		})
		return upsProbeResult(device.id, dev.status)
	} finally {
		await dev.stop()
	}
}
