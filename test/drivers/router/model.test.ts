// Property: whatever mix of our takes, salvos and other controllers' changes hits a router, once things settle the
// driver's confirmed routing is exactly the router's own table (1-based), every take that resolved was on the router
// at that moment, and commanded state never leaks into confirmed state.
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { silentLogger } from '../../../src/log.ts'
import { Swp08Router } from '../../../drivers/swp08/connection.ts'
import { Swp08Sim } from '../../../drivers/swp08/sim.ts'
import { VideohubRouter } from '../../../drivers/videohub/connection.ts'
import { VideohubSim } from '../../../drivers/videohub/sim.ts'
import type { Router } from '../../../drivers/router/types.ts'

const N = 8

type Op =
	| { kind: 'take'; output: number; input: number }
	| { kind: 'salvo'; takes: { output: number; input: number }[] }
	| { kind: 'other'; output: number; input: number }

const port = fc.integer({ min: 1, max: N })
const arbOp: fc.Arbitrary<Op> = fc.oneof(
	fc.record({ kind: fc.constant('take' as const), output: port, input: port }),
	fc.record({
		kind: fc.constant('salvo' as const),
		takes: fc.uniqueArray(fc.record({ output: port, input: port }), { selector: (t) => t.output, maxLength: N }),
	}),
	fc.record({ kind: fc.constant('other' as const), output: port, input: port }),
)

interface Harness {
	router: Router
	/** the router's own table, 1-based */
	table: () => number[]
	/** a change by another controller or the router panel (1-based) */
	other: (output: number, input: number) => void
	stop: () => Promise<void>
}

async function videohub(): Promise<Harness> {
	const sim = new VideohubSim({ inputs: N, outputs: N })
	const { port } = await sim.start()
	const router = new VideohubRouter({ deviceId: 'v', host: '127.0.0.1', port, log: silentLogger })
	router.start()
	await router.whenSynced(3000)
	return {
		router,
		table: () => sim.routingTable().map((i) => i + 1),
		other: (o, i) => sim.route(o - 1, i - 1),
		stop: async () => {
			await router.stop()
			await sim.stop()
		},
	}
}

async function swp08(): Promise<Harness> {
	const sim = new Swp08Sim({ inputs: N, outputs: N })
	const { port } = await sim.start({})
	const router = new Swp08Router({
		deviceId: 'p',
		transport: { tcp: { host: '127.0.0.1', port } },
		matrix: 0,
		level: 0,
		size: { inputs: N, outputs: N },
		log: silentLogger,
	})
	router.start()
	await router.whenSynced(3000)
	return {
		router,
		table: () => sim.table().map((i) => i + 1),
		other: (o, i) => sim.route(o - 1, i - 1),
		stop: async () => {
			await router.stop()
			await sim.stop()
		},
	}
}

async function settle(h: Harness): Promise<void> {
	for (let i = 0; i < 200; i++) {
		const t = h.table()
		if (t.every((input, o) => h.router.routing().get(o + 1) === input)) return
		await new Promise((r) => setTimeout(r, 2))
	}
}

for (const [name, make] of [
	['Videohub', videohub],
	['SW-P-08', swp08],
] as const) {
	describe(`${name}: confirmed routing follows the router, whatever happens`, () => {
		let h: Harness
		beforeAll(async () => {
			h = await make()
		})
		afterAll(async () => h.stop())

		it('holds for random sequences of takes, salvos and other controllers’ changes', async () => {
			await fc.assert(
				fc.asyncProperty(fc.array(arbOp, { minLength: 1, maxLength: 12 }), async (ops) => {
					const inFlight: Promise<void>[] = []
					for (const op of ops) {
						if (op.kind === 'other') h.other(op.output, op.input)
						else {
							const takes = op.kind === 'take' ? [op] : op.takes
							const p = h.router.salvo(takes).then((outcomes) => {
								for (const o of outcomes)
									if (o.ok) expect(o.result.confirmedAt).toBeGreaterThanOrEqual(o.result.sentAt)
									// the only refusals possible here: a newer take of ours for the same output, or
									// another controller's change landing between ours (SW-P-08 reports it as refused)
									else expect(['superseded', 'refused']).toContain(o.error.code)
							})
							inFlight.push(p)
						}
					}
					await Promise.all(inFlight)
					await settle(h)
					const table = h.table()
					for (let o = 1; o <= N; o++) expect(h.router.routing().get(o)).toBe(table[o - 1])
				}),
				{ numRuns: 25 },
			)
		})
	})
}
