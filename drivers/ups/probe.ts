// `sigpath probe FILE DEVICE` for an `snmp-ups` UPS (docs/contract.md §1 detail: power, minutesRemaining, chargePercent).
import type { Device } from '../../src/domain/config.ts'
import type { Resolved } from '../../src/domain/primitives.ts'
import { answeredOn, driverOf, probeFirstAnswer } from '../common/probe.ts'
import type { ProbeOptions, ProbeResult } from '../types.ts'
import { SnmpUpsDevice } from './device.ts'
import { upsProbeResult } from './types.ts'

export async function probe(device: Resolved<Device>, options: ProbeOptions): Promise<ProbeResult> {
	const config = { ...driverOf(device, 'snmp-ups'), traps: false }
	const dev = new SnmpUpsDevice({ id: device.id, config, log: options.ctx.log })
	// the first reading or the first failed poll: either is the answer
	return probeFirstAnswer(dev, options.seconds, answeredOn(dev, 'reading', 'fault'), () =>
		upsProbeResult(device.id, dev.status),
	)
}
