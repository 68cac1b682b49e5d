// Failover engine benchmark: decision latency (observation in -> decision out) at 10, 1,000 and 10,000 feeds, with
// 1 % of the feeds failing in the same millisecond.
//   node --import tsx test/bench/engine.ts [--quick]
// Full: 10 feeds x 2000 rounds, 1,000 x 400, 10,000 x 100; --quick: 10 x 200, 1,000 x 40, 10,000 x 5 (same sizes,
// fewer rounds). No latency goal is set for the engine: the checks are that every round gave exactly the expected
// decisions (else the scenario, not the engine, is wrong) and that every size produced samples.
// Two measurements per size, over many rounds (each round fails a different 1 % of the feeds):
//  - report: each failing feed's receiver reports `down` with `at` lossMs in the past (an SRT receiver that notices
//    late), so that apply() itself decides; latency is that apply() call, per observation;
//  - timer: the 1 % report `down` together, and advance() to the instant their lossMs runs out fires every timer and
//    gives every decision in one call; latency is that call (the last decision of the burst), per round.
// Then the router every path lands on reports degraded and up again: the widest fan-out one report can have.
// Each failed path comes back 1 ms later (recovering: clearMs is an hour), so every round has somewhere to go.
// Every feed is critical (the at-risk judgement runs too) with three paths, each behind its own receiver.
import { Config } from '../../src/domain/config.ts'
import { buildModel } from '../../src/domain/model.ts'
import { Engine, type Observation } from '../../src/engine/index.ts'
import { machine, main, percentile, table, us } from './common.ts'

const LOSS = 300

function model(n: number) {
	const devices: { id: string; role: string; power?: string[] }[] = [{ id: 'rtr-1', role: 'router' }]
	const feeds = []
	for (let i = 0; i < n; i++) {
		const paths = ['fiber', 'satellite', 'internet'].map((method, k) => {
			const dev = `rx-${i}-${k}`
			devices.push({ id: dev, role: 'receiver' })
			return { id: method, method, via: [dev], input: { router: 'rtr-1', input: 3 * i + k + 1 } }
		})
		feeds.push({
			id: `f${i}`,
			critical: true,
			output: { router: 'rtr-1', output: i + 1 },
			failover: { lossMs: LOSS, clearMs: 3_600_000 },
			paths,
		})
	}
	return buildModel(
		Config.parse({
			site: { id: 'bench' },
			policy: { minPaths: 3, discretePower: false },
			devices,
			events: [{ id: 'ev', tier: 'red', feeds }],
		}),
	)
}

interface Row {
	feeds: number
	report: number[]
	timer: number[]
	/** one report of the router every path lands on: every feed at once */
	router: number[]
	decisions: number
	setupMs: number
}

function run(n: number, rounds: number): Row {
	const t0 = performance.now()
	const m = model(n)
	const e = new Engine(m)
	let t = 0
	for (let i = 0; i < n; i++)
		for (let k = 0; k < 3; k++) e.apply({ type: 'device', t, device: `rx-${i}-${k}`, state: 'up' })
	t = 1000
	e.advance(t)
	const setupMs = performance.now() - t0
	const fail = Math.max(1, Math.round(n / 100))
	const report: number[] = []
	const timer: number[] = []
	let decisions = 0
	let next = 0
	// the path each feed is on, followed from the decisions: each round fails the active path of the feeds it picks
	const active = new Array<number>(n).fill(0)
	const methods = ['fiber', 'satellite', 'internet']
	const follow = (outs: ReturnType<Engine['apply']>) => {
		for (const o of outs)
			if (o.kind === 'decision') {
				decisions++
				active[Number(o.feed.slice('ev/f'.length))] = methods.indexOf(o.to)
			}
	}
	const pick = () => Array.from({ length: fail }, () => next++ % n)
	const restore = (feeds: number[], k: number[]) => {
		t += 1
		feeds.forEach((i, j) => follow(e.apply({ type: 'device', t, device: `rx-${i}-${k[j]!}`, state: 'up' })))
	}
	for (let r = 0; r < rounds; r++) {
		t += 1000
		// (a) late reports that fail the active path at once
		const a = pick()
		const ka = a.map((i) => active[i]!)
		a.forEach((i, j) => {
			const obs: Observation = { type: 'device', t, device: `rx-${i}-${ka[j]!}`, state: 'down', at: t - LOSS }
			const s = process.hrtime.bigint()
			const out = e.apply(obs)
			report.push(Number(process.hrtime.bigint() - s))
			follow(out)
		})
		restore(a, ka)
		// (b) reports in the same ms, decisions when their timers fire together
		t += 1000
		const b = pick()
		const kb = b.map((i) => active[i]!)
		b.forEach((i, j) => follow(e.apply({ type: 'device', t, device: `rx-${i}-${kb[j]!}`, state: 'down' })))
		const s = process.hrtime.bigint()
		const out = e.advance(t + LOSS)
		timer.push(Number(process.hrtime.bigint() - s))
		follow(out)
		t += LOSS
		restore(b, kb)
	}
	// the router every path lands on reports degraded, then up again: one observation that touches every path (no
	// decision: a blip shorter than lossMs); the worst fan-out a single report can have
	const router: number[] = []
	for (let r = 0; r < 5; r++)
		for (const state of ['degraded', 'up'] as const) {
			t += 10
			const s = process.hrtime.bigint()
			follow(e.apply({ type: 'device', t, device: 'rtr-1', state }))
			router.push(Number(process.hrtime.bigint() - s))
		}
	const expected = rounds * fail * 2
	if (decisions !== expected) throw new Error(`expected ${expected} decisions, got ${decisions}: the scenario is wrong`)
	return {
		feeds: n,
		report: report.sort((x, y) => x - y),
		timer: timer.sort((x, y) => x - y),
		router: router.sort((x, y) => x - y),
		decisions,
		setupMs,
	}
}

main('engine', async (b) => {
	const sizes: [number, number][] = b.quick
		? [
				[10, 200],
				[1000, 40],
				[10_000, 5],
			]
		: [
				[10, 2000],
				[1000, 400],
				[10_000, 100],
			]
	// warm-up: let the JIT see the code paths before measuring
	run(100, b.quick ? 10 : 50)
	const rows = sizes.map(([n, rounds]) => run(n, rounds))
	console.log('# sigpath failover engine: decision latency, 1 % of feeds failing in the same ms')
	console.log(`command: node --import tsx test/bench/engine.ts${b.quick ? ' --quick' : ''}`)
	console.log(`machine: ${machine()}`)
	console.log('')
	console.log(
		table(
			[
				'feeds',
				'failing per ms',
				'report samples',
				'report p50 µs',
				'report p99 µs',
				'report max µs',
				'burst samples',
				'burst p50 µs',
				'burst p99 µs',
				'burst max µs',
				'decisions',
				'router report p50 µs',
				'router report max µs',
				'setup ms',
			],
			rows.map((r) => [
				r.feeds,
				Math.max(1, Math.round(r.feeds / 100)),
				r.report.length,
				us(percentile(r.report, 50)),
				us(percentile(r.report, 99)),
				us(r.report.at(-1)!),
				r.timer.length,
				us(percentile(r.timer, 50)),
				us(percentile(r.timer, 99)),
				us(r.timer.at(-1)!),
				r.decisions,
				us(percentile(r.router, 50)),
				us(r.router.at(-1)!),
				r.setupMs.toFixed(0),
			]),
		),
	)
	console.log('')
	console.log(
		'report: one late `down` (at = t - lossMs) in, its failover decision out, per observation (one apply() call).',
	)
	console.log("burst: 1 % of the feeds' timers due in the same ms, every decision out, per burst (one advance() call).")
	console.log(
		'router report: the router every path lands on reports degraded or up: one observation touching every path.',
	)
	// run() throws when a round did not give exactly the expected decisions; here: every size measured something
	rows.forEach((r, i) => {
		const rounds = sizes[i]![1]
		b.sane(
			`${r.feeds} feeds: samples`,
			r.report.length === rounds * Math.max(1, Math.round(r.feeds / 100)) &&
				r.timer.length === rounds &&
				percentile(r.report, 50) > 0,
			`${r.report.length} reports, ${r.timer.length} bursts, ${r.decisions} decisions over ${rounds} rounds`,
		)
	})
})
