// `sigpath probe FILE DEVICE` for a `nut` UPS (docs/contract.md §1: power, minutesRemaining, chargePercent).
import type { Device } from '../../src/domain/config.ts'
import type { Resolved } from '../../src/domain/primitives.ts'
import { driverOf, probeFirstAnswer, withErrors } from '../common/probe.ts'
import type { ProbeOptions, ProbeResult } from '../types.ts'
import { upsProbeResult } from '../ups/types.ts'
import { NutUpsDevice } from './device.ts'

export async function probe(device: Resolved<Device>, options: ProbeOptions): Promise<ProbeResult> {
	const config = driverOf(device, 'nut')
	const dev = new NutUpsDevice({ id: device.id, config, log: options.ctx.log })
	const faults: string[] = []
	return probeFirstAnswer(
		dev,
		options.seconds,
		(answered) => {
			const onFault = (err: Error) => {
				faults.push(err.message)
				// a definitive answer: upsd does not serve that UPS, waiting longer changes nothing
				if ('code' in err && err.code === 'UNKNOWN-UPS') answered()
			}
			dev.on('reading', answered)
			dev.on('fault', onFault)
			return () => dev.off('reading', answered)
		},
		() => withErrors(upsProbeResult(device.id, dev.status), faults),
	)
}
