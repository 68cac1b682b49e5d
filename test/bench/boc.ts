// A generated BOC for benchmarks: 50 events x 4 critical feeds x 4 paths, 500 devices, 4 routers with line cards.
import { stringify } from 'yaml'

export const EVENTS = 50
export const FEEDS = 4
export const PATHS = 4
export const DEVICES = 500
const METHODS = ['fiber', 'satellite', 'internet', 'srt']

export function generateBoc(): string {
	const powerSources: object[] = [
		{ id: 'util', kind: 'utility' },
		{ id: 'gen', kind: 'generator' },
	]
	// 4 rack UPS pairs: path k of every feed lives in rack k, so paths of one feed never share a UPS
	for (let k = 0; k < PATHS; k++)
		powerSources.push(
			{ id: `ups-${k}a`, kind: 'ups', upstream: 'util', surgeProtected: true },
			{ id: `ups-${k}b`, kind: 'ups', upstream: 'gen', surgeProtected: true },
		)
	const routers = 4 // each router: 4 cards x 64 inputs, 256 outputs
	const devices: object[] = []
	for (let r = 0; r < routers; r++)
		devices.push({
			id: `rtr-${r}`,
			role: 'router',
			driver: { type: r % 2 ? 'videohub' : 'swp08', host: `10.0.0.${r + 1}` },
			power: ['ups-0a', 'ups-1b'],
			size: { inputs: 256, outputs: 256 },
			lineCards: Array.from({ length: 4 }, (_, c) => ({ id: `card-${c}`, inputs: [c * 64 + 1, (c + 1) * 64] })),
		})
	// path devices, grouped per rack: rack k holds pool[k]
	const perRack = Math.floor((DEVICES - routers) / PATHS)
	const pool: string[][] = []
	for (let k = 0; k < PATHS; k++) {
		pool.push([])
		for (let i = 0; i < perRack; i++) {
			const id = `dev-${k}-${i}`
			pool[k]!.push(id)
			devices.push({ id, role: i % 2 ? 'receiver' : 'encoder', power: [`ups-${k}a`, `ups-${k}b`] })
		}
	}
	const events: object[] = []
	let slot = 0
	for (let e = 0; e < EVENTS; e++) {
		const feeds: object[] = []
		for (let f = 0; f < FEEDS; f++, slot++) {
			const router = `rtr-${slot % routers}`
			const local = Math.floor(slot / routers) // 0..49 per router
			feeds.push({
				id: `feed-${f}`,
				critical: true,
				output: { router, output: local + 1 },
				failover: { lossMs: 300, clearMs: 10000 },
				paths: Array.from({ length: PATHS }, (_, k) => ({
					id: `path-${k}`,
					method: METHODS[k],
					via: [pool[k]![(slot * 2) % perRack]!, pool[k]![(slot * 2 + 1) % perRack]!],
					input: { router, input: k * 64 + (local % 64) + 1 },
					risks: [`carrier-${k}-${slot % 7}`, `conduit-${k}`],
				})),
			})
		}
		events.push({ id: `event-${e}`, tier: e % 2 ? 'yellow' : 'red', bigBet: e === 0, feeds })
	}
	return stringify({ site: { id: 'bench' }, powerSources, devices, events })
}
