// Crash test: a child appends under load and is SIGKILLed at a random instant, 200 times. After every kill the
// journal is reopened as the next start would (from the checkpoint the child kept): every record acknowledged before
// the kill is there with the same hash, the chain verifies, nothing torn is accepted, and the state restored is the
// state of the whole journal. In a quarter of the rounds a torn write (a power cut) is added to the tail before the
// reopen. The rounds are in test/support/journal-crash.ts (the benchmark test/bench/crash.ts runs 1,000 of them).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { bundleCrashChild, killRound, recover, tear } from '../support/journal-crash.ts'

const ROUNDS = 200
const LANES = 2
const root = mkdtempSync(join(tmpdir(), 'sigpath-crash-'))
let bundle = ''

beforeAll(async () => {
	bundle = await bundleCrashChild(root)
})
afterAll(() => rmSync(root, { recursive: true, force: true }))

it(`keeps every acknowledged record through ${ROUNDS} SIGKILLs`, { timeout: 420_000 }, async () => {
	const rng = fc.sample(fc.tuple(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 3 })), {
		numRuns: ROUNDS,
		seed: 20261121,
	})
	let totalAcks = 0
	let torn = 0
	const from = { checkpoint: 0, scan: 0, empty: 0 }
	// two lanes of rounds run side by side, each on its own directories: while one child starts, the other appends
	const lane = async (first: number) => {
		let dir = ''
		let acked = new Map<number, string>()
		for (let i = first; i < ROUNDS; i += LANES) {
			// a fresh directory every 5 rounds of a lane keeps the checks cheap; within one, the chain spans 5 restarts
			if ((i - first) % (5 * LANES) === 0) {
				dir = join(root, `j${i}`)
				acked = new Map()
			}
			const [delay, tearIt] = rng[i]!
			const r = await killRound(bundle, dir, delay)
			expect(r.signal, `round ${i}: the child was not killed (code ${r.code}): ${r.stderr}`).toBe('SIGKILL')
			expect(r.opened, `round ${i}: ${r.stderr}`).toMatch(/^open \d+ \d+ 0 (checkpoint|scan|empty)$/)
			for (const [seq, hash] of r.acks) acked.set(seq, hash)
			totalAcks += r.acks.size
			if (tearIt === 0) tear(dir)
			const rec = await recover(dir, acked)
			expect(rec.problems, `round ${i}`).toEqual([])
			if (rec.torn) torn++
			from[rec.from]++
		}
	}
	await Promise.all(Array.from({ length: LANES }, (_, k) => lane(k)))
	const counts = `${totalAcks} acks, ${torn} torn tails cut, restarts from ${JSON.stringify(from)}`
	expect(totalAcks, counts).toBeGreaterThan(ROUNDS)
	expect(torn, counts).toBeGreaterThan(ROUNDS / 8)
	// restarts restore from the checkpoints the children kept (not all: a journal younger than its first checkpoint, or
	// none yet, is scanned; how many depends on how fast the disk acknowledges before the kill)
	expect(from.checkpoint, counts).toBeGreaterThan(ROUNDS / 10)
})
