// The measurements of a FACS tour (docs/contract.md §10), pure: from what the analysers and the SRT receivers saw
// during a path's dwell to the figures of the report, and the pass/fail of a path.
//
// Delay by PTS. Each analyser samples the PTS it decodes, with the instant (monotonic ms) it decoded it. For one
// encode, the same PTS arrives later on a later path: for every sample, arrival minus PTS is the path's offset, and
// the delay of a path is the median of its offsets minus the median of the primary's over the same dwell:
// positive = the path arrives later than the primary. Two analysers of the same kind add the same decode delay, which
// cancels. PTS more than 10 s apart are not the same encode (different encoders count PTS from different origins).
//
// A/V offset. The flash-and-beep pattern (src/facs/pattern.ts) puts a white frame and the start of a beep on the
// same PTS. Each flash is paired with the beep whose PTS is nearest (within half a second); the offset is the
// median of beep minus flash: positive = the sound is late.
import { intervalLossRate, sumTsCounts } from '../../drivers/srt/codec.ts'
import type { StatsReport } from '../../drivers/srt/connection.ts'
import type { Stamp } from '../../drivers/content/analyser.ts'

/** MPEG PTS are 33 bits of 90 kHz: they wrap every 95443.7 s */
const PTS_WRAP_S = 2 ** 33 / 90_000
/** beyond this, two paths' PTS are not the same encode */
export const SAME_ENCODE_S = 10
const MIN_SAMPLES = 5
const MIN_PAIRS = 2

export type Measured = { value: number; why?: undefined } | { value: null; why: string }

export function median(xs: readonly number[]): number {
	const s = [...xs].sort((a, b) => a - b)
	const m = s.length >> 1
	return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

/** The path's delay to the primary by PTS, ms (rounded to 1 ms), or why it cannot be told. */
export function ptsDelayMs(primary: readonly Stamp[], path: readonly Stamp[]): Measured {
	if (primary.length < MIN_SAMPLES) return { value: null, why: 'the primary decoded too little to compare' }
	if (path.length < MIN_SAMPLES) return { value: null, why: 'decoded too little to compare' }
	const offset = (s: readonly Stamp[]) => median(s.map((x) => x.at - x.pts * 1000))
	let d = (offset(path) - offset(primary)) / 1000
	// the same PTS seen on both sides of a wrap
	d -= Math.round(d / PTS_WRAP_S) * PTS_WRAP_S
	if (Math.abs(d) > SAME_ENCODE_S)
		return { value: null, why: `PTS ${Math.abs(d).toFixed(0)} s apart from the primary's: not the same encode` }
	return { value: Math.round(d * 1000) }
}

/** The A/V offset of the flash-and-beep pattern, ms (positive: the sound is late), or why it cannot be told. */
export function avOffsetMs(flashes: readonly Stamp[], beeps: readonly Stamp[]): Measured {
	if (flashes.length === 0) return { value: null, why: 'no flash of the test pattern seen' }
	if (beeps.length === 0) return { value: null, why: 'no beep of the test pattern heard' }
	const offsets: number[] = []
	for (const f of flashes) {
		let best: number | null = null
		for (const b of beeps) {
			const d = b.pts - f.pts
			if (Math.abs(d) <= 0.5 && (best === null || Math.abs(d) < Math.abs(best))) best = d
		}
		if (best !== null) offsets.push(best * 1000)
	}
	if (offsets.length < MIN_PAIRS)
		return { value: null, why: `${offsets.length} flash and beep paired (at least ${MIN_PAIRS} needed)` }
	return { value: Math.round(median(offsets)) }
}

export interface SrtFigures {
	device: string
	/** mean round trip time over the dwell's stats intervals */
	rttMs: number
	/** packets lost or dropped over packets sent, over the dwell */
	lossRate: number
	/** mean receive rate over the dwell */
	mbps: number
	tsPackets: number
	/** transport stream continuity_counter errors (and sync errors) over the dwell */
	ccErrors: number
	syncErrors: number
	/** stats intervals the figures cover */
	intervals: number
}

/** The SRT figures of a path's dwell from its receiver's stats intervals; null when none arrived. */
export function srtFigures(device: string, stats: readonly StatsReport[]): SrtFigures | null {
	const withConns = stats.filter((s) => s.connections.length > 0)
	if (withConns.length === 0) return null
	const conns = withConns.flatMap((s) => s.connections)
	const rtts = conns.map((c) => c.rttMs).filter((r) => r > 0)
	const ms = withConns.reduce((n, s) => n + s.intervalMs, 0)
	const bytes = conns.reduce((n, c) => n + c.byteRecv, 0)
	const ts = sumTsCounts(conns)
	return {
		device,
		rttMs: rtts.length > 0 ? Math.round((rtts.reduce((a, b) => a + b, 0) / rtts.length) * 100) / 100 : 0,
		lossRate: Math.round(intervalLossRate(conns) * 1e6) / 1e6,
		mbps: ms > 0 ? Math.round(((bytes * 8) / 1e6 / (ms / 1000)) * 1000) / 1000 : 0,
		tsPackets: ts.tsPackets,
		ccErrors: ts.tsCcErrors,
		syncErrors: ts.tsSyncErrors,
		intervals: withConns.length,
	}
}

export type Signal = 'up' | 'degraded' | 'down' | null

const WORSE: Record<string, number> = { up: 0, degraded: 1, down: 2 }

/** The worse of two signals; no signal is worse than any. */
export function worse(a: Signal, b: Signal): Signal {
	if (a === null || b === null) return null
	return WORSE[b]! > WORSE[a]! ? b : a
}

export interface Limits {
	avSync: boolean
	maxAvOffsetMs: number
	maxDelayMs: number | null
}

export interface PathFacts {
	take: { ok: boolean; error?: string }
	/** the worst signal seen during the dwell */
	signal: Signal
	/** whether any device on the path reports its signal */
	reported: boolean
	delay: Measured
	/** only with avSync; `analysed`: the path had an analyser (a pattern it did not see then fails) */
	av: (Measured & { analysed: boolean }) | null
}

/** Why a path fails (empty: it passes). */
export function judge(f: PathFacts, l: Limits): string[] {
	const why: string[] = []
	if (!f.take.ok) why.push(`the QC take failed: ${f.take.error ?? 'unconfirmed'}`)
	if (f.signal === 'down' || f.signal === 'degraded') why.push(`signal ${f.signal} during the dwell`)
	else if (f.signal === null && f.reported) why.push('no signal reported during the dwell')
	if (l.maxDelayMs !== null && f.delay.value !== null && Math.abs(f.delay.value) > l.maxDelayMs)
		why.push(`delay ${f.delay.value} ms beyond ${l.maxDelayMs} ms`)
	if (l.avSync && f.av) {
		if (f.av.value !== null && Math.abs(f.av.value) > l.maxAvOffsetMs)
			why.push(`A/V offset ${f.av.value} ms beyond ${l.maxAvOffsetMs} ms`)
		else if (f.av.value === null && f.av.analysed) why.push(`A/V offset not measured: ${f.av.why}`)
	}
	return why
}
