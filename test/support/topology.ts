// Builders of config objects for tests: a compliant feed whose paths are discrete by construction, which a test
// then breaks in exactly one way.
import type { ConfigInput } from '../../src/domain/config.ts'
import { validateConfig } from '../../src/domain/load.ts'

export const METHODS = ['fiber', 'satellite', 'internet', 'srt'] as const

export interface TopologyOptions {
	paths: number
	devicesPerPath?: number
	risksPerPath?: number
	tier?: 'red' | 'orange' | 'yellow' | 'grey'
	minPaths?: number
	cardSize?: number
}

type Writable<T> = { -readonly [K in keyof T]: T[K] }
export type Cfg = Writable<ConfigInput> & {
	powerSources: NonNullable<ConfigInput['powerSources']>
	devices: NonNullable<ConfigInput['devices']>
	events: NonNullable<ConfigInput['events']>
}

/**
 * One red event, one critical feed with `paths` paths on router rtr-1. Path i (p0, p1, ...) has its own devices
 * d<i>-<k>, each on its own UPS pair ups-<i>a/ups-<i>b (surge-protected, on utility and generator), its own line
 * card card-<i>, its own risk tags risk-<i>-<k>, and a method from the hierarchy.
 */
export function discreteTopology(o: TopologyOptions): Cfg {
	const devicesPerPath = o.devicesPerPath ?? 2
	const risksPerPath = o.risksPerPath ?? 1
	const cardSize = o.cardSize ?? 8
	const cfg: Cfg = {
		site: { id: 'test' },
		policy: { minPaths: o.minPaths ?? Math.min(3, o.paths) },
		powerSources: [
			{ id: 'util', kind: 'utility' },
			{ id: 'gen', kind: 'generator' },
		],
		devices: [
			{
				id: 'rtr-1',
				role: 'router',
				power: ['core-a', 'core-b'],
				size: { inputs: cardSize * Math.max(o.paths, 1) + cardSize, outputs: 16 },
				lineCards: [],
			},
		],
		events: [
			{
				id: 'ev',
				tier: o.tier ?? 'red',
				feeds: [{ id: 'pgm', critical: true, output: { router: 'rtr-1', output: 1 }, paths: [] }],
			},
		],
	}
	cfg.powerSources.push(
		{ id: 'core-a', kind: 'ups', upstream: 'util', surgeProtected: true },
		{ id: 'core-b', kind: 'ups', upstream: 'gen', surgeProtected: true },
	)
	const router = cfg.devices[0]!
	const feed = cfg.events[0]!.feeds![0]!
	for (let i = 0; i < o.paths; i++) {
		cfg.powerSources.push(
			{ id: `ups-${i}a`, kind: 'ups', upstream: 'util', surgeProtected: true },
			{ id: `ups-${i}b`, kind: 'ups', upstream: 'gen', surgeProtected: true },
		)
		const via: string[] = []
		for (let k = 0; k < devicesPerPath; k++) {
			cfg.devices.push({ id: `d${i}-${k}`, role: k === 0 ? 'encoder' : 'receiver', power: [`ups-${i}a`, `ups-${i}b`] })
			via.push(`d${i}-${k}`)
		}
		router.lineCards!.push({ id: `card-${i}`, inputs: [i * cardSize + 1, (i + 1) * cardSize] })
		feed.paths!.push({
			id: `p${i}`,
			method: METHODS[i % METHODS.length]!,
			via,
			input: { router: 'rtr-1', input: i * cardSize + 1 },
			risks: Array.from({ length: risksPerPath }, (_, k) => `risk-${i}-${k}`),
		})
	}
	return cfg
}

export function feedOf(cfg: Cfg) {
	return cfg.events[0]!.feeds![0]!
}

export function pathOf(cfg: Cfg, i: number) {
	return feedOf(cfg).paths![i]!
}

export function deviceOf(cfg: Cfg, id: string) {
	const d = cfg.devices.find((x) => x.id === id)
	if (!d) throw new Error(`no device ${id}`)
	return d
}

export function valid(cfg: Cfg) {
	return validateConfig(structuredClone(cfg))
}
