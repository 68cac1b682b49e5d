// The config of docs/contract.md §2: validation, cross-references, placed errors, secrets.
import { describe, expect, it } from 'vitest'
import { ConfigError, formatProblem, parseConfigText } from '../../src/domain/load.ts'
import { redact, resolveSecret } from '../../src/domain/secrets.ts'
import { stringify } from 'yaml'
import { discreteTopology, type Cfg } from '../support/topology.ts'

function problems(text: string): string[] {
	try {
		parseConfigText(text)
	} catch (err) {
		if (err instanceof ConfigError) return err.problems.map(formatProblem)
		throw err
	}
	throw new Error('expected the config to be refused')
}
const yaml = (c: Cfg) => stringify(c)

describe('config validation', () => {
	it('accepts the builder topology', () => {
		expect(parseConfigText(yaml(discreteTopology({ paths: 3 }))).events).toHaveLength(1)
	})

	it('names the exact place of an unknown device, in the contract form, with its line', () => {
		const c = discreteTopology({ paths: 3 })
		c.events[0]!.feeds![0]!.paths![2]!.via = ['d2-0', 'rtr-9']
		const text = yaml(c)
		const line = text.split('\n').findIndex((l) => l.includes('rtr-9')) + 1
		expect(problems(text)).toEqual([`events[0].feeds[0].paths[2].via[1]: unknown device "rtr-9" (line ${line})`])
	})

	it('checks every cross-reference', () => {
		const c = discreteTopology({ paths: 3 })
		c.events[0]!.feeds![0]!.output.router = 'rtr-x'
		c.events[0]!.feeds![0]!.paths![0]!.input.router = 'd1-0'
		c.devices[1]!.power = ['ups-nope', 'ups-0a']
		c.powerSources.push({ id: 'ups-z', kind: 'ups', upstream: 'nowhere', device: 'ghost' })
		const p = problems(yaml(c)).map((s) => s.replace(/ \(line \d+\)$/, ''))
		expect(p).toEqual(
			expect.arrayContaining([
				'events[0].feeds[0].output.router: unknown device "rtr-x"',
				'events[0].feeds[0].paths[0].input.router: device "d1-0" is an encoder, not a router',
				'devices[1].power[0]: unknown power source "ups-nope"',
				'powerSources[10].upstream: unknown power source "nowhere"',
				'powerSources[10].device: unknown device "ghost"',
			]),
		)
	})

	it('refuses duplicate ids in their scope, and allows the same id across namespaces', () => {
		const c = discreteTopology({ paths: 3 })
		c.devices.push({ id: 'd0-0', role: 'other' })
		c.events[0]!.feeds![0]!.paths![2]!.id = 'p0'
		c.powerSources.push({ id: 'util', kind: 'utility' })
		const p = problems(yaml(c)).map((s) => s.replace(/ \(line \d+\)$/, ''))
		expect(p).toEqual(
			expect.arrayContaining([
				'devices[7].id: duplicate device id "d0-0" (first at devices[1])',
				'events[0].feeds[0].paths[2].id: duplicate path id "p0" (first at events[0].feeds[0].paths[0])',
				'powerSources[10].id: duplicate power source id "util" (first at powerSources[0])',
			]),
		)
		const ok = discreteTopology({ paths: 3 })
		ok.devices.push({ id: 'util', role: 'other' }) // a device and a power source may share an id
		expect(() => parseConfigText(yaml(ok))).not.toThrow()
	})

	it('checks ports against the router size and line cards against each other', () => {
		const c = discreteTopology({ paths: 3, cardSize: 8 })
		c.events[0]!.feeds![0]!.output.output = 17
		c.events[0]!.feeds![0]!.paths![1]!.input.input = 33
		c.devices[0]!.lineCards!.push({ id: 'card-x', inputs: [4, 9] })
		const p = problems(yaml(c)).map((s) => s.replace(/ \(line \d+\)$/, ''))
		expect(p).toEqual(
			expect.arrayContaining([
				`events[0].feeds[0].output.output: output 17 is beyond router "rtr-1"'s 16 outputs`,
				`events[0].feeds[0].paths[1].input.input: input 33 is beyond router "rtr-1"'s 32 inputs`,
				'devices[0].lineCards[3].inputs: line card "card-x" overlaps "card-0" (inputs 4-8)',
			]),
		)
	})

	it('refuses two feeds on one router output, and a path landing on another router', () => {
		const c = discreteTopology({ paths: 3 })
		c.devices.push({ id: 'rtr-2', role: 'router', lineCards: [{ id: 'c', inputs: [1, 8] }] })
		c.events.push({
			id: 'ev2',
			tier: 'grey',
			feeds: [
				{
					id: 'f',
					output: { router: 'rtr-1', output: 1 },
					paths: [{ id: 'x', method: 'srt', input: { router: 'rtr-2', input: 1 } }],
				},
			],
		})
		const p = problems(yaml(c)).map((s) => s.replace(/ \(line \d+\)$/, ''))
		expect(p).toEqual([
			'events[1].feeds[0].output: router "rtr-1" output 1 is already the output of feed ev/pgm',
			'events[1].feeds[0].paths[0].input.router: the path lands on router "rtr-2" but the feed\'s output is on "rtr-1"',
		])
	})

	describe('checks the driver keys of every driver type', () => {
		const base = 'site: { id: s }\ndevices:\n'
		// a RegExp is matched against the first problem; a list is the exact problems
		it.each<[string, string, RegExp | string[]]>([
			[
				'videohub: an unknown key',
				'{ id: r, role: router, driver: { type: videohub, host: h, prot: 1 } }',
				['devices[0].driver: unknown key "prot" (line 3)'],
			],
			[
				'swp08: neither host nor serial',
				'{ id: r, role: router, driver: { type: swp08 } }',
				/give either host \(TCP\) or serial/,
			],
			[
				'an unknown driver type',
				'{ id: r, role: router, driver: { type: atem, host: h } }',
				/^devices\[0\]\.driver\.type: /,
			],
			[
				'snmp: neither profile nor rules',
				'{ id: g, role: gateway, driver: { type: snmp, host: h } }',
				/give either profile or rules/,
			],
			[
				'nut: a driver for a ups on a gateway',
				'{ id: g, role: gateway, driver: { type: nut, host: h, ups: x } }',
				/driver nut is for a ups, but the device's role is gateway/,
			],
			[
				'srt: a caller without host',
				'{ id: s, role: srt-receiver, driver: { type: srt, mode: caller, port: 9000 } }',
				/^devices\[0\]\.driver\.host: a caller needs host/,
			],
			[
				'srt: a passphrase too short',
				'{ id: s, role: srt-receiver, driver: { type: srt, mode: listener, port: 9000, passphrase: short } }',
				/10 to 79 characters/,
			],
		])('refuses %s', (_name, device, expected) => {
			const text = `${base}  - ${device}\n`
			if (expected instanceof RegExp) expect(problems(text)[0]).toMatch(expected)
			else expect(problems(text)).toEqual(expected)
		})

		it('accepts an snmp profile, and serial megatec and swp08 with their defaults', () => {
			expect(
				parseConfigText(`${base}  - { id: u, role: ird, driver: { type: snmp, host: h, profile: ird } }\n`).devices,
			).toHaveLength(1)
			const ok = parseConfigText(
				`${base}  - { id: m, role: ups, driver: { type: megatec, serial: { path: /dev/ttyS0 } } }\n  - { id: r, role: router, driver: { type: swp08, serial: { path: /dev/ttyS1 } } }\n`,
			)
			expect(ok.devices[0]!.driver).toEqual({
				type: 'megatec',
				serial: { path: '/dev/ttyS0', baudRate: 2400 },
				pollMs: 2000,
			})
			expect(ok.devices[1]!.driver).toMatchObject({
				type: 'swp08',
				port: 8910,
				matrix: 0,
				level: 0,
				serial: { baudRate: 38400, parity: 'even' },
			})
		})
	})

	it('applies the failover defaults of docs/contract.md §2', () => {
		const c = parseConfigText(yaml(discreteTopology({ paths: 3 })))
		expect(c.events[0]!.feeds[0]!.failover).toEqual({
			mode: 'auto',
			lossMs: 500,
			clearMs: 10000,
			preference: 'primary',
		})
	})

	describe('bad input gets a clear error', () => {
		it.each([
			['malformed YAML', 'site: { id: s\n', /^YAML: .* \(line \d\)$/],
			['a wrong type', 'site: { id: s }\nevents: 5\n', /^events: expected array, got number 5 \(line 2\)$/],
			['an empty file', '', /^the file is empty$/],
			['only a comment', '# nothing\n', /^the file is empty$/],
			['a top-level list', '- 1\n', /^expected object, got an array/],
			['a duplicate key', 'site: { id: s }\nsite: { id: t }\n', /^YAML: Map keys must be unique/],
		])('%s', (_name, text, expected) => {
			expect(problems(text)[0]).toMatch(expected)
		})

		it('a YAML bomb (aliases) is refused without expanding it', () => {
			const lines = ['a0: &a0 [x, x, x, x, x, x, x, x, x, x]']
			for (let i = 1; i < 12; i++)
				lines.push(
					`a${i}: &a${i} [${Array(10)
						.fill(`*a${i - 1}`)
						.join(', ')}]`,
				)
			const t0 = performance.now()
			expect(problems(`${lines.join('\n')}\n`)[0]).toMatch(/^YAML: Excessive alias count/)
			expect(performance.now() - t0).toBeLessThan(1000)
		})
	})
})

describe('secrets', () => {
	it('resolves { env } and fails clearly when unset', () => {
		expect(resolveSecret({ env: 'X_SECRET' }, { X_SECRET: 'hunter22' })).toBe('hunter22')
		expect(resolveSecret('inline', {})).toBe('inline')
		expect(() => resolveSecret({ env: 'NOPE' }, {})).toThrow('environment variable NOPE is not set')
	})
	it('are redacted everywhere in a config, keeping the env name', () => {
		const c = parseConfigText(
			'site: { id: s }\ndevices:\n  - { id: u, role: ups, driver: { type: snmp-ups, host: h, community: private-ro } }\n  - { id: v, role: ups, driver: { type: snmp-ups, host: h, v3: { user: u, authKey: authkey123, privKey: { env: PK } } } }\nmqtt: { url: "mqtt://b", username: u, password: pw }\nhttp: { token: t0ken }\n',
		)
		const text = JSON.stringify(redact(c))
		for (const s of ['private-ro', 'authkey123', '"pw"', 't0ken']) expect(text).not.toContain(s)
		expect(text).toContain('"privKey":{"env":"PK"}')
		expect(text).toContain('[redacted]')
	})
})
