// The content analyser of one relayed stream: an ffmpeg child process (Debian's ffmpeg) reading the UDP relay,
// supervised here. It knows no feeds and no devices: it is given a URL and thresholds, and says when black, a
// frozen picture or silence has stood for its time, and when it ends. It also keeps, for FACS, the last two
// minutes of the stream's PTS as it arrived (10 a second), of the flashes and of the beeps of the test pattern.
//
// It only ever adds evidence: it runs beside the receive path, never in it, and what it cannot judge it does not
// report. A crashed ffmpeg (any exit we did not ask for) or a stuck one (nothing decoded for stallMs while the
// stream is relayed, which only the caller can tell: `flowing`) is killed, its conditions withdrawn (a dead
// analyser is no evidence of black), said (`failed`), and restarted after a capped backoff; `recovered` once it
// decodes again. With no stream arriving ffmpeg simply waits: that is not a fault.
//
// How long a condition stands is measured on the stream's own clock (its PTS, sampled), as ffmpeg's freezedetect
// and silencedetect measure theirs: freeze and silence are reported standing when ffmpeg logs their start (it waits
// their `d`, set to ms); black when the stream clock has run ms past blackdetect's onset.
import { spawn, type ChildProcess } from 'node:child_process'
import { EventEmitter } from 'node:events'
import { monotonicMs } from '../../src/clock.ts'
import { Backoff } from '../common/backoff.ts'
import { LineSplitter } from '../common/lines.ts'
import type { DriverContext } from '../types.ts'
import { analyserArgs, SAMPLE_PERIOD_S, type AnalyserChecks } from './ffmpeg.ts'
import { parseLine, ProgressParser } from './parse.ts'

export type AnalyserState = 'idle' | 'starting' | 'running' | 'backoff' | 'stopped'
export type ConditionKind = 'black' | 'freeze' | 'silence'
export const CONDITION_KINDS: readonly ConditionKind[] = ['black', 'freeze', 'silence']

export interface ContentCondition {
	kind: ConditionKind
	/** standing (it has lasted its ms) or ended */
	active: boolean
	/** monotonic ms it was found standing, or ended */
	at: number
	/** `black: 2.0 s`, or `black ended` */
	cause: string
	/** the stream's PTS (s) where ffmpeg found the condition began, or ended; null when withdrawn */
	pts: number | null
}

export interface AnalyserFailure {
	reason: string
	at: number
	/** failures since the analyser last decoded */
	failures: number
}

/** A timestamp of the stream (PTS, s) and the monotonic ms the analyser saw it. */
export interface Stamp {
	pts: number
	at: number
}

export interface ContentAnalyserEvents {
	state: [AnalyserState]
	condition: [ContentCondition]
	failed: [AnalyserFailure]
	recovered: [{ at: number }]
}

export interface ContentAnalyserOptions extends AnalyserChecks {
	/** ffmpeg's input: the relay, udp://HOST:PORT (ffmpeg.ts udpInput) */
	input: string
	/** nothing decoded for this long while the stream flows: stuck */
	stallMs: number
	/** whether the stream is being relayed to the input now (only then is a silent analyser stuck) */
	flowing: () => boolean
	/** the ffmpeg binary (default: ffmpeg on the PATH) */
	ffmpeg?: string
	backoffMs?: { base: number; max: number }
	random?: () => number
	/** how long PTS samples, flashes and beeps are kept, ms (default 120 s) */
	historyMs?: number
}

interface Standing {
	/** stream clock (s) at the onset, for black; null: no onset seen */
	onsetT: number | null
	/** the onset's PTS, for black */
	onsetPts: number | null
	standing: boolean
	/** monotonic ms it was found standing */
	since: number
	/** how long it had lasted when found standing, s */
	lasted: number
}

const TICK_MS = 500
/** a new ffmpeg probes the stream (up to 2 s of it, or 1 MB) before its first picture: it gets at least this long */
const STARTING_MS = 15_000
const KILL_GRACE_MS = 1000
const MAX_LINE = 4096
/** two flashes or beeps closer than this are one */
const ONSET_GAP_S = 0.3
const MAX_HISTORY = 4096

export class ContentAnalyser extends EventEmitter<ContentAnalyserEvents> {
	#state: AnalyserState = 'idle'
	#child: ChildProcess | undefined
	#tick: NodeJS.Timeout | undefined
	#restart: NodeJS.Timeout | undefined
	readonly #backoff: Backoff
	readonly #log
	#spawnedAt = 0
	#lastDecodeAt: number | null = null
	#flowingSince: number | null = null
	#failure: AnalyserFailure | null = null
	#failures = 0
	/** the last lines ffmpeg said that were none of the detectors' (why it exited) */
	#said: string[] = []
	#streams: { video: string | null; audio: string | null } = { video: null, audio: null }
	#inputSection = true
	// the stream clock: the sampled PTS, advanced by their differences (a jump, a new encoder: one sample period)
	#lastPts: number | null = null
	#clock = 0
	readonly #cond: Record<ConditionKind, Standing> = {
		black: { onsetT: null, onsetPts: null, standing: false, since: 0, lasted: 0 },
		freeze: { onsetT: null, onsetPts: null, standing: false, since: 0, lasted: 0 },
		silence: { onsetT: null, onsetPts: null, standing: false, since: 0, lasted: 0 },
	}
	readonly #samples: Stamp[] = []
	readonly #flashes: Stamp[] = []
	readonly #beeps: Stamp[] = []
	#lastFlashPts: number | null = null
	#lastLoudPts: number | null = null

	constructor(
		readonly options: ContentAnalyserOptions,
		ctx: DriverContext,
	) {
		super()
		this.#log = ctx.log.child({ driver: 'content', input: options.input.replace(/\?.*$/, '') })
		const { base, max } = options.backoffMs ?? { base: 1000, max: 30_000 }
		this.#backoff = new Backoff({ initialMs: base, maxMs: max, ...(options.random ? { random: options.random } : {}) })
	}

	get state(): AnalyserState {
		return this.#state
	}

	/** why the analyser is not analysing (crashed, stuck, cannot start), until it decodes again */
	get failure(): AnalyserFailure | null {
		return this.#failure
	}

	/** the input's first video and audio streams as ffmpeg described them (null: none, or not started) */
	get streams(): { video: string | null; audio: string | null } {
		return { ...this.#streams }
	}

	/** the running ffmpeg's pid (for operators' ps, and tests) */
	get pid(): number | undefined {
		return this.#child?.pid
	}

	/** monotonic ms of the last picture or sound decoded */
	get lastDecodeAt(): number | null {
		return this.#lastDecodeAt
	}

	/** the conditions standing now, with how long each has lasted (s) */
	standing(now = monotonicMs()): { kind: ConditionKind; lastedS: number }[] {
		return CONDITION_KINDS.filter((k) => this.#cond[k].standing).map((k) => {
			const c = this.#cond[k]
			return { kind: k, lastedS: round1(c.lasted + (now - c.since) / 1000) }
		})
	}

	/** What arrived between two monotonic instants: PTS samples, flash and beep onsets. */
	window(from: number, to: number): { samples: Stamp[]; flashes: Stamp[]; beeps: Stamp[] } {
		const within = (s: Stamp): boolean => s.at >= from && s.at <= to
		return {
			samples: this.#samples.filter(within),
			flashes: this.#flashes.filter(within),
			beeps: this.#beeps.filter(within),
		}
	}

	start(): void {
		if (this.#state !== 'idle') throw new Error(`ContentAnalyser.start(): already ${this.#state}`)
		this.#tick = setInterval(() => this.#check(), TICK_MS)
		this.#spawn()
	}

	/** Stops for good: the child is asked to end, killed after a second, and waited for. */
	async stop(): Promise<void> {
		if (this.#state === 'stopped') return
		this.#setState('stopped')
		if (this.#tick) clearInterval(this.#tick)
		if (this.#restart) clearTimeout(this.#restart)
		this.#tick = undefined
		this.#restart = undefined
		const child = this.#child
		this.#child = undefined
		if (child) await end(child)
	}

	#spawn(): void {
		if (this.#state === 'stopped') return
		const o = this.options
		const args = analyserArgs(o.input, o)
		this.#spawnedAt = monotonicMs()
		this.#said = []
		this.#streams = { video: null, audio: null }
		this.#inputSection = true
		this.#lastPts = null
		this.#setState('starting')
		let child: ChildProcess
		try {
			child = spawn(o.ffmpeg ?? 'ffmpeg', args, { stdio: ['ignore', 'pipe', 'pipe'] })
		} catch (err) {
			this.#fail(`cannot run ffmpeg: ${(err as Error).message}`)
			return
		}
		this.#child = child
		const errLines = new LineSplitter({ terminator: 'lf', maxLine: MAX_LINE })
		const outLines = new LineSplitter({ terminator: 'lf', maxLine: MAX_LINE })
		const progress = new ProgressParser()
		let last = { frame: 0, outTimeUs: 0 }
		child.stderr!.setEncoding('utf8')
		child.stdout!.setEncoding('utf8')
		child.stderr!.on('data', (d: string) => {
			if (child === this.#child) for (const l of errLines.push(d)) this.#onLine(l)
		})
		child.stdout!.on('data', (d: string) => {
			if (child !== this.#child) return
			for (const l of outLines.push(d)) {
				const p = progress.push(l)
				if (!p) continue
				// a block repeating the last one is no progress (a stuck ffmpeg may still print them)
				if (p.frame > last.frame || p.outTimeUs > last.outTimeUs) this.#decoded()
				last = p
			}
		})
		child.once('error', (err: NodeJS.ErrnoException) => {
			if (child !== this.#child) return
			this.#fail(
				err.code === 'ENOENT'
					? `ffmpeg is not installed (apt-get install ffmpeg): ${err.message}`
					: `cannot run ffmpeg: ${err.message}`,
			)
		})
		child.once('exit', (code, signal) => {
			if (child !== this.#child) return
			const last = this.#said.at(-1)
			this.#fail(`ffmpeg exited (${signal ?? `code ${code}`})${last ? `: ${last}` : ''}`)
		})
		this.#log.debug({ args }, 'content analyser started')
	}

	#onLine(line: string): void {
		const p = parseLine(line)
		if (!p) {
			if (line.trim() !== '') {
				this.#said.push(line.slice(0, 300))
				if (this.#said.length > 5) this.#said.shift()
			}
			return
		}
		const now = monotonicMs()
		switch (p.type) {
			case 'stream':
				if (this.#inputSection && this.#streams[p.kind] === null) this.#streams[p.kind] = p.description
				return
			case 'mapping':
				this.#inputSection = false
				return
			case 'sample':
				this.#decoded()
				this.#advanceClock(p.pts)
				push(this.#samples, { pts: p.pts, at: now }, now, this.#historyMs)
				this.#checkBlack(now)
				return
			case 'loud':
				this.#decoded()
				if (this.#lastLoudPts === null || p.pts - this.#lastLoudPts > ONSET_GAP_S || p.pts < this.#lastLoudPts)
					push(this.#beeps, { pts: p.pts, at: now }, now, this.#historyMs)
				this.#lastLoudPts = p.pts
				return
			case 'flash':
				if (this.#lastFlashPts === null || p.pts - this.#lastFlashPts > ONSET_GAP_S || p.pts < this.#lastFlashPts)
					push(this.#flashes, { pts: p.pts, at: now }, now, this.#historyMs)
				this.#lastFlashPts = p.pts
				return
			case 'black-start': {
				// the onset frame runs a little ahead of the last sample: dated on the stream clock by its PTS
				const ahead = this.#lastPts === null ? 0 : Math.max(-1, Math.min(1, p.pts - this.#lastPts))
				this.#cond.black.onsetT = this.#clock + ahead
				this.#cond.black.onsetPts = p.pts
				return
			}
			case 'black-end':
				this.#cond.black.onsetT = null
				return this.#set('black', false, now, 0, p.pts)
			case 'freeze-start':
				return this.#set('freeze', true, now, this.options.freeze!.ms / 1000, p.pts)
			case 'freeze-end':
				return this.#set('freeze', false, now, 0, p.pts)
			case 'silence-start':
				return this.#set('silence', true, now, this.options.silence!.ms / 1000, p.pts)
			case 'silence-end':
				return this.#set('silence', false, now, 0, p.pts)
		}
	}

	get #historyMs(): number {
		return this.options.historyMs ?? 120_000
	}

	#advanceClock(pts: number): void {
		const d = this.#lastPts === null ? 0 : pts - this.#lastPts
		this.#clock += d > 0 && d < 2 ? d : this.#lastPts === null ? 0 : SAMPLE_PERIOD_S
		this.#lastPts = pts
	}

	#checkBlack(now: number): void {
		const b = this.#cond.black
		if (b.onsetT === null || b.standing || !this.options.black) return
		const lasted = this.#clock - b.onsetT
		if (lasted >= this.options.black.ms / 1000 - 1e-6) this.#set('black', true, now, lasted, b.onsetPts)
	}

	#set(kind: ConditionKind, active: boolean, at: number, lasted: number, pts: number | null, why?: string): void {
		const c = this.#cond[kind]
		if (c.standing === active) return
		c.standing = active
		c.since = at
		c.lasted = lasted
		const cause = why ?? (active ? `${kind}: ${lasted.toFixed(1)} s` : `${kind} ended`)
		this.#log.info({ kind, active, cause }, 'content condition')
		this.emit('condition', { kind, active, at, cause, pts })
	}

	/** Something came out of the decoder: the analyser works (again). */
	#decoded(): void {
		this.#lastDecodeAt = monotonicMs()
		if (this.#state === 'starting') this.#setState('running')
		if (this.#failure) {
			this.#failure = null
			this.#failures = 0
			this.#backoff.reset()
			this.#log.info('content analyser decoding again')
			this.emit('recovered', { at: this.#lastDecodeAt })
		}
	}

	#check(): void {
		if (this.#state !== 'starting' && this.#state !== 'running') return
		const now = monotonicMs()
		if (!this.options.flowing()) {
			this.#flowingSince = null
			return
		}
		this.#flowingSince ??= now
		const since = Math.max(this.#lastDecodeAt ?? 0, this.#spawnedAt, this.#flowingSince)
		const allowed = this.#state === 'starting' ? Math.max(this.options.stallMs, STARTING_MS) : this.options.stallMs
		if (now - since > allowed)
			this.#fail(`ffmpeg decoded nothing for ${Math.round((now - since) / 1000)} s while the stream is relayed`)
	}

	#fail(reason: string): void {
		if (this.#state === 'stopped') return
		const child = this.#child
		this.#child = undefined
		if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
		// a dead analyser is no evidence: what it found standing is withdrawn
		const now = monotonicMs()
		this.#cond.black.onsetT = null
		for (const k of CONDITION_KINDS) this.#set(k, false, now, 0, null, `${k} withdrawn: the analyser failed`)
		this.#failures++
		this.#failure = { reason, at: now, failures: this.#failures }
		const delay = this.#backoff.next()
		this.#log.warn({ reason, delayMs: delay, failures: this.#failures }, 'content analyser failed; restarting')
		this.#setState('backoff')
		this.emit('failed', { ...this.#failure })
		this.#restart = setTimeout(() => {
			this.#restart = undefined
			this.#spawn()
		}, delay)
	}

	#setState(s: AnalyserState): void {
		if (this.#state === s) return
		this.#state = s
		this.emit('state', s)
	}
}

function push(list: Stamp[], s: Stamp, now: number, keepMs: number): void {
	list.push(s)
	let drop = 0
	while (drop < list.length && (now - list[drop]!.at > keepMs || list.length - drop > MAX_HISTORY)) drop++
	if (drop > 0) list.splice(0, drop)
}

function round1(n: number): number {
	return Math.round(n * 10) / 10
}

/** SIGTERM, then SIGKILL after a grace (ffmpeg blocked on an idle UDP input may not end on SIGTERM alone). */
async function end(child: ChildProcess): Promise<void> {
	if (child.exitCode !== null || child.signalCode !== null) return
	const exited = new Promise<void>((r) => child.once('exit', () => r()))
	child.kill('SIGTERM')
	const timer = setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS)
	await exited
	clearTimeout(timer)
}
