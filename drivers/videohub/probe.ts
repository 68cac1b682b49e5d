// `sigpath probe FILE DEVICE` for a Videohub: routing and locks (1-based), size, labels, input status.
import type { Device } from '../../src/domain/config.ts'
import type { ProbeOptions, ProbeResult } from '../types.ts'
import { probeRouter } from '../router/probe.ts'

export function probe(device: Device, options: ProbeOptions): Promise<ProbeResult> {
	return probeRouter(device, options)
}
