// Crash benchmark: the journal through 1,000 kill -9s (docs/contract.md §8). Each round, a child opens the journal as
// the daemon does (restored from its checkpoint) and appends under load, and is SIGKILLed 0-40 ms after it opened it;
// in a quarter of the rounds a torn write (a power cut) is added to the tail; then the journal is opened again as
// the next start would, and checked: every record acknowledged before the kill is there with its hash, the chain
// verifies, nothing torn remains, the state restored is the state of the whole journal
// (test/support/journal-crash.ts, the same rounds as the CI test test/journal/crash.test.ts, 200 kills).
//   node --import tsx test/bench/crash.ts [--quick] [DIR]
// Full: 1,000 rounds; --quick: 20. Two lanes of rounds side by side, each in its own directories (a fresh one every
// 5 rounds of a lane, so that a chain spans 5 restarts). DIR (default: a fresh directory under the current one, on
// the disk the daemon would use) is removed afterwards. Reported: rounds recovered, torn tails found and cut, rounds
// failed (with the first problems), what each start restored from, and the time it took (p50/p99/max).
// Goal: every round recovers and verifies.
import { mkdtempSync, rmSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { bundleCrashChild, killRound, recover, tear } from '../support/journal-crash.ts'
import { distribution, fixed, machine, main, parseArgs, table } from './common.ts'

const { quick, positionals } = parseArgs({})
const ROUNDS = quick ? 20 : 1000
const LANES = 2
const base = resolve(positionals[0] ?? '.')

/** mulberry32: the same rounds on every run */
function rng(seed: number): () => number {
	let a = seed
	return () => {
		a = (a + 0x6d2b79f5) | 0
		let t = Math.imul(a ^ (a >>> 15), 1 | a)
		t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296
	}
}

main('crash', async (b) => {
	const root = mkdtempSync(join(base, '.bench-crash-'))
	b.defer(`the journal directories ${root}`, () => rmSync(root, { recursive: true, force: true }))
	const bundle = await bundleCrashChild(root)
	const random = rng(20261121)
	const plan = Array.from({ length: ROUNDS }, () => ({ delay: Math.floor(random() * 41), tear: random() < 0.25 }))
	const counts = { recovered: 0, torn: 0, failed: 0, notKilled: 0, acks: 0, tears: 0 }
	const from = { checkpoint: 0, scan: 0, empty: 0 }
	const ms: number[] = []
	const failures: string[] = []
	const t0 = performance.now()
	const lane = async (first: number): Promise<void> => {
		let dir = ''
		let acked = new Map<number, string>()
		for (let i = first; i < ROUNDS; i += LANES) {
			if ((i - first) % (5 * LANES) === 0) {
				dir = join(root, `j${i}`)
				acked = new Map()
			}
			const { delay, tear: tearIt } = plan[i]!
			const k = await killRound(bundle, dir, delay)
			if (k.signal !== 'SIGKILL') {
				counts.notKilled++
				counts.failed++
				failures.push(`round ${i}: the child was not killed (exit ${k.code}): ${k.stderr.trim().split('\n')[0]}`)
				continue
			}
			for (const [seq, hash] of k.acks) acked.set(seq, hash)
			counts.acks += k.acks.size
			if (tearIt && tear(dir)) counts.tears++
			const r = await recover(dir, acked)
			ms.push(r.ms)
			from[r.from]++
			if (r.torn) counts.torn++
			if (r.problems.length === 0) counts.recovered++
			else {
				counts.failed++
				failures.push(`round ${i}: ${r.problems.join('; ')}`)
			}
			if ((i + 1) % 100 === 0) console.log(`... ${i + 1} rounds`)
		}
	}
	await Promise.all(Array.from({ length: LANES }, (_, k) => lane(k)))
	const seconds = (performance.now() - t0) / 1000
	const d = distribution(ms)

	console.log('# sigpath journal: kill -9 under load, then the next start')
	console.log(
		`command: node --import tsx test/bench/crash.ts${quick ? ' --quick' : ''}${positionals[0] ? ` ${positionals[0]}` : ''}`,
	)
	console.log(`machine: ${machine()}; journals under ${root}; ${ROUNDS} rounds in ${seconds.toFixed(1)} s`)
	console.log('')
	console.log(
		table(
			[
				'rounds',
				'recovered',
				'torn (cut)',
				'failed',
				'power cuts added',
				'acks',
				'from checkpoint',
				'full scan',
				'empty',
			],
			[
				[
					ROUNDS,
					counts.recovered,
					counts.torn,
					counts.failed,
					counts.tears,
					counts.acks,
					from.checkpoint,
					from.scan,
					from.empty,
				],
			],
		),
	)
	console.log('')
	console.log(
		table(
			['start after the kill', 'n', 'p50 ms', 'p99 ms', 'max ms'],
			[['openJournal', d.n, fixed(d.p50), fixed(d.p99), fixed(d.max)]],
		),
	)
	for (const f of failures.slice(0, 5)) console.log(`FAILED ${f}`)
	b.sane('every child was killed mid-append', counts.notKilled === 0, `${counts.notKilled} not killed`)
	b.sane('records were acknowledged before the kills', counts.acks > ROUNDS, `${counts.acks} acknowledged`)
	b.sane(
		'the power cuts added were found and cut',
		counts.torn >= counts.tears,
		`${counts.torn} torn tails cut, ${counts.tears} added`,
	)
	b.goal({
		what: 'rounds that recovered and verify',
		measured: counts.recovered,
		unit: 'rounds',
		op: '>=',
		target: ROUNDS,
		enforce: 'always',
		digits: 0,
	})
	b.goal({
		what: 'rounds failed',
		measured: counts.failed,
		unit: 'rounds',
		op: '<=',
		target: 0,
		enforce: 'always',
		digits: 0,
	})
})
