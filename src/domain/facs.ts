// FACS settings (docs/contract.md §10): on an event, for all its feeds, and on a feed, whose keys override its
// event's. The QC output is a router output an operator watches on a monitor; FACS takes each path of a feed to it
// in turn. It must be on the feed's router and never any feed's program output (checked here: an invalid config).
import { z } from 'zod'
import type { Config, Event, Feed } from './config.ts'
import { Id, Port1 } from './primitives.ts'

export const Facs = z
	.strictObject({
		qcOutput: z
			.strictObject({ router: Id.describe('router device id'), output: Port1.describe('router output, 1-based') })
			.optional()
			.describe("the QC output: on the feed's router, never a feed's program output"),
		dwellMs: z
			.number()
			.int()
			.min(1000)
			.max(300_000)
			.optional()
			.describe('how long each path stays on the QC output, measured (default 5000)'),
		avSync: z
			.boolean()
			.optional()
			.describe('measure the audio-to-video offset of the flash-and-beep test pattern on each path (default false)'),
		maxAvOffsetMs: z
			.number()
			.min(0)
			.max(10_000)
			.optional()
			.describe('a path whose |A/V offset| exceeds this fails (default 40)'),
		maxDelayMs: z
			.number()
			.min(0)
			.max(600_000)
			.optional()
			.describe('a path whose |delay| to the primary exceeds this fails (default: the delay is reported, not judged)'),
	})
	.describe('facilities checks (FACS/FAX): the tour of the paths on a QC output')
export type Facs = z.infer<typeof Facs>

/** with avSync, the shortest dwell that sees two flashes and beeps of the pattern (one a second) whatever the phase */
export const MIN_AV_DWELL_MS = 3000

/** A feed's FACS settings: its own keys over its event's, defaults applied. */
export interface EffectiveFacs {
	qcOutput: { router: string; output: number } | null
	dwellMs: number
	avSync: boolean
	maxAvOffsetMs: number
	maxDelayMs: number | null
}

export function effectiveFacs(event: Event, feed: Feed): EffectiveFacs {
	const e = event.facs ?? {}
	const f = feed.facs ?? {}
	return {
		qcOutput: f.qcOutput ?? e.qcOutput ?? null,
		dwellMs: f.dwellMs ?? e.dwellMs ?? 5000,
		avSync: f.avSync ?? e.avSync ?? false,
		maxAvOffsetMs: f.maxAvOffsetMs ?? e.maxAvOffsetMs ?? 40,
		maxDelayMs: f.maxDelayMs ?? e.maxDelayMs ?? null,
	}
}

/** The devices on a path of a feed whose FACS measures A/V sync: their analysers watch for the test pattern too. */
export function avSyncDevices(cfg: Config): Set<string> {
	const out = new Set<string>()
	for (const e of cfg.events)
		for (const f of e.feeds) if (effectiveFacs(e, f).avSync) for (const p of f.paths) for (const d of p.via) out.add(d)
	return out
}

/** The feed whose program output this router output is, if any. */
export function programOutputOf(cfg: Config, router: string, output: number): string | undefined {
	for (const e of cfg.events)
		for (const f of e.feeds) if (f.output.router === router && f.output.output === output) return `${e.id}/${f.id}`
	return undefined
}

/** Config checks of every facs block (called by the config's reference check). */
export function checkFacs(cfg: Config, add: (path: (string | number)[], message: string) => void): void {
	const routers = new Set(cfg.devices.filter((d) => d.role === 'router').map((d) => d.id))
	const check = (path: (string | number)[], qc: { router: string; output: number }) => {
		if (!routers.has(qc.router)) return add([...path, 'router'], `unknown router "${qc.router}"`)
		const owner = programOutputOf(cfg, qc.router, qc.output)
		if (owner !== undefined)
			add(
				path,
				`router "${qc.router}" output ${qc.output} is the program output of feed ${owner}: FACS never touches a program output`,
			)
	}
	cfg.events.forEach((ev, e) => {
		if (ev.facs?.qcOutput) check(['events', e, 'facs', 'qcOutput'], ev.facs.qcOutput)
		ev.feeds.forEach((feed, f) => {
			const own = feed.facs?.qcOutput
			if (own) check(['events', e, 'feeds', f, 'facs', 'qcOutput'], own)
			const eff = effectiveFacs(ev, feed)
			if (eff.avSync && eff.dwellMs < MIN_AV_DWELL_MS)
				add(
					feed.facs ? ['events', e, 'feeds', f, 'facs'] : ['events', e, 'facs'],
					`avSync needs dwellMs of at least ${MIN_AV_DWELL_MS} (feed ${ev.id}/${feed.id} has ${eff.dwellMs}): the pattern flashes and beeps once a second, and each path needs two of them`,
				)
			const qc = own ?? ev.facs?.qcOutput
			if (qc && routers.has(qc.router) && qc.router !== feed.output.router)
				add(
					own ? ['events', e, 'feeds', f, 'facs', 'qcOutput', 'router'] : ['events', e, 'facs', 'qcOutput', 'router'],
					`feed ${ev.id}/${feed.id} is on router "${feed.output.router}": its QC output must be on that router too (give the feed its own facs.qcOutput)`,
				)
		})
	})
}
