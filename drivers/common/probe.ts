// What the probes of polled devices share (`sigpath probe`, docs/contract.md §1): start the device, wait for its first
// answer or the deadline, take its ProbeResult, stop it, whatever happened in between.
import type { Device } from '../../src/domain/config.ts'
import type { ResolvedDriver } from '../../src/domain/drivers.ts'
import type { Resolved } from '../../src/domain/primitives.ts'
import type { ProbeResult } from '../types.ts'

export interface Probed {
	start(): void
	stop(): Promise<void>
}

/** The device's driver config when it is of this type; else an error naming the device. */
export function driverOf<T extends ResolvedDriver['type']>(
	device: Resolved<Device>,
	type: T,
): Extract<ResolvedDriver, { type: T }> {
	const d = device.driver
	if (d?.type !== type) throw new Error(`device "${device.id}" has no ${type} driver`)
	return d as Extract<ResolvedDriver, { type: T }>
}

/**
 * Starts `dev`, resolves at its first answer (watch calls `answered`) or after `seconds`, returns `result()` and
 * stops the device. `watch` subscribes and returns its unsubscribe.
 */
export async function probeFirstAnswer(
	dev: Probed,
	seconds: number,
	watch: (answered: () => void) => () => void,
	result: () => ProbeResult,
): Promise<ProbeResult> {
	try {
		await new Promise<void>((resolve) => {
			const done = () => {
				clearTimeout(timer)
				unwatch()
				resolve()
			}
			const timer = setTimeout(done, seconds * 1000)
			const unwatch = watch(done)
			dev.start()
		})
		return result()
	} finally {
		await dev.stop()
	}
}

/** Adds the distinct fault messages seen during a probe to its detail, as `errors`. */
export function withErrors(r: ProbeResult, faults: readonly string[]): ProbeResult {
	if (faults.length > 0) r.detail['errors'] = [...new Set(faults)]
	return r
}

/** An emitter of argument-free-enough events: the probes only need to know that one happened. */
export interface Answers<E extends string> {
	on(event: E, listener: () => void): unknown
	off(event: E, listener: () => void): unknown
}

/** A `watch` for probeFirstAnswer: any of these events is the answer. */
export function answeredOn<E extends string>(dev: Answers<E>, ...events: E[]): (answered: () => void) => () => void {
	return (answered) => {
		for (const e of events) dev.on(e, answered)
		return () => {
			for (const e of events) dev.off(e, answered)
		}
	}
}
