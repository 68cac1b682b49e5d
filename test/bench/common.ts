// Shared by the benchmarks in test/bench: the run (main), arguments (--quick), goals, cleanup, timeouts,
// percentiles and tables.
//
// Every benchmark runs inside main(name, fn). It gives fn a Bench:
//  - b.quick: --quick was given (small counts: fewer rounds, feeds, streams; shorter windows);
//  - b.defer(what, stop) / b.scope(fn): peers (child processes, simulators, sockets, daemons) are stopped in a
//    finally, last started first, each stop bounded in time, whatever happened (also on SIGTERM or SIGINT);
//  - b.goal(...): a target with the value measured. 'full' goals (targets this 2-core shared machine misses or only
//    just meets) are judged in full mode only: --quick reports them as "goal (full mode only)", never as met;
//    'always' goals (met comfortably) and b.sane(...) checks (the benchmark ran and measured something plausible)
//    are judged in both modes.
// main prints the checks, then `RESULT: PASS` and exits 0, or `FAIL: <name>: <reason>` and exits 1: on an enforced
// goal missed (measured vs goal), a failed sanity check, or an exception (its message, one line). It always ends the
// process with process.exit, so a stray handle cannot keep it alive. A stop that fails or hangs is reported and the
// process then kills itself: native threads still running (an SRT receiver in libsrt's epoll wait) can block
// exit() for minutes in libsrt's static destructors, which is how the end-to-end benchmark used to hang.
import { cpus, loadavg, totalmem } from 'node:os'
import { inspect, parseArgs as parseNodeArgs, type ParseArgsConfig } from 'node:util'

// ---- numbers ---------------------------------------------------------------------------------------------------

export function percentile(sorted: readonly number[], p: number): number {
	if (sorted.length === 0) return NaN
	return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!
}

export interface Distribution {
	n: number
	p50: number
	p99: number
	max: number
}

/** p50, p99 and max of unsorted samples (NaN when there are none) */
export function distribution(samples: readonly number[]): Distribution {
	const s = [...samples].sort((a, b) => a - b)
	return { n: s.length, p50: percentile(s, 50), p99: percentile(s, 99), max: s.at(-1) ?? NaN }
}

export const us = (ns: number): string => (ns / 1000).toFixed(1)

/** a number for a table: fixed decimals, '-' when not finite */
export const fixed = (x: number, digits = 2): string => (Number.isFinite(x) ? x.toFixed(digits) : '-')

// ---- output ----------------------------------------------------------------------------------------------------

export function machine(): string {
	const c = cpus()
	return `${c.length} × ${c[0]?.model ?? 'unknown cpu'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, node ${process.version}, load average ${loadavg()
		.map((l) => l.toFixed(2))
		.join(' ')}`
}

/** a Markdown table, padded to line up in a terminal */
export function table(head: string[], rows: (string | number)[][]): string {
	const cells = [head, ...rows.map((r) => r.map(String))]
	const w = head.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)))
	// numbers right-aligned, text left-aligned
	const numeric = /^[-+]?(\d[\d,]*(\.\d+)?|-)$/
	const line = (r: string[]) =>
		`| ${r.map((c, i) => (i > 0 && numeric.test(c) ? c.padStart(w[i]!) : c.padEnd(w[i]!))).join(' | ')} |`
	return [line(head), `|${w.map((x) => '-'.repeat(x + 2)).join('|')}|`, ...cells.slice(1).map(line)].join('\n')
}

/** an error's message, with its causes, on one line */
export function reason(err: unknown): string {
	const parts: string[] = []
	for (let e: unknown = err; e !== undefined && parts.length < 4;) {
		if (e instanceof Error) {
			parts.push(e.message)
			e = e.cause
		} else {
			parts.push(typeof e === 'string' ? e : inspect(e))
			e = undefined
		}
	}
	return parts.join(': ').replace(/\s*\n\s*/g, ' ')
}

// ---- time ------------------------------------------------------------------------------------------------------

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** `work`, or a rejection "<what>: timed out after N s" if it has not settled within ms (the timer is cleared). */
export async function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
	let timer: NodeJS.Timeout | undefined
	const timeout = new Promise<never>((_, reject) => {
		timer = setTimeout(() => reject(new Error(`${what}: timed out after ${seconds(ms)}`)), ms)
	})
	try {
		return await Promise.race([work, timeout])
	} finally {
		clearTimeout(timer)
	}
}

/** Polls cond every `everyMs` until it holds; rejects "timed out after N s waiting for <what>" at the deadline. */
export async function waitFor(cond: () => boolean, ms: number, what: string, everyMs = 2): Promise<void> {
	const deadline = performance.now() + ms
	while (!cond()) {
		if (performance.now() > deadline) throw new Error(`timed out after ${seconds(ms)} waiting for ${what}`)
		await sleep(everyMs)
	}
}

const seconds = (ms: number): string => `${Number((ms / 1000).toFixed(3))} s`

// ---- arguments -------------------------------------------------------------------------------------------------

type Options = NonNullable<ParseArgsConfig['options']>
const QUICK = { quick: { type: 'boolean', default: false } } as const

/** The command line: `--quick` and the benchmark's own options (node:util parseArgs, strict: unknown ones throw). */
export function parseArgs<const O extends Options>(options: O) {
	const { values, positionals } = parseNodeArgs({
		options: { ...options, ...QUICK },
		allowPositionals: true,
		strict: true,
	})
	return { quick: 'quick' in values && values.quick === true, values, positionals }
}

// ---- the run ---------------------------------------------------------------------------------------------------

/** judged in both modes ('always') or in full mode only ('full': reported, not judged, with --quick) */
export type Enforce = 'always' | 'full'

export interface Goal {
	what: string
	measured: number
	unit: string
	op: '<' | '<=' | '>' | '>='
	target: number
	enforce: Enforce
	/** decimals for the measured value (default 2) */
	digits?: number
}

export type Defer = (what: string, stop: () => unknown) => void

export interface Bench {
	readonly name: string
	readonly quick: boolean
	/** stop `what` when the run ends (or at the end of the enclosing scope()), last registered first */
	defer: Defer
	/** runs fn; whatever fn defers is stopped when fn settles, whether it resolved or threw */
	scope<T>(fn: (defer: Defer) => Promise<T>): Promise<T>
	goal(g: Goal): void
	/** a sanity check, judged in both modes: the benchmark ran and measured something plausible */
	sane(what: string, ok: boolean, detail: string): void
}

interface Check {
	kind: 'goal' | 'goal (full mode only)' | 'sanity'
	what: string
	measured: string
	expected: string
	ok: boolean
	judged: boolean
}

const STOP_TIMEOUT_MS = 15_000

class Stops {
	#steps: { what: string; stop: () => unknown }[] = []
	add(what: string, stop: () => unknown): void {
		this.#steps.push({ what, stop })
	}
	/** runs every stop, last first, each bounded in time; returns the failures (each already printed) */
	async run(): Promise<string[]> {
		const failures: string[] = []
		while (this.#steps.length > 0) {
			const { what, stop } = this.#steps.pop()!
			try {
				await withTimeout(Promise.resolve().then(stop), STOP_TIMEOUT_MS, `stopping ${what}`)
			} catch (err) {
				const r = reason(err)
				console.error(`cleanup: ${r}`)
				failures.push(r)
			}
		}
		return failures
	}
}

function compare(op: Goal['op'], a: number, b: number): boolean {
	if (!Number.isFinite(a)) return false
	return op === '<' ? a < b : op === '<=' ? a <= b : op === '>' ? a > b : a >= b
}

/**
 * Runs a benchmark: parses nothing itself (fn calls parseArgs for its options; --quick is read here too), prints
 * the checks and the result, stops every deferred peer, and ends the process with its exit code.
 */
export function main(name: string, fn: (b: Bench) => Promise<void>): void {
	const quick = process.argv.includes('--quick')
	const root = new Stops()
	const scopes: Stops[] = [root]
	const checks: Check[] = []
	const cleanupFailures: string[] = []
	let ending = false

	const b: Bench = {
		name,
		quick,
		defer: (what, stop) => scopes.at(-1)!.add(what, stop),
		scope: async (inner) => {
			const s = new Stops()
			scopes.push(s)
			try {
				return await inner((what, stop) => s.add(what, stop))
			} finally {
				scopes.splice(scopes.indexOf(s), 1)
				cleanupFailures.push(...(await s.run()))
			}
		},
		goal: (g) => {
			const ok = compare(g.op, g.measured, g.target)
			const judged = g.enforce === 'always' || !quick
			checks.push({
				kind: g.enforce === 'always' ? 'goal' : 'goal (full mode only)',
				what: g.what,
				measured: `${fixed(g.measured, g.digits ?? 2)} ${g.unit}`,
				expected: `${g.op} ${g.target} ${g.unit}`,
				ok,
				judged,
			})
		},
		sane: (what, ok, detail) => checks.push({ kind: 'sanity', what, measured: detail, expected: '', ok, judged: true }),
	}

	const stopAll = async (): Promise<void> => {
		// the innermost scopes first, the run's own deferred stops last
		for (const s of [...scopes].reverse()) cleanupFailures.push(...(await s.run()))
	}

	const printChecks = (): void => {
		if (checks.length === 0) return
		const result = (c: Check): string => {
			if (c.ok) return c.judged ? 'met' : 'met (not judged)'
			if (!c.judged) return 'missed (not judged)'
			return c.kind === 'sanity' ? 'FAIL' : 'MISSED'
		}
		console.log('')
		console.log(`checks (${quick ? '--quick: goals marked "full mode only" are reported, not judged' : 'full mode'}):`)
		console.log(
			table(
				['check', 'kind', 'measured', 'goal', 'result'],
				checks.map((c) => [c.what, c.kind, c.measured, c.expected, result(c)]),
			),
		)
	}

	/** stops everything, prints the one result line, and ends the process */
	const end = async (failure?: string): Promise<never> => {
		ending = true
		await stopAll()
		if (cleanupFailures.length > 0) {
			const cleanup = `cleanup failed (${cleanupFailures.join('; ')})`
			console.error(`FAIL: ${name}: ${failure !== undefined ? `${failure}; ${cleanup}` : cleanup}`)
			// exit() could block on threads a failed stop left running (libsrt's destructors): do not wait for it
			console.error(`${name}: killing this process (SIGKILL), as threads left running can block its exit`)
			process.kill(process.pid, 'SIGKILL')
		}
		if (failure !== undefined) {
			console.error(`FAIL: ${name}: ${failure}`)
			process.exit(1)
		}
		console.log(`RESULT: PASS (${name}${quick ? ', --quick' : ''})`)
		process.exit(0)
	}

	for (const sig of ['SIGTERM', 'SIGINT'] as const)
		process.once(sig, () => {
			if (ending) return
			printChecks()
			void end(`stopped by ${sig}`)
		})

	const run = async (): Promise<never> => {
		try {
			await fn(b)
		} catch (err) {
			printChecks() // what was measured before it failed
			return end(reason(err))
		}
		printChecks()
		// never a pass for something not checked
		if (checks.length === 0) return end('the benchmark recorded no check (no goal, no sanity check)')
		const failed = checks.filter((c) => c.judged && !c.ok)
		if (failed.length > 0)
			return end(
				failed
					.map((c) =>
						c.kind === 'sanity' ? `${c.what}: ${c.measured}` : `${c.what} = ${c.measured}, goal ${c.expected}`,
					)
					.join('; '),
			)
		return end()
	}
	void run()
}
