// The crash test's child, bundled with the journal by esbuild into one .mjs so that it starts in plain node.
// It opens the journal in argv[2] as the daemon does (openJournal: restored from the checkpoint, which it keeps every
// 4 KiB here, so that kills land while checkpoints are written too), and appends under load until it is killed,
// printing every acknowledgement. stdout is a pipe, and writes to a pipe are synchronous in Node on Linux: an "ack"
// the parent reads was printed after the append had resolved, that is, after the record was durable.
import { openJournal } from '../../src/journal/restore.ts'

const dir = process.argv[2]!
const rotateBytes = Number(process.argv[3])
const r = openJournal({ dir, rotateBytes, checkpointEveryBytes: 4096 })
const j = r.journal
process.stdout.write(
	`open ${j.head.seq} ${j.report.torn ? j.report.torn.bytes : 0} ${j.report.broken.length} ${r.from}\n`,
)
let n = 0
const fail = (err: unknown): void => {
	process.stderr.write(`append failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
	process.exit(3)
}
const one = (): void => {
	const i = n++
	// sizes vary so that batches straddle rotation and some writes are large; every 7th record an operator's lock or
	// unlock, so that the state a restart restores keeps changing
	const pad = 'x'.repeat(i % 13 === 0 ? 1500 : i % 97)
	const rec =
		i % 7 === 0
			? j.append('command', {
					t: i,
					feed: `ev/f${i % 3}`,
					command: i % 2 ? 'lock' : 'unlock',
					operator: 'crash',
					result: 'accepted',
				})
			: j.append('observation', { t: i, device: 'dev-1', state: i % 2 ? 'up' : 'down', pad })
	rec.then((a) => {
		process.stdout.write(`ack ${a.seq} ${a.hash}\n`)
		one()
	}, fail)
}
for (let k = 0; k < 32; k++) one()
