// The crash test's child: opens the journal (the bundled module given as argv[2]) in argv[3] and appends under
// load until it is killed, printing every acknowledgement. stdout is a pipe, and writes to a pipe are synchronous
// in Node on Linux: an "ack" the parent reads was printed after the append had resolved (the record was durable).
const [, , bundle, dir, rotateBytes] = process.argv
const { Journal } = await import(bundle)
const j = Journal.open({ dir, rotateBytes: Number(rotateBytes) })
process.stdout.write(`open ${j.head.seq} ${j.report.torn ? j.report.torn.bytes : 0} ${j.report.broken.length}\n`)
let n = 0
const fail = (err) => {
	process.stderr.write(`append failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
	process.exit(3)
}
const one = () => {
	const i = n++
	// sizes vary so that batches straddle rotation and some writes are large
	const pad = 'x'.repeat(i % 7 === 0 ? 3000 : i % 97)
	j.append('observation', { t: i, device: 'dev-1', state: i % 2 ? 'up' : 'down', pad }).then((a) => {
		process.stdout.write(`ack ${a.seq} ${a.hash}\n`)
		one()
	}, fail)
}
for (let k = 0; k < 32; k++) one()
