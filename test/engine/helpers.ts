// Shared helpers for the engine tests: the fixture BOC, record builders and a compact form of the outputs.
import { fileURLToPath } from 'node:url'
import { loadConfigFile } from '../../src/domain/load.ts'
import { buildModel, type Model } from '../../src/domain/model.ts'
import { parseTimeline, replay, type Output, type TimelineRecord } from '../../src/engine/index.ts'

export const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/engine/${name}`, import.meta.url))
export const bocFile = fixture('boc.yaml')
export const boc: Model = buildModel(loadConfigFile(bocFile))

export const sig = (t: number, path: string, signal: string, at?: number): TimelineRecord =>
	({ t, path: `wbc/${path}`, signal, ...(at !== undefined ? { at } : {}) }) as TimelineRecord
export const dev = (t: number, device: string, state: string, at?: number): TimelineRecord =>
	({ t, device, state, ...(at !== undefined ? { at } : {}) }) as TimelineRecord
export const cmd = (
	t: number,
	feed: string,
	command: string,
	extra: { path?: string; force?: boolean; operator?: string } = {},
): TimelineRecord => ({ t, feed: `wbc/${feed}`, command, ...extra }) as TimelineRecord
export const start = (
	t: number,
	feed: string,
	active: string | null,
	extra: { mode?: string; locked?: boolean } = {},
) => ({ t, feed: `wbc/${feed}`, active, ...extra }) as TimelineRecord

/** a crosspoint change on the feed's output that sigpath did not command (§4a); null: an input of no path */
export const ext = (t: number, feed: string, path: string | null, input?: number) =>
	({ t, feed: `wbc/${feed}`, external: path, ...(input !== undefined ? { input } : {}) }) as TimelineRecord

/** pgm's three paths up at t=0 */
export const up3 = [sig(0, 'pgm/fiber', 'up'), sig(0, 'pgm/sat', 'up'), sig(0, 'pgm/inet', 'up')]

export const toText = (records: readonly TimelineRecord[]): string => records.map((r) => JSON.stringify(r)).join('\n')

/** Compact outputs: `1300 pgm fiber>sat failover`, `1300 pgm no-path +`, `5000 pgm refused locked`. */
export function compact(o: Output): string | undefined {
	const f = o.feed.slice(o.feed.indexOf('/') + 1)
	switch (o.kind) {
		case 'decision':
			return `${o.t} ${f} ${o.from ?? 'off-path'}>${o.to} ${o.cause}`
		case 'alarm':
			return `${o.t} ${f} ${o.alarm} ${o.active ? '+' : '-'}`
		case 'refusal':
			return `${o.t} ${f} refused ${o.refused}`
		default:
			return undefined
	}
}

/** The alarms of §4a (following the router): the §4 tables leave them out; the §4a table asks for them. */
const ROUTER_ALARMS: ReadonlySet<string> = new Set(['on-air-failed', 'external-take', 'off-path'])

/** Replays records on the fixture and returns the compact outputs of the given feeds (default pgm). */
export function run(
	records: readonly TimelineRecord[],
	opts: { until?: number; feeds?: string[]; model?: Model; kinds?: Output['kind'][]; routerAlarms?: boolean } = {},
): string[] {
	const model = opts.model ?? boc
	const feeds = new Set((opts.feeds ?? ['pgm']).map((f) => `wbc/${f}`))
	const outs = replay(
		model,
		parseTimeline(toText(records), model),
		opts.until !== undefined ? { until: opts.until } : {},
	)
	return outs
		.filter((o) => feeds.has(o.feed) && (opts.kinds ?? ['decision', 'alarm', 'refusal']).includes(o.kind))
		.filter((o) => opts.routerAlarms === true || o.kind !== 'alarm' || !ROUTER_ALARMS.has(o.alarm))
		.map(compact)
		.filter((x): x is string => x !== undefined)
}
