// Restore benchmark: how long a start takes to restore every feed's mode, lock and active path from a large journal
// (docs/contract.md §8: under 2 s with 1 GiB), with the checkpoint, and without it (the full scan it falls back to).
//   node --import tsx test/bench/restore.ts [--quick] [DIR]
// DIR (default: a fresh directory under the current one, so on the disk the daemon would use, never tmpfs) is
// removed afterwards. The journal is written by the daemon's own code (openJournal, group commit, rotation at 64 MiB,
// a checkpoint every 1 MiB): 200 feeds started, then path reports with an operator command or a failover now and
// then. Its last MiB is written after the last checkpoint, as after a crash just before the next one was due:
// the most a start has to read past the checkpoint. Full: 1 GiB; --quick: 64 MiB.
// Measured: openJournal (the checkpoint read and checked, the records after it read, hashed and folded, the torn
// tail looked for), `RUNS` times: p50/p99/max. Then once without the checkpoint (a full scan), whose state must be
// the same. The journal was just written, so it is in the page cache: what a cold start adds is reading the bytes
// the table shows from disk.
import { mkdtempSync, renameSync, rmSync, statfsSync, statSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { CHECKPOINT_FILE, listFiles, openJournal, type FeedState } from '../../src/journal/index.ts'
import { distribution, fixed, machine, main, parseArgs, table } from './common.ts'

const { quick, positionals } = parseArgs({})
const SIZE = quick ? 64 * 2 ** 20 : 2 ** 30
const TAIL = 2 ** 20
const RUNS = quick ? 10 : 20
const FEEDS = 200
const CHUNK = 1000
const base = resolve(positionals[0] ?? '.')

const feedOf = (i: number) => `ev${Math.floor(i / 4)}/feed${i % 4}`
const PATHS = ['fiber', 'sat', 'inet', 'srt']

/** The i-th record after the starts: mostly path reports; every 997th an operator command, every 1009th a failover. */
function entry(i: number): { kind: string; payload: unknown } {
	const feed = feedOf(i % FEEDS)
	if (i % 997 === 0) {
		const command = (['lock', 'unlock', 'take', 'auto', 'manual'] as const)[(i / 997) % 5]!
		return {
			kind: 'command',
			payload: {
				t: i,
				feed,
				command,
				...(command === 'take' ? { path: PATHS[i % 4] } : {}),
				operator: 'tco-anna',
				via: 'mqtt',
				result: 'accepted',
			},
		}
	}
	if (i % 1009 === 0)
		return {
			kind: 'decision',
			payload: {
				t: i,
				feed,
				from: PATHS[i % 4],
				to: PATHS[(i + 1) % 4],
				cause: 'failover',
				explain: { rule: '1', triggers: [`t=${i - 300} device rx down`], because: [] },
			},
		}
	return {
		kind: 'observation',
		payload: { t: i, path: `${feed}/${PATHS[i % 4]}`, signal: i % 3 ? 'up' : 'down', at: Math.max(0, i - 3) },
	}
}

const bytesOf = (dir: string) => listFiles(dir).reduce((s, f) => s + statSync(join(dir, f)).size, 0)

/** Writes records until the journal holds `until` bytes; returns the next record number. */
async function write(dir: string, from: number, until: number, everyBytes?: number): Promise<number> {
	const r = openJournal({ dir, ...(everyBytes !== undefined ? { checkpointEveryBytes: everyBytes } : {}) })
	let i = from
	if (i === 0) {
		await Promise.all(
			Array.from({ length: FEEDS }, (_, k) =>
				r.journal.append('start', { t: 0, feed: feedOf(k), active: 'fiber', mode: 'auto', locked: false }),
			),
		)
		i = 1
	}
	let size = bytesOf(dir)
	while (size < until) {
		const batch: Promise<unknown>[] = []
		for (let k = 0; k < CHUNK; k++, i++) {
			const e = entry(i)
			batch.push(r.journal.append(e.kind, e.payload))
		}
		await Promise.all(batch)
		size = bytesOf(dir)
	}
	await r.journal.close()
	// the checkpoint at the stop only when the cadence is the daemon's: the last part is written as if it crashed
	if (everyBytes === undefined) await r.checkpointer.close()
	return i
}

const same = (a: ReadonlyMap<string, FeedState>, b: ReadonlyMap<string, FeedState>): boolean =>
	a.size === b.size &&
	[...a].every(([k, v]) => {
		const w = b.get(k)
		return w !== undefined && w.active === v.active && w.mode === v.mode && w.locked === v.locked
	})

main('restore', async (b) => {
	const root = mkdtempSync(join(base, '.bench-restore-'))
	b.defer(`the journal directory ${root}`, () => rmSync(root, { recursive: true, force: true }))
	const dir = join(root, 'journal')
	const t0 = performance.now()
	const next = await write(dir, 0, SIZE - TAIL)
	await write(dir, next, SIZE, Number.MAX_SAFE_INTEGER)
	const genS = (performance.now() - t0) / 1000
	const size = bytesOf(dir)
	const files = listFiles(dir).length

	const ms: number[] = []
	let restored: ReadonlyMap<string, FeedState> = new Map()
	let tail = { records: 0, bytes: 0, from: '' }
	for (let k = 0; k < RUNS; k++) {
		const s = performance.now()
		const r = openJournal({ dir })
		ms.push(performance.now() - s)
		restored = r.feeds
		tail = { records: r.records, bytes: r.bytes, from: r.from }
		// the journal only: the checkpoint stays where it was, so every run reads the same tail
		await r.journal.close()
	}
	const d = distribution(ms)

	renameSync(join(dir, CHECKPOINT_FILE), join(root, 'checkpoint.json.aside'))
	const s = performance.now()
	const full = openJournal({ dir })
	const scanMs = performance.now() - s
	await full.journal.close()

	console.log('# sigpath journal: restoring mode and lock at start, with and without the checkpoint')
	console.log(
		`command: node --import tsx test/bench/restore.ts${quick ? ' --quick' : ''}${positionals[0] ? ` ${positionals[0]}` : ''}`,
	)
	console.log(`machine: ${machine()}; journal on ${dir} (fs type 0x${statfsSync(root).type.toString(16)})`)
	console.log(
		`journal: ${(size / 2 ** 20).toFixed(0)} MiB in ${files} files, ${FEEDS} feeds, written in ${genS.toFixed(1)} s; the last ${TAIL / 2 ** 20} MiB after the last checkpoint`,
	)
	console.log('')
	console.log(
		table(
			['restore', 'runs', 'records read', 'MiB read', 'p50 ms', 'p99 ms', 'max ms'],
			[
				[
					`from the checkpoint (${tail.from})`,
					d.n,
					tail.records,
					fixed(tail.bytes / 2 ** 20),
					fixed(d.p50),
					fixed(d.p99),
					fixed(d.max),
				],
				[`full scan (${full.from})`, 1, full.records, fixed(full.bytes / 2 ** 20), fixed(scanMs), '-', '-'],
			],
		),
	)
	b.sane('the restore used the checkpoint', tail.from === 'checkpoint', tail.from)
	b.sane(
		'the checkpoint and the records after it give the state a full scan gives',
		full.from === 'scan' && same(restored, full.feeds) && restored.size === FEEDS,
		`${restored.size} feeds from the checkpoint, ${full.feeds.size} from the scan`,
	)
	b.sane(
		'a start reads the tail only (at most the checkpoint cadence and one batch)',
		tail.bytes <= TAIL + 2 ** 20,
		`${fixed(tail.bytes / 2 ** 20)} MiB of ${fixed(size / 2 ** 20)} MiB`,
	)
	b.goal({
		what: `restore from the checkpoint, max of ${d.n}`,
		measured: d.max,
		unit: 'ms',
		op: '<',
		target: 2000,
		enforce: 'always',
	})
	b.goal({
		what: `restore from the checkpoint, p99 of ${d.n}`,
		measured: d.p99,
		unit: 'ms',
		op: '<',
		target: 2000,
		enforce: 'always',
	})
})
