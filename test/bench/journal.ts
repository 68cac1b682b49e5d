// Journal benchmark: records/s with group commit, and append -> durable latency (p50/p99/max).
//   node --import tsx test/bench/journal.ts [--quick] [DIR]
// DIR (default: a fresh directory under the current one, so on the disk the daemon would use, never tmpfs) is
// removed afterwards. For each number of concurrent appenders, every appender appends a decision-sized record,
// waits until it is durable (written and fdatasynced), and appends the next, for SECONDS; latency is measured from
// the append() call to the resolution of its promise.
// Full: 1, 16, 256 and 1,024 appenders and open loops of 2,000 and 20,000 records/s, 2 s each; --quick: 1, 16 and
// 256 appenders and 2,000 records/s, 0.5 s each. No throughput goal is set: the checks are that every load wrote
// records, each one awaited until durable, with at least one fdatasync.
import { mkdtempSync, rmSync, statfsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { Journal } from '../../src/journal/index.ts'
import { machine, main, parseArgs, percentile, table, us } from './common.ts'

const { quick, positionals } = parseArgs({})
const SECONDS = quick ? 0.5 : 2
const base = resolve(positionals[0] ?? '.')
let root = ''

const payload = (i: number) => ({
	t: i,
	feed: 'wbc-final/pgm',
	from: 'fiber',
	to: 'sat',
	cause: 'failover',
	explain: { rule: '1', triggers: [`t=${i - 300} device fiber-rx-1 down`, `t=${i} timer: fiber failed`], because: [] },
})

async function run(concurrency: number) {
	const dir = join(root, `c${concurrency}`)
	const j = Journal.open({ dir })
	const lat: number[] = []
	let n = 0
	const end = performance.now() + SECONDS * 1000
	const t0 = performance.now()
	const worker = async () => {
		while (performance.now() < end) {
			const s = process.hrtime.bigint()
			await j.append('decision', payload(n++))
			lat.push(Number(process.hrtime.bigint() - s))
		}
	}
	await Promise.all(Array.from({ length: concurrency }, worker))
	const secs = (performance.now() - t0) / 1000
	await j.close()
	lat.sort((a, b) => a - b)
	return {
		concurrency,
		records: j.stats.records,
		perSec: j.stats.records / secs,
		batches: j.stats.batches,
		perBatch: j.stats.records / j.stats.batches,
		durable: lat.length,
		p50: percentile(lat, 50),
		p99: percentile(lat, 99),
		max: lat.at(-1)!,
	}
}

/** Open loop: `rate` records/s offered in ticks of 5 ms, whatever the disk does; latency is append -> durable. */
async function offered(rate: number) {
	const dir = join(root, `r${rate}`)
	const j = Journal.open({ dir })
	const lat: number[] = []
	const pending: Promise<void>[] = []
	let n = 0
	const tickMs = 5
	const perTick = Math.round((rate * tickMs) / 1000)
	const t0 = performance.now()
	for (let tick = 0; tick < (SECONDS * 1000) / tickMs; tick++) {
		for (let k = 0; k < perTick; k++) {
			const s = process.hrtime.bigint()
			pending.push(j.append('decision', payload(n++)).then(() => void lat.push(Number(process.hrtime.bigint() - s))))
		}
		const wait = t0 + (tick + 1) * tickMs - performance.now()
		if (wait > 0) await new Promise((r) => setTimeout(r, wait))
	}
	await Promise.all(pending)
	const secs = (performance.now() - t0) / 1000
	await j.close()
	lat.sort((a, b) => a - b)
	return {
		concurrency: `open loop ${rate}/s`,
		records: j.stats.records,
		perSec: j.stats.records / secs,
		batches: j.stats.batches,
		perBatch: j.stats.records / j.stats.batches,
		durable: lat.length,
		p50: percentile(lat, 50),
		p99: percentile(lat, 99),
		max: lat.at(-1)!,
	}
}

main('journal', async (b) => {
	root = mkdtempSync(join(base, '.bench-journal-'))
	b.defer(`the journal directory ${root}`, () => rmSync(root, { recursive: true, force: true }))
	const fs = statfsSync(root)
	const rows: Awaited<ReturnType<typeof offered>>[] = []
	for (const c of quick ? [1, 16, 256] : [1, 16, 256, 1024])
		rows.push({ ...(await run(c)), concurrency: `${c} closed loop` })
	for (const r of quick ? [2000] : [2000, 20_000]) rows.push(await offered(r))
	console.log('# sigpath journal: group commit (one write + one fdatasync per batch)')
	console.log(
		`command: node --import tsx test/bench/journal.ts${quick ? ' --quick' : ''}${positionals[0] ? ` ${positionals[0]}` : ''}`,
	)
	console.log(`machine: ${machine()}; journal on ${root} (fs type 0x${fs.type.toString(16)})`)
	console.log('')
	console.log(
		table(
			[
				'load',
				'records',
				'records/s',
				'fdatasyncs',
				'records/batch',
				'durable p50 ms',
				'durable p99 ms',
				'durable max ms',
			],
			rows.map((r) => [
				r.concurrency,
				r.records,
				Math.round(r.perSec),
				r.batches,
				r.perBatch.toFixed(1),
				(Number(us(r.p50)) / 1000).toFixed(2),
				(Number(us(r.p99)) / 1000).toFixed(2),
				(Number(us(r.max)) / 1000).toFixed(2),
			]),
		),
	)
	console.log('')
	console.log(
		`closed loop: N appenders, each appends a ~330-byte decision record, awaits durable, repeats, for ${SECONDS} s.`,
	)
	console.log(`open loop: records offered at a fixed rate (in 5 ms ticks) for ${SECONDS} s, whatever the disk does.`)
	for (const r of rows)
		b.sane(
			`${r.concurrency}: records durable`,
			r.records > 0 && r.durable === r.records && r.batches > 0,
			`${r.durable} of ${r.records} awaited durable, ${r.batches} fdatasyncs`,
		)
})
