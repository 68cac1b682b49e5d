// Runs the benchmarks, one after another, and prints a summary.
//
//   npm run bench                       every benchmark, full mode: the real goals are judged
//   npm run bench -- --quick            every benchmark with --quick: small counts, a gate that each one runs and
//                                       measures something sane (goals marked "full mode only" are reported, not
//                                       judged); all of them in well under nine minutes on a 2-core machine
//   npm run bench -- e2e srt [--quick]  only the named ones, in the order given
//   npm run bench -- --list             the benchmarks and their time limits
//   BENCH_LIMIT_S=N npm run bench ...   every limit N s instead
//
// Each benchmark is its own child process (`node --import tsx test/bench/<name>.ts [--quick]`) in its own process
// group, with its output streamed as it comes. It has a hard wall-clock limit: past it the whole group gets SIGTERM,
// then SIGKILL 5 s later, and the benchmark counts as failed "timed out after N s". A benchmark fails too when it
// exits non-zero (the reason is its `FAIL: <name>: <reason>` line, else its exit code or signal) or when it leaves
// processes running in its group after it exits (they are killed). The quick limits add up to 500 s, so a quick run
// ends within nine minutes even if every benchmark hangs. The summary table (benchmark, result, duration, reason)
// comes last; the exit code is 1 if any benchmark failed, 2 on a usage error.
//
// Not in the list: boc.ts (the generated BOC that check.ts measures), common.ts (shared helpers) and this file.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { sleep, table } from './common.ts'

interface Benchmark {
	name: string
	/** hard wall-clock limits, seconds */
	quickS: number
	fullS: number
}

const BENCHMARKS: Benchmark[] = [
	{ name: 'check', quickS: 20, fullS: 120 },
	{ name: 'engine', quickS: 20, fullS: 300 },
	{ name: 'journal', quickS: 20, fullS: 120 },
	{ name: 'restore', quickS: 60, fullS: 1200 },
	{ name: 'crash', quickS: 40, fullS: 900 },
	{ name: 'routers', quickS: 35, fullS: 300 },
	{ name: 'snmp', quickS: 40, fullS: 300 },
	{ name: 'srt', quickS: 50, fullS: 400 },
	{ name: 'status', quickS: 30, fullS: 180 },
	{ name: 'e2e', quickS: 55, fullS: 900 },
	{ name: 'soak', quickS: 40, fullS: 1500 },
	{ name: 'ha', quickS: 90, fullS: 2400 },
	{ name: 'content', quickS: 60, fullS: 600 },
]
const NOT_BENCHMARKS: Record<string, string> = {
	boc: 'boc.ts is the generated BOC that the check benchmark measures, not a benchmark: run `check`',
	common: 'common.ts holds the helpers the benchmarks share, not a benchmark',
	run: 'run.ts is this runner',
}
const KILL_GRACE_MS = 5000

interface Result {
	name: string
	ok: boolean
	seconds: number
	reason: string
}

/** the benchmark running now */
let current: { name: string; pid: number; t0: number } | undefined

function killGroup(pid: number, signal: NodeJS.Signals): void {
	try {
		process.kill(-pid, signal)
	} catch (err) {
		// ESRCH: the group is already gone, which is what we want
		if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err
	}
}

function groupAlive(pid: number): boolean {
	try {
		process.kill(-pid, 0)
		return true
	} catch (err) {
		if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false
		throw err
	}
}

/** the text after the last `FAIL: <name>: ` line of the output */
function failReason(output: string, name: string): string | undefined {
	const prefix = `FAIL: ${name}: `
	const lines = output.split('\n').filter((l) => l.startsWith(prefix))
	return lines.at(-1)?.slice(prefix.length).trim()
}

async function runOne(b: Benchmark, quick: boolean): Promise<Result> {
	const limitS = Number(process.env['BENCH_LIMIT_S'] ?? (quick ? b.quickS : b.fullS))
	const file = fileURLToPath(new URL(`./${b.name}.ts`, import.meta.url))
	const args = ['--import', 'tsx', file, ...(quick ? ['--quick'] : [])]
	console.log(`\n=== ${b.name}: node ${args.join(' ')}   (limit ${limitS} s) ===`)
	const t0 = performance.now()
	const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
	const pid = child.pid
	if (pid === undefined) return { name: b.name, ok: false, seconds: 0, reason: 'could not start node' }
	current = { name: b.name, pid, t0 }
	// the output, streamed through and kept (the tail is enough to find the FAIL line)
	let output = ''
	const keep = (d: Buffer) => {
		output = (output + d.toString()).slice(-64 * 1024)
	}
	const closed = Promise.all(
		[child.stdout, child.stderr].map((s) => new Promise<void>((resolve) => s.once('close', () => resolve()))),
	)
	child.stdout.on('data', (d: Buffer) => {
		process.stdout.write(d)
		keep(d)
	})
	child.stderr.on('data', (d: Buffer) => {
		process.stderr.write(d)
		keep(d)
	})
	let timedOut = false
	let killTimer: NodeJS.Timeout | undefined
	const limitTimer = setTimeout(() => {
		timedOut = true
		console.error(`\n=== ${b.name}: still running after ${limitS} s: SIGTERM to its process group ===`)
		killGroup(pid, 'SIGTERM')
		killTimer = setTimeout(() => {
			console.error(`=== ${b.name}: SIGKILL to its process group ===`)
			killGroup(pid, 'SIGKILL')
		}, KILL_GRACE_MS)
	}, limitS * 1000)
	const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
		child.once('exit', (code, signal) => resolve({ code, signal }))
		child.once('error', (err) => {
			console.error(`=== ${b.name}: ${err.message} ===`)
			resolve({ code: null, signal: null })
		})
	})
	const seconds = (performance.now() - t0) / 1000
	clearTimeout(limitTimer)
	// processes it started and left running (a peer not stopped): give them 2 s to go, then kill them
	let strays = false
	for (let i = 0; i < 20 && groupAlive(pid); i++) await sleep(100)
	if (groupAlive(pid)) {
		strays = true
		killGroup(pid, 'SIGKILL')
	}
	clearTimeout(killTimer)
	// the pipes close once nothing holds them; a holder was just killed
	await Promise.race([closed, sleep(2000)])
	current = undefined
	let reason = ''
	if (timedOut) reason = `timed out after ${limitS} s`
	else if (exit.code !== 0)
		reason =
			failReason(output, b.name) ??
			(exit.signal ? `killed by ${exit.signal}` : exit.code === null ? 'did not run' : `exit code ${exit.code}`)
	if (strays) reason = [reason, 'left processes running after it exited (killed)'].filter(Boolean).join('; ')
	return { name: b.name, ok: reason === '', seconds, reason }
}

function usage(message: string): never {
	console.error(message)
	console.error(
		`usage: npm run bench -- [--quick] [--list] [name ...]   names: ${BENCHMARKS.map((b) => b.name).join(', ')}`,
	)
	process.exit(2)
}

async function runAll(): Promise<number> {
	const argv = process.argv.slice(2)
	const quick = argv.includes('--quick')
	for (const a of argv.filter((a) => a.startsWith('-')))
		if (!['--quick', '--list', '--help', '-h'].includes(a)) usage(`unknown option ${a}`)
	if (argv.includes('--help') || argv.includes('-h')) usage('Runs the benchmarks in test/bench.')
	if (argv.includes('--list')) {
		console.log(
			table(
				['benchmark', 'limit --quick s', 'limit full s'],
				BENCHMARKS.map((b) => [b.name, b.quickS, b.fullS]),
			),
		)
		return 0
	}
	const names = argv.filter((a) => !a.startsWith('-'))
	for (const n of names) {
		const not = NOT_BENCHMARKS[n]
		if (not !== undefined) usage(not)
		if (!BENCHMARKS.some((b) => b.name === n)) usage(`no benchmark ${n}`)
	}
	const chosen = names.length > 0 ? names.map((n) => BENCHMARKS.find((b) => b.name === n)!) : BENCHMARKS
	const t0 = performance.now()
	const results: Result[] = []
	const summary = () => {
		const total = (performance.now() - t0) / 1000
		console.log(`\n=== summary${quick ? ' (--quick)' : ''} ===`)
		console.log(
			table(
				['benchmark', 'result', 'duration s', 'reason'],
				results.map((r) => [r.name, r.ok ? 'pass' : 'FAIL', r.seconds.toFixed(1), r.reason]),
			),
		)
		const failed = results.filter((r) => !r.ok).length
		console.log(
			`${results.length} benchmark${results.length === 1 ? '' : 's'} run, ${results.length - failed} passed, ${failed} failed; total ${total.toFixed(1)} s`,
		)
		return failed
	}
	// interrupted (Ctrl-C): the running benchmark's group gets SIGTERM (it stops its peers), SIGKILL after the grace
	// time; no further benchmark starts, and the summary says which one was interrupted
	const interrupt: { by?: NodeJS.Signals } = {}
	const interruptedBy = (): NodeJS.Signals | undefined => interrupt.by
	for (const sig of ['SIGINT', 'SIGTERM'] as const)
		process.once(sig, () => {
			interrupt.by = sig
			const c = current
			console.error(`\n=== interrupted by ${sig}${c ? `: stopping ${c.name}` : ''} ===`)
			if (!c) return
			killGroup(c.pid, 'SIGTERM')
			setTimeout(() => killGroup(c.pid, 'SIGKILL'), KILL_GRACE_MS)
		})
	for (const b of chosen) {
		if (interrupt.by) break
		const r = await runOne(b, quick)
		const by = interruptedBy() // set by the signal handler meanwhile
		results.push(by ? { ...r, ok: false, reason: `interrupted by ${by}` } : r)
	}
	const failed = summary()
	return failed > 0 || interrupt.by ? 1 : 0
}

runAll().then(
	(code) => process.exit(code),
	(err: unknown) => {
		console.error(`bench runner: ${err instanceof Error ? err.message : String(err)}`)
		process.exit(1)
	},
)
