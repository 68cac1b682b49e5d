// The FACS tour (docs/contract.md §10), run by the daemon, which owns the router sessions and the receivers: for
// each feed of the event that has a QC output, each path in rank order is taken to the QC output (confirmed on the
// router's own tally), left there dwellMs while it is measured, and at the end the QC output is put back to the
// input it showed before. Nothing else is routed: a QC output that is a feed's program output is refused (the
// config check refuses it too), and so is a second tour while one runs.
//
// What is measured during a path's dwell: the worst signal the engine saw on it and its class at the end; its SRT
// receiver's stats intervals (rtt, loss, rate, TS continuity errors); from the analyser on its relayed TS (the
// content checks' own, or one started for the tour where the receiver relays to this host) the PTS samples of the
// path and of the primary over the same dwell (delay), and the flashes and beeps of the test pattern (A/V offset).
import { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import { ContentAnalyser } from '../../drivers/content/analyser.ts'
import { udpInput } from '../../drivers/content/ffmpeg.ts'
import type { Router } from '../../drivers/router/index.ts'
import { parseUdpUrl } from '../../drivers/srt/codec.ts'
import type { StatsReport } from '../../drivers/srt/connection.ts'
import { monotonicMs } from '../clock.ts'
import type { FeedState } from '../control/payloads.ts'
import { effectiveFacs, programOutputOf, type EffectiveFacs } from '../domain/facs.ts'
import type { FeedKey, FeedRef, Model } from '../domain/model.ts'
import type { Entry } from '../journal/index.ts'
import { SrtSource } from '../runtime/adapters.ts'
import { ContentSource } from '../runtime/content.ts'
import type { SignalSource } from '../runtime/devices.ts'
import { avOffsetMs, judge, ptsDelayMs, srtFigures, worse, type Measured, type Signal } from './measure.ts'
import type { FacsReport, FeedReport, PathReport } from './report.ts'

export interface FacsDeps {
	model: Model
	routers: ReadonlyMap<string, Router>
	sources: readonly SignalSource[]
	feedState: (key: FeedKey) => FeedState
	journal: (entries: readonly Entry[]) => void
	/** engine time, for the journal */
	now: () => number
	log: Logger
	running: () => boolean
	/**
	 * a pair's gates (docs/contract.md §9): only the active node takes a FACS command, and routes only while its lease
	 * is valid by its own clock; alone, both are always open
	 */
	permit?: { command: () => Permit; route: () => Permit }
	/** the ffmpeg binary of the tour's own analysers */
	ffmpeg?: string
}

type Permit = { ok: true } | { ok: false; why: string }

export interface FacsRequest {
	event: string
	feed?: string | undefined
	operator: string
	via: string
}

export type FacsOutcome =
	{ ok: true; report: FacsReport } | { ok: false; status: 'bad-input' | 'refused'; error: string }

interface Planned {
	ref: FeedRef
	facs: EffectiveFacs & { qcOutput: { router: string; output: number } }
	router: Router
}

type Plan = { feeds: Planned[]; skipped: FacsReport['skipped'] }

/** how often the path's signal is looked at during a dwell, ms */
const POLL_MS = 100
/** how long the tour waits for its own analysers to decode, ms */
const ANALYSER_START_MS = 15_000

export class FacsRunner {
	readonly events = new EventEmitter<{
		started: [{ event: string; operator: string; via: string; startedAt: string }]
		report: [FacsReport]
	}>()
	private busy: { event: string; operator: string; done: Promise<unknown> } | null = null
	private readonly reports = new Map<string, FacsReport>()
	/** set by stop(): the dwell in progress ends now, no further path is taken, the QC output is put back */
	private stopping = false
	private wake: (() => void) | undefined

	constructor(private readonly d: FacsDeps) {}

	/** The last tour of each event (newest kept), for /status, the dashboard and GET. */
	last(event?: string): FacsReport[] {
		return event !== undefined
			? [...this.reports.values()].filter((r) => r.event === event)
			: [...this.reports.values()]
	}

	async run(req: FacsRequest): Promise<FacsOutcome> {
		const plan = this.plan(req)
		if ('error' in plan) {
			this.d.log.warn({ event: req.event, feed: req.feed, operator: req.operator }, `FACS refused: ${plan.error}`)
			this.journal({ phase: 'refused', event: req.event, message: plan.error, ...this.who(req) })
			return { ok: false, status: plan.status, error: plan.error }
		}
		if (this.busy) {
			const error = `a FACS tour of ${this.busy.event} is running (by ${this.busy.operator}): one at a time`
			this.journal({ phase: 'refused', event: req.event, message: error, ...this.who(req) })
			return { ok: false, status: 'refused', error }
		}
		const done = this.tour(req, plan)
		this.busy = { event: req.event, operator: req.operator, done }
		try {
			const report = await done
			this.reports.set(report.event, report)
			this.events.emit('report', report)
			return { ok: true, report }
		} finally {
			this.busy = null
		}
	}

	/** The daemon stops: a tour in progress is cut short and puts its QC output back (the routers are still up). */
	async stop(): Promise<void> {
		this.stopping = true
		this.wake?.()
		await this.busy?.done.catch(() => undefined)
	}

	/** Waits ms, or less when the daemon stops. */
	private dwell(ms: number): Promise<void> {
		return new Promise((resolve) => {
			const timer = setTimeout(done, ms)
			function done(): void {
				clearTimeout(timer)
				resolve()
			}
			this.wake = done
		})
	}

	private plan(req: FacsRequest): Plan | { status: 'bad-input' | 'refused'; error: string } {
		if (!this.d.running() || this.stopping) return { status: 'refused', error: 'the daemon is not running' }
		const permit = this.d.permit?.command()
		if (permit && !permit.ok) return { status: 'refused', error: permit.why }
		const events = this.d.model.config.events
		const ev = events.find((e) => e.id === req.event)
		if (!ev)
			return {
				status: 'bad-input',
				error: `unknown event "${req.event}" (events: ${events.map((e) => e.id).join(', ') || 'none'})`,
			}
		const feeds = req.feed !== undefined ? ev.feeds.filter((f) => f.id === req.feed) : ev.feeds
		if (req.feed !== undefined && feeds.length === 0)
			return {
				status: 'bad-input',
				error: `event ${ev.id} has no feed "${req.feed}" (feeds: ${ev.feeds.map((f) => f.id).join(', ')})`,
			}
		const planned: Planned[] = []
		const skipped: FacsReport['skipped'] = []
		for (const feed of feeds) {
			const ref = this.d.model.feeds.get(`${ev.id}/${feed.id}`)!
			const facs = effectiveFacs(ev, feed)
			const qc = facs.qcOutput
			const why = !qc ? 'no facs.qcOutput (on the event or the feed)' : ref.ranked.length === 0 ? 'no paths' : null
			if (why !== null || !qc) {
				if (req.feed !== undefined) return { status: 'bad-input', error: `feed ${ref.key} has ${why}` }
				skipped.push({ feed: feed.id, why: why ?? '' })
				continue
			}
			// never a program output, whatever the config says (its check refuses it too)
			const owner = programOutputOf(this.d.model.config, qc.router, qc.output)
			if (owner !== undefined)
				return {
					status: 'refused',
					error: `router ${qc.router} output ${qc.output} is the program output of feed ${owner}: FACS never touches a program output`,
				}
			const router = this.d.routers.get(qc.router)
			if (!router)
				return { status: 'refused', error: `router ${qc.router} has no driver: nothing can be taken to its QC output` }
			if (!router.isSynced())
				return { status: 'refused', error: `router ${qc.router} has not reported its crosspoints: nothing is sent` }
			planned.push({ ref, facs: { ...facs, qcOutput: qc }, router })
		}
		if (planned.length === 0)
			return {
				status: 'bad-input',
				error: `event ${ev.id} has no feed to tour (${skipped.map((s) => `${s.feed}: ${s.why}`).join('; ')})`,
			}
		return { feeds: planned, skipped }
	}

	private async tour(req: FacsRequest, plan: Plan): Promise<FacsReport> {
		const started = Date.now()
		const t0 = monotonicMs()
		this.events.emit('started', { event: req.event, ...this.who(req), startedAt: new Date(started).toISOString() })
		this.d.log.info(
			{ event: req.event, feeds: plan.feeds.map((f) => f.ref.key), operator: req.operator },
			'FACS tour started',
		)
		this.journal({
			phase: 'start',
			event: req.event,
			...this.who(req),
			result: {
				feeds: plan.feeds.map((f) => ({ feed: f.ref.feed.id, qcOutput: f.facs.qcOutput, dwellMs: f.facs.dwellMs })),
			},
		})
		const own = await this.startAnalysers(plan)
		const feeds: FeedReport[] = []
		try {
			for (const p of plan.feeds) if (!this.stopping) feeds.push(await this.tourFeed(req, p, own))
		} finally {
			await Promise.all([...own.values()].map((a) => a.stop()))
		}
		const failed: string[] = []
		for (const f of feeds) {
			for (const p of f.paths) if (!p.pass) failed.push(`${req.event}/${f.feed}/${p.path}: ${p.failures.join('; ')}`)
			if (!f.restored.ok) failed.push(`${req.event}/${f.feed}: QC output not put back: ${f.restored.error ?? ''}`)
		}
		const report: FacsReport = {
			event: req.event,
			operator: req.operator,
			via: req.via,
			startedAt: new Date(started).toISOString(),
			endedAt: new Date().toISOString(),
			durationMs: Math.round(monotonicMs() - t0),
			feeds,
			skipped: plan.skipped,
			pass: failed.length === 0,
			failed,
		}
		this.d.log[report.pass ? 'info' : 'warn'](
			{ event: req.event, failed },
			`FACS tour ${report.pass ? 'passed' : 'failed'}`,
		)
		this.journal({ phase: 'end', event: req.event, pass: report.pass, ...this.who(req), result: report })
		return report
	}

	private async tourFeed(req: FacsRequest, p: Planned, own: ReadonlyMap<string, ContentAnalyser>): Promise<FeedReport> {
		const { ref, facs, router } = p
		const qc = facs.qcOutput
		const before = router.routing().get(qc.output) ?? null
		const paths: PathReport[] = []
		let restored: FeedReport['restored'] = { ok: false, input: before }
		try {
			for (let i = 0; i < ref.ranked.length && !this.stopping; i++) paths.push(await this.tourPath(req, p, i, own))
		} finally {
			restored = await this.restore(req, p, before)
		}
		return {
			feed: ref.feed.id,
			qcOutput: qc,
			dwellMs: facs.dwellMs,
			avSync: facs.avSync,
			maxAvOffsetMs: facs.maxAvOffsetMs,
			maxDelayMs: facs.maxDelayMs,
			paths,
			restored,
			pass: restored.ok && paths.length === ref.ranked.length && paths.every((x) => x.pass),
		}
	}

	private async tourPath(
		req: FacsRequest,
		p: Planned,
		rank: number,
		own: ReadonlyMap<string, ContentAnalyser>,
	): Promise<PathReport> {
		const { ref, facs, router } = p
		const path = ref.ranked[rank]!
		const take = await this.take(router, facs.qcOutput.output, path.input.input)
		// the dwell: the receiver's stats intervals and the engine's view of the path, while it is on the QC output
		const srt = this.srtOf(path.via)
		const stats: StatsReport[] = []
		const onStats = (s: StatsReport): void => void stats.push(s)
		srt?.rx.on('stats', onStats)
		let signal: Signal = this.signalOf(ref.key, path.id)
		const from = monotonicMs()
		const poll = setInterval(() => (signal = worse(signal, this.signalOf(ref.key, path.id))), POLL_MS)
		await this.dwell(facs.dwellMs)
		clearInterval(poll)
		srt?.rx.off('stats', onStats)
		const to = monotonicMs()
		signal = worse(signal, this.signalOf(ref.key, path.id))
		// delay and A/V offset from the analysed TS of this path and of the primary, over this dwell
		const mine = this.analyserOf(path.via, own)
		const primary = this.analyserOf(ref.ranked[0]!.via, own)
		let delay: Measured
		if (rank > 0 && !primary) delay = { value: null, why: 'the primary has no analysed TS to compare with' }
		else if (!mine) delay = { value: null, why: 'no analysed TS on this path (no SRT receiver relaying to this host)' }
		else if (mine.a.failure)
			delay = { value: null, why: `the analyser of ${mine.device} failed: ${mine.a.failure.reason}` }
		else if (rank === 0)
			delay = mine.a.window(from, to).samples.length > 0 ? { value: 0 } : { value: null, why: 'decoded nothing' }
		else if (!primary) delay = { value: null, why: 'the primary has no analysed TS to compare with' }
		else delay = ptsDelayMs(primary.a.window(from, to).samples, mine.a.window(from, to).samples)
		let av: (Measured & { analysed: boolean }) | null = null
		if (facs.avSync) {
			const w = mine?.a.window(from, to)
			av = w
				? { ...avOffsetMs(w.flashes, w.beeps), analysed: true }
				: { value: null, why: 'no analysed TS on this path', analysed: false }
		}
		const reported = path.via.some((id) => this.d.model.devices.get(id)?.driver !== undefined)
		const failures = judge({ take, signal, reported, delay, av }, facs)
		const notes: string[] = []
		if (!reported) notes.push('no device on this path reports its signal: judge it on the QC monitor')
		const state = this.d.feedState(ref.key).paths[path.id]?.state ?? 'ineligible'
		const result: PathReport = {
			path: path.id,
			rank: rank + 1,
			method: path.method,
			input: { router: path.input.router, input: path.input.input },
			take,
			signal,
			class: state,
			srt: srt ? srtFigures(srt.deviceId, stats) : null,
			analysed: mine?.device ?? null,
			delayMs: delay.value,
			...(delay.why !== undefined ? { delayWhy: delay.why } : {}),
			...(av ? { avOffsetMs: av.value, ...(av.why !== undefined ? { avWhy: av.why } : {}) } : {}),
			pass: failures.length === 0,
			failures,
			notes,
		}
		this.journal({
			phase: 'path',
			event: req.event,
			feed: ref.feed.id,
			path: path.id,
			router: router.deviceId,
			output: facs.qcOutput.output,
			input: path.input.input,
			pass: result.pass,
			result,
		})
		return result
	}

	private async restore(req: FacsRequest, p: Planned, before: number | null): Promise<FeedReport['restored']> {
		const { router, facs, ref } = p
		let restored: FeedReport['restored']
		if (before === null) restored = { ok: false, input: null, error: 'the QC output showed no input before the tour' }
		else {
			const t = await this.take(router, facs.qcOutput.output, before)
			restored = t.ok ? { ok: true, input: before } : { ok: false, input: before, error: t.error ?? 'unconfirmed' }
		}
		this.journal({
			phase: 'restore',
			event: req.event,
			feed: ref.feed.id,
			router: router.deviceId,
			output: facs.qcOutput.output,
			...(before !== null ? { input: before } : {}),
			pass: restored.ok,
			...(restored.error !== undefined ? { message: restored.error } : {}),
		})
		return restored
	}

	private async take(router: Router, output: number, input: number): Promise<PathReport['take']> {
		const fence = this.d.permit?.route()
		if (fence && !fence.ok) return { ok: false, error: `not sent: ${fence.why}` }
		try {
			const r = await router.take(output, input)
			return { ok: true, ms: Math.round((r.confirmedAt - r.sentAt) * 10) / 10 }
		} catch (err) {
			return { ok: false, error: err instanceof Error ? err.message : String(err) }
		}
	}

	private signalOf(key: FeedKey, path: string): Signal {
		return this.d.feedState(key).paths[path]?.signal ?? null
	}

	/** the path's SRT receiver nearest the BOC (the last in `via`) */
	private srtOf(via: readonly string[]): SrtSource | undefined {
		for (const id of [...via].reverse()) {
			const s = this.d.sources.find((x) => x.deviceId === id)
			if (s instanceof SrtSource) return s
			if (s instanceof ContentSource) return s.inner
		}
		return undefined
	}

	/** the analyser of the path's relayed TS: the content checks' own, else the tour's */
	private analyserOf(
		via: readonly string[],
		own: ReadonlyMap<string, ContentAnalyser>,
	): { device: string; a: ContentAnalyser } | undefined {
		for (const id of [...via].reverse()) {
			const s = this.d.sources.find((x) => x.deviceId === id)
			if (s instanceof ContentSource && s.analyser) return { device: id, a: s.analyser }
			const mine = own.get(id)
			if (mine) return { device: id, a: mine }
		}
		return undefined
	}

	/**
	 * Analysers of the tour's own for the paths whose SRT receiver relays but is not watched (no content checks),
	 * started together and waited for (up to 15 s) so that every dwell is measured; stopped when the tour ends.
	 */
	private async startAnalysers(plan: Plan): Promise<Map<string, ContentAnalyser>> {
		const own = new Map<string, ContentAnalyser>()
		const relayOf = (via: readonly string[]) => this.srtOf(via)?.rx.config.relayTo
		for (const { ref, facs } of plan.feeds) {
			// without the A/V test, a delay is measured only against a primary whose TS can be read: else none is needed
			const primary = ref.ranked[0]!.via
			if (!facs.avSync && !this.analyserOf(primary, own) && relayOf(primary) === undefined) continue
			for (const path of ref.ranked) {
				if (this.analyserOf(path.via, own)) continue
				const srt = this.srtOf(path.via)
				const relay = srt?.rx.config.relayTo
				if (!srt || relay === undefined) continue
				const u = parseUdpUrl(relay)
				const a = new ContentAnalyser(
					{
						input: udpInput(u.host, u.port),
						stallMs: 60_000,
						flowing: () => false,
						avSync: facs.avSync,
						...(this.d.ffmpeg !== undefined ? { ffmpeg: this.d.ffmpeg } : {}),
					},
					{ log: this.d.log.child({ device: srt.deviceId, part: 'facs' }) },
				)
				a.on('failed', (f) => this.d.log.warn({ device: srt.deviceId, reason: f.reason }, 'FACS analyser failed'))
				a.start()
				own.set(srt.deviceId, a)
			}
		}
		// waited for where a stream arrives, until it decodes or fails; one with nothing arriving is not waited for
		const receiving = (id: string): boolean => {
			const s = this.srtOf([id])?.rx.signal?.signal
			return s === 'up' || s === 'degraded'
		}
		const pending = (): boolean =>
			[...own].some(([id, a]) => a.state !== 'running' && a.failure === null && receiving(id))
		const deadline = monotonicMs() + ANALYSER_START_MS
		while (pending() && monotonicMs() < deadline) await sleep(100)
		return own
	}

	private who(req: FacsRequest): { operator: string; via: string } {
		return { operator: req.operator, via: req.via }
	}

	private journal(payload: Omit<Extract<Entry, { kind: 'facs' }>['payload'], 't'>): void {
		this.d.journal([{ kind: 'facs', payload: { t: this.d.now(), ...payload } }])
	}
}

function sleep(ms: number): Promise<void> {
	return new Promise((r) => setTimeout(r, ms))
}
