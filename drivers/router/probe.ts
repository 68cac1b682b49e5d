// `sigpath probe` for routers (docs/contract.md §1): connect, read the full tally and locks, print them 1-based, disconnect.
// Reads only: a probe never routes, locks or unlocks anything.
import type { Device } from '../../src/domain/config.ts'
import type { ProbeOptions, ProbeResult } from '../types.ts'
import { createRouter } from './index.ts'
import { RouterError } from './types.ts'

export async function probeRouter(device: Device, options: ProbeOptions): Promise<ProbeResult> {
	const router = createRouter(device, options.ctx, { connectTimeoutMs: Math.max(100, options.seconds * 1000) })
	router.start()
	let problem: string | undefined
	try {
		await router.whenSynced(options.seconds * 1000)
	} catch (err) {
		if (!(err instanceof RouterError)) throw err
		problem = err.message
		options.ctx.log.debug({ device: device.id, err }, 'router probe did not sync')
	}
	const s = router.status()
	await router.stop()
	return {
		device: device.id,
		connected: s.connected,
		health: s.health,
		detail: {
			routing: s.routing,
			locks: s.locks,
			// SW-P-08 (the commands spoken here) has no locks: an empty table there means "not reported", not unlocked
			locksReported: s.locksReported,
			synced: s.synced,
			driver: s.driver,
			size: s.size,
			inputStatus: s.inputStatus,
			inputLabels: s.inputLabels,
			outputLabels: s.outputLabels,
			lastOkAt: s.freshness.lastOkAt,
			...(s.model !== undefined ? { model: s.model } : {}),
			...(s.protocolVersion !== undefined ? { protocolVersion: s.protocolVersion } : {}),
			...(s.problem !== undefined || problem !== undefined ? { problem: s.problem ?? problem } : {}),
		},
	}
}
