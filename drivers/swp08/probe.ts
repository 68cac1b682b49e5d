// `sigpath probe FILE DEVICE` for a SW-P-08 router: routing (1-based) of its matrix and level.
import type { Device } from '../../src/domain/config.ts'
import type { ProbeOptions, ProbeResult } from '../types.ts'
import { probeRouter } from '../router/probe.ts'

export function probe(device: Device, options: ProbeOptions): Promise<ProbeResult> {
	return probeRouter(device, options)
}
