// The kill -9 crash rounds of the journal, shared by the CI test (test/journal/crash.test.ts, 200 kills) and the
// benchmark (test/bench/crash.ts, 1,000): a child (test/journal/crash-child.ts, bundled once with esbuild so that
// each one starts in plain node) opens the journal as the daemon does and appends under load; it is SIGKILLed at a
// random instant; a torn write (a power cut) may be added to the tail; then the journal is opened again as the next
// start would open it, and checked.
import { spawn } from 'node:child_process'
import { appendFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { listFiles, openJournal, readRecords, recoverFeeds, scanDir, type FeedState } from '../../src/journal/index.ts'

export const CRASH_ROTATE_BYTES = 16384

/** Bundles the child into DIR; returns the .mjs to run. */
export async function bundleCrashChild(dir: string): Promise<string> {
	const outfile = join(dir, 'crash-child.mjs')
	await build({
		entryPoints: [fileURLToPath(new URL('../journal/crash-child.ts', import.meta.url))],
		bundle: true,
		platform: 'node',
		format: 'esm',
		target: 'node20',
		outfile,
		logLevel: 'error',
	})
	return outfile
}

export interface Killed {
	/** seq -> hash of every record the child saw acknowledged (durable) */
	acks: Map<number, string>
	/** the child's `open SEQ TORN BROKEN FROM` line */
	opened: string
	code: number | null
	signal: NodeJS.Signals | null
	stderr: string
}

/** Runs the child on DIR, kills it `delayMs` after it has opened the journal, and collects its acknowledgements. */
export function killRound(bundle: string, dir: string, delayMs: number): Promise<Killed> {
	return new Promise((resolve, reject) => {
		const p = spawn(process.execPath, [bundle, dir, String(CRASH_ROTATE_BYTES)], { stdio: ['ignore', 'pipe', 'pipe'] })
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

/** A power cut: part of a record that never completed, at the end of the last file (false: no file yet). */
export function tear(dir: string): boolean {
	const files = listFiles(dir)
	if (files.length === 0) return false
	appendFileSync(join(dir, files.at(-1)!), `{"seq":999999,"wall":"2026-11-21T00:00:00.000Z","mono":1,"kind":"obs`)
	return true
}

export interface Recovery {
	/** nothing wrong: every acknowledged record there with its hash, the chain verifies, the state restored right */
	problems: string[]
	/** a torn tail was found (and cut) */
	torn: boolean
	/** what the start restored from: the checkpoint, a full scan (no usable checkpoint), or nothing */
	from: 'checkpoint' | 'scan' | 'empty'
	/** how long openJournal took, ms */
	ms: number
}

const strip = (m: ReadonlyMap<string, FeedState>): string =>
	JSON.stringify([...m].map(([k, v]) => [k, v.active, v.mode, v.locked]).sort())

/**
 * Opens DIR as the next start would (openJournal), stops cleanly (the checkpoint at the end), and checks it against
 * what was acknowledged.
 */
export async function recover(dir: string, acked: ReadonlyMap<number, string>): Promise<Recovery> {
	const problems: string[] = []
	const t0 = performance.now()
	let r
	try {
		r = openJournal({ dir, rotateBytes: CRASH_ROTATE_BYTES })
	} catch (err) {
		return { problems: [`open failed: ${(err as Error).message}`], torn: false, from: 'empty', ms: 0 }
	}
	const ms = performance.now() - t0
	const torn = r.journal.report.torn !== null
	if (r.journal.report.broken.length > 0)
		problems.push(`open found a broken chain: ${JSON.stringify(r.journal.report.broken[0])}`)
	// the state a start restores is the state the whole journal holds
	const restored = strip(r.feeds)
	// a clean stop: the next child starts from a checkpoint at the end, and is killed with its own behind it
	await r.journal.close()
	await r.checkpointer.close()
	const full = strip(recoverFeeds(readRecords(dir)))
	if (restored !== full) problems.push(`restored ${restored} (from ${r.from}), the whole journal says ${full}`)
	const present = new Map<number, string>()
	const after = scanDir(dir, (rec) => present.set(rec.seq, rec.hash))
	if (after.torn) problems.push(`a torn tail remains: ${JSON.stringify(after.torn)}`)
	if (after.firstBad) problems.push(`verify fails: ${JSON.stringify(after.firstBad)}`)
	for (const [seq, hash] of acked)
		if (present.get(seq) !== hash) {
			problems.push(`acknowledged seq ${seq} is ${present.has(seq) ? 'altered' : 'missing'}`)
			break
		}
	return { problems, torn, from: r.from, ms }
}
