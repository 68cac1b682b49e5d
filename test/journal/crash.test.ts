// Crash test: a child appends under load and is SIGKILLed at a random instant, 200 times. After every kill the
// journal is reopened: every record acknowledged before the kill is there with the same hash, the chain verifies,
// and nothing torn is accepted. In a quarter of the rounds a torn write (a power cut) is added to the tail before
// the reopen. The child (crash-child.ts) is bundled once with esbuild, so that each one starts in plain node.
import { spawn } from 'node:child_process'
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import fc from 'fast-check'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { Journal, listFiles, scanDir } from '../../src/journal/index.ts'

const ROUNDS = 200
const LANES = 2
const root = mkdtempSync(join(tmpdir(), 'sigpath-crash-'))
const bundle = join(root, 'crash-child.mjs')

beforeAll(async () => {
	await build({
		entryPoints: [fileURLToPath(new URL('./crash-child.ts', import.meta.url))],
		bundle: true,
		platform: 'node',
		format: 'esm',
		target: 'node20',
		outfile: bundle,
		logLevel: 'error',
	})
})
afterAll(() => rmSync(root, { recursive: true, force: true }))

interface Round {
	acks: Map<number, string>
	opened: string
	code: number | null
	signal: NodeJS.Signals | null
	stderr: string
}

/** Runs the child, kills it `delayMs` after it has opened the journal, and collects its acknowledgements. */
function round(dir: string, delayMs: number): Promise<Round> {
	return new Promise((resolve, reject) => {
		const p = spawn(process.execPath, [bundle, dir, '16384'], { stdio: ['ignore', 'pipe', 'pipe'] })
		const acks = new Map<number, string>()
		let opened = ''
		let buf = ''
		let stderr = ''
		let timer: NodeJS.Timeout | undefined
		p.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
		p.stdout.on('data', (d: Buffer) => {
			buf += d.toString()
			let nl: number
			while ((nl = buf.indexOf('\n')) >= 0) {
				const line = buf.slice(0, nl)
				buf = buf.slice(nl + 1)
				const [what, a, b] = line.split(' ')
				if (what === 'ack') acks.set(Number(a), b!)
				else if (what === 'open') {
					opened = line
					timer = setTimeout(() => p.kill('SIGKILL'), delayMs)
				}
			}
		})
		p.on('error', reject)
		// 'close' comes after stdout has ended: every ack the child printed has been read
		p.on('close', (code, signal) => {
			clearTimeout(timer)
			resolve({ acks, opened, code, signal, stderr })
		})
	})
}

it(`keeps every acknowledged record through ${ROUNDS} SIGKILLs`, { timeout: 420_000 }, async () => {
	const rng = fc.sample(fc.tuple(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 3 })), {
		numRuns: ROUNDS,
		seed: 20261121,
	})
	let totalAcks = 0
	let torn = 0
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
			const [delay, tear] = rng[i]!
			const r = await round(dir, delay)
			expect(r.signal, `round ${i}: the child was not killed (code ${r.code}): ${r.stderr}`).toBe('SIGKILL')
			expect(r.opened, `round ${i}: ${r.stderr}`).toMatch(/^open \d+ \d+ 0$/)
			for (const [seq, hash] of r.acks) acked.set(seq, hash)
			totalAcks += r.acks.size
			if (tear === 0) {
				// a power cut: part of a record that never completed
				const files = listFiles(dir)
				if (files.length > 0)
					appendFileSync(
						join(dir, files.at(-1)!),
						`{"seq":999999,"wall":"2026-11-21T00:00:00.000Z","mono":1,"kind":"obs`,
					)
			}
			const j = Journal.open({ dir, rotateBytes: 16384 })
			if (j.report.torn) torn++
			expect(j.report.broken, `round ${i}`).toEqual([])
			await j.close()
			const present = new Map<number, string>()
			const after = scanDir(dir, (rec) => present.set(rec.seq, rec.hash))
			expect(after.torn, `round ${i}: nothing torn may remain`).toBeNull()
			expect(after.firstBad, `round ${i}`).toBeNull()
			for (const [seq, hash] of acked) expect(present.get(seq), `round ${i}: acknowledged seq ${seq}`).toBe(hash)
		}
	}
	await Promise.all(Array.from({ length: LANES }, (_, k) => lane(k)))
	expect(totalAcks).toBeGreaterThan(ROUNDS)
	expect(torn).toBeGreaterThan(ROUNDS / 8)
})
