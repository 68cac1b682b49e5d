// `sigpath probe FILE DEVICE` for a `nut` UPS (contract §1: power, minutesRemaining, chargePercent).
import type { Device } from '../../src/domain/config.ts'
import type { ProbeOptions, ProbeResult } from '../types.ts'
import { upsProbeResult } from '../ups/types.ts'
import { NutUpsDevice } from './device.ts'

export async function probe(device: Device, options: ProbeOptions): Promise<ProbeResult> {
	const cfg = device.driver
	if (cfg?.type !== 'nut') throw new Error(`device "${device.id}" is not a nut device`)
	const faults: string[] = []
	const dev = new NutUpsDevice({ id: device.id, config: cfg, log: options.ctx.log, env: options.ctx.env })
	try {
		await new Promise<void>((resolve) => {
			const done = () => {
				clearTimeout(timer)
				dev.off('reading', done)
				resolve()
			}
			const timer = setTimeout(done, options.seconds * 1000)
			dev.on('reading', done)
			dev.on('fault', (err) => {
				faults.push(err.message)
				// a definitive answer: upsd does not serve that UPS, waiting longer changes nothing
				if ('code' in err && err.code === 'UNKNOWN-UPS') done()
			})
			dev.start()
		})
		const r = upsProbeResult(device.id, dev.status)
		if (faults.length > 0) r.detail['errors'] = [...new Set(faults)]
		return r
	} finally {
		await dev.stop()
	}
}
