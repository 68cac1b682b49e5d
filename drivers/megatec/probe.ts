// `sigpath probe FILE DEVICE` for a `megatec` serial UPS (contract §1 detail; Megatec reports no runtime or
// charge, so minutesRemaining and chargePercent are null).
import type { Device } from '../../src/domain/config.ts'
import type { ProbeOptions, ProbeResult } from '../types.ts'
import { upsProbeResult } from '../ups/types.ts'
import { MegatecUpsDevice } from './device.ts'

export async function probe(device: Device, options: ProbeOptions): Promise<ProbeResult> {
	const cfg = device.driver
	if (cfg?.type !== 'megatec') throw new Error(`device "${device.id}" is not a megatec device`)
	const dev = new MegatecUpsDevice({ id: device.id, config: cfg, log: options.ctx.log })
	const faults: string[] = []
	try {
		await new Promise<void>((resolve) => {
			const done = () => {
				clearTimeout(timer)
				dev.off('reading', done)
				resolve()
			}
			const timer = setTimeout(done, options.seconds * 1000)
			dev.on('reading', done)
			dev.on('fault', (err) => faults.push(err.message))
			dev.start()
		})
		const r = upsProbeResult(device.id, dev.status)
		if (faults.length > 0) r.detail['errors'] = [...new Set(faults)]
		return r
	} finally {
		await dev.stop()
	}
}
