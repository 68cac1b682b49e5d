// `sigpath replay FILE TIMELINE [--json] [--until T]` (docs/contract.md §1, §4): its output lines, and exit 2 naming the
// line of a bad timeline record.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { main } from '../../src/cli/main.ts'
import { bocFile, fixture } from './helpers.ts'

const dir = mkdtempSync(join(tmpdir(), 'sigpath-replay-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

async function sigpath(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
	let out = ''
	let err = ''
	const code = await main(argv, { out: (t) => (out += t), err: (t) => (err += t) })
	return { code, out, err }
}

let n = 0
function timeline(text: string): string {
	const f = join(dir, `t${n++}.jsonl`)
	writeFileSync(f, text)
	return f
}

describe('output', () => {
	it('prints the decisions of §4 as JSON lines of the exact shape, alarms and refusals with "alarm"/"refused"', async () => {
		const r = await sigpath('replay', fixture('contract.yaml'), fixture('contract.jsonl'), '--json')
		expect(r.err).toBe('')
		expect(r.code).toBe(0)
		const lines = r.out.trim().split('\n')
		expect(lines[0]).toBe('{"t":1300,"feed":"wbc-final/pgm","from":"fiber","to":"sat","cause":"failover"}')
		const objs = lines.map((l) => JSON.parse(l) as Record<string, unknown>)
		expect(objs.slice(1)).toEqual([
			{
				t: 7000,
				feed: 'wbc-final/pgm',
				command: 'take',
				path: 'fiber',
				operator: 'bco-2',
				refused: 'locked',
				message: 'feed wbc-final/pgm is locked: unlock it first',
			},
		])
		for (const o of objs) if ('alarm' in o || 'refused' in o) expect(o).not.toHaveProperty('to')
	})

	it('UPS records go to the power monitor: its alarms are raised and cleared in time order with the others', async () => {
		const f = timeline(
			[
				'{"t":100,"ups":"ups-a","power":"on-battery","minutesRemaining":30}',
				'{"t":400,"path":"wbc/pgm/inet","signal":"up"}',
				'{"t":900,"ups":"ups-a","power":"online","minutesRemaining":31}',
			].join('\n'),
		)
		const r = await sigpath('replay', bocFile, f, '--json')
		expect(r.err).toBe('')
		expect(r.code).toBe(0)
		const power = r.out
			.trim()
			.split('\n')
			.map((l) => JSON.parse(l) as Record<string, unknown>)
			.filter((o) => typeof o['alarm'] === 'string' && o['alarm'].startsWith('power-'))
		expect(power).toEqual([
			{
				t: 100,
				device: 'ups-a',
				alarm: 'power-on-battery',
				active: true,
				message: 'UPS ups-a is on battery (30 min left)',
			},
			{
				t: 900,
				device: 'ups-a',
				alarm: 'power-on-battery',
				active: false,
				// a clear reads as a clear (the daemon journals the same text)
				message: 'UPS ups-a back on mains',
			},
		])
		const text = await sigpath('replay', bocFile, f)
		expect(text.out).toMatch(
			/100 {2}ups-a {2}alarm {4}power-on-battery RAISED: UPS ups-a is on battery \(30 min left\)/,
		)
		expect(text.out).toMatch(/900 {2}ups-a {2}alarm {4}power-on-battery cleared/)
	})

	it('a UPS record about a device that is not a UPS is refused with its line', async () => {
		const r = await sigpath('replay', bocFile, timeline('{"t":1,"ups":"fiber-rx","power":"online"}\n'))
		expect(r.code).toBe(2)
		expect(r.err).toMatch(/:1: unknown UPS "fiber-rx" \(no device of role ups\)/)
	})

	it('a take of the active path after a failover only sets manual: no line', async () => {
		const r = await sigpath('replay', fixture('contract.yaml'), fixture('contract.jsonl'), '--json', '--until', '5000')
		expect(r.out.trim().split('\n')).toHaveLength(1)
	})

	it('--until runs the timers on past the last record, and stops records after it', async () => {
		const f = timeline(
			'{"t":0,"path":"wbc-final/pgm/fiber","signal":"up"}\n{"t":1000,"device":"fiber-rx-1","state":"down"}\n',
		)
		const stop = await sigpath('replay', fixture('contract.yaml'), f, '--json')
		expect(stop.out).toBe('')
		const on = await sigpath('replay', fixture('contract.yaml'), f, '--json', '--until', '1300')
		expect(on.out).toBe(
			'{"t":1300,"feed":"wbc-final/pgm","alarm":"no-path","active":true,"path":"fiber","message":"wbc-final/pgm: active path fiber failed and no other path is eligible"}\n' +
				'{"t":1300,"feed":"wbc-final/pgm","alarm":"on-air-failed","active":true,"path":"fiber","message":"wbc-final/pgm: active path fiber has failed and is still on air (no other path is eligible)"}\n',
		)
		const early = await sigpath('replay', fixture('contract.yaml'), f, '--json', '--until', '999')
		expect(early.out).toBe('')
	})

	it('without --json: readable lines, and --explain says why', async () => {
		const r = await sigpath('replay', fixture('contract.yaml'), fixture('contract.jsonl'))
		expect(r.out).toMatch(/^ +1300 {2}wbc-final\/pgm {2}failover fiber -> sat$/m)
		expect(r.out).toMatch(/refused {2}take fiber by bco-2: feed wbc-final\/pgm is locked/)
		const x = await sigpath('replay', fixture('contract.yaml'), fixture('contract.jsonl'), '--explain')
		expect(x.out).toContain('after t=1000 device fiber-rx-1 down')
		expect(x.out).toContain('after t=1300 timer: fiber failed (lossMs elapsed)')
		expect(x.out).toContain('because active path fiber failed at 1300')
		expect(x.out).toMatch(/command {2}take sat by bco-1: now manual/)
	})

	it('--json --explain adds the explanation to each decision', async () => {
		const r = await sigpath('replay', fixture('contract.yaml'), fixture('contract.jsonl'), '--json', '--explain')
		const first = JSON.parse(r.out.split('\n')[0]!) as { explain: { rule: string; triggers: string[] } }
		expect(first.explain.rule).toMatch(/^1:/)
		expect(first.explain.triggers).toEqual([
			't=0 path wbc-final/pgm/sat up',
			't=1000 device fiber-rx-1 down',
			't=1300 timer: fiber failed (lossMs elapsed)',
		])
	})
})

describe('a bad timeline exits 2 naming the line', () => {
	const good = '{"t":0,"path":"wbc/pgm/fiber","signal":"up"}\n'
	const cases: [string, string, RegExp][] = [
		['bad JSON', `${good}{"t":1,`, /:2: bad JSON/],
		['an unknown feed', `${good}{"t":1,"feed":"wbc/nope","command":"auto"}\n`, /:2: unknown feed "wbc\/nope"/],
		[
			'an unknown path',
			`{"t":0,"path":"wbc/pgm/carrier-pigeon","signal":"up"}\n`,
			/:1: unknown path "carrier-pigeon" in feed wbc\/pgm/,
		],
		['an unknown device', `${good}\n{"t":1,"device":"rtr-9","state":"down"}\n`, /:3: unknown device "rtr-9"/],
		[
			't decreasing',
			`{"t":5,"path":"wbc/pgm/fiber","signal":"up"}\n{"t":4,"path":"wbc/pgm/sat","signal":"up"}\n`,
			/:2: t decreases: 4 after 5/,
		],
		[
			'a start record after other records of its feed',
			`${good}{"t":0,"feed":"wbc/pgm","active":"sat"}\n`,
			/:2: a start record for feed wbc\/pgm after other records/,
		],
		[
			'a second start record',
			`{"t":0,"feed":"wbc/pgm","active":"sat"}\n{"t":0,"feed":"wbc/pgm","active":"sat"}\n`,
			/:2: a second start record/,
		],
		['a bad signal', `{"t":0,"path":"wbc/pgm/fiber","signal":"sideways"}\n`, /:1: "signal": /],
		['an unknown key', `{"t":0,"path":"wbc/pgm/fiber","signal":"up","colour":"red"}\n`, /:1: .*colour/],
		['a non-integer t', `{"t":0.5,"path":"wbc/pgm/fiber","signal":"up"}\n`, /:1: "t": must be an integer/],
		['at after t', `{"t":10,"path":"wbc/pgm/fiber","signal":"down","at":20}\n`, /:1: "at" \(20\) is after "t" \(10\)/],
		['a take without a path', `{"t":0,"feed":"wbc/pgm","command":"take"}\n`, /:1: a take needs "path"/],
		['an unknown command', `{"t":0,"feed":"wbc/pgm","command":"dance"}\n`, /:1: "command": /],
		['a record of no kind', `{"t":0}\n`, /:1: not a timeline record/],
		['an array', `[1,2]\n`, /:1: a record must be a JSON object/],
		['a start on an unknown path', `{"t":0,"feed":"wbc/pgm","active":"x"}\n`, /:1: unknown path "x"/],
	]
	it.each(cases)('%s', async (_name, text, message) => {
		const f = timeline(text)
		const r = await sigpath('replay', bocFile, f, '--json')
		expect(r.code).toBe(2)
		expect(r.out).toBe('')
		expect(r.err).toMatch(message)
		expect(r.err.startsWith(`${f}:`)).toBe(true)
	})

	it('an invalid config exits 2; so do bad arguments and a missing timeline', async () => {
		const bad = join(dir, 'bad.yaml')
		writeFileSync(
			bad,
			'site: { id: x }\nevents: [ { id: e, tier: red, feeds: [ { id: f, output: { router: rtr-9, output: 1 } } ] } ]\n',
		)
		expect((await sigpath('replay', bad, timeline(good))).code).toBe(2)
		expect((await sigpath('replay', bocFile)).code).toBe(2)
		expect((await sigpath('replay', bocFile, timeline(good), '--until', 'soon')).code).toBe(2)
		const missing = await sigpath('replay', bocFile, join(dir, 'nope.jsonl'))
		expect(missing.code).toBe(2)
		expect(missing.err).toMatch(/cannot read: ENOENT/)
	})

	it('blank lines and # comments are skipped, and counted in line numbers', async () => {
		const f = timeline(`# an incident\n\n${good}{"t":-1}\n`)
		const r = await sigpath('replay', bocFile, f)
		expect(r.err).toMatch(/:4: /)
	})
})

describe('a feed without paths', () => {
	it('a command for it is a timeline error, not an internal one', async () => {
		const cfg = join(dir, 'nopaths.yaml')
		writeFileSync(
			cfg,
			'site: { id: x }\ndevices: [ { id: rtr-1, role: router } ]\nevents: [ { id: e, tier: red, feeds: [ { id: f, output: { router: rtr-1, output: 1 } } ] } ]\n',
		)
		const r = await sigpath('replay', cfg, timeline('{"t":0,"feed":"e/f","command":"auto"}\n'))
		expect(r.code).toBe(2)
		expect(r.err).toMatch(/:1: feed e\/f has no paths/)
	})
})
