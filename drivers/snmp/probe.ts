// `sigpath probe FILE DEVICE` for an `snmp` signal device (docs/contract.md §1): one full read, then disconnect.
import type { Device } from '../../src/domain/config.ts'
import type { Resolved } from '../../src/domain/primitives.ts'
import { answeredOn, driverOf, probeFirstAnswer } from '../common/probe.ts'
import type { ProbeOptions, ProbeResult } from '../types.ts'
import { SnmpSignalDevice } from './device.ts'

export async function probe(device: Resolved<Device>, options: ProbeOptions): Promise<ProbeResult> {
	const config = { ...driverOf(device, 'snmp'), traps: false }
	const dev = new SnmpSignalDevice({ id: device.id, config, log: options.ctx.log })
	// the first reading, or the first failed poll (after its retries: it reads as unknown), or the deadline
	return probeFirstAnswer(dev, options.seconds, answeredOn(dev, 'reading'), () => dev.probeResult())
}
