// `sigpath probe FILE DEVICE` for a `megatec` serial UPS (docs/contract.md §1 detail; Megatec reports no runtime or
// charge, so minutesRemaining and chargePercent are null).
import type { Device } from '../../src/domain/config.ts'
import type { Resolved } from '../../src/domain/primitives.ts'
import { answeredOn, driverOf, probeFirstAnswer, withErrors } from '../common/probe.ts'
import type { ProbeOptions, ProbeResult } from '../types.ts'
import { upsProbeResult } from '../ups/types.ts'
import { MegatecUpsDevice } from './device.ts'

export async function probe(device: Resolved<Device>, options: ProbeOptions): Promise<ProbeResult> {
	const dev = new MegatecUpsDevice({ id: device.id, config: driverOf(device, 'megatec'), log: options.ctx.log })
	const faults: string[] = []
	dev.on('fault', (err) => faults.push(err.message))
	return probeFirstAnswer(dev, options.seconds, answeredOn(dev, 'reading'), () =>
		withErrors(upsProbeResult(device.id, dev.status), faults),
	)
}
