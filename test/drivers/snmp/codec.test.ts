// Pure SNMP pieces: varbind decoding, rule evaluation (docs/contract.md §2), profile judgement and OID resolution.
import { describe, expect, it } from 'vitest'
import { SNMP_PROFILE_OBJECTS, SnmpDriver } from '../../../src/domain/drivers.ts'
import { decodeVarbind, evaluateRules, judgeRules, type Rule, type SnmpValue } from '../../../drivers/snmp/codec.ts'
import {
	EXPERIMENTAL_ARC,
	judgeGateway,
	judgeIrd,
	PROFILES,
	ProfileError,
	resolveProfile,
} from '../../../drivers/snmp/profiles.ts'

const v = (oid: string, value: number | string): SnmpValue => ({
	oid,
	type: typeof value === 'number' ? 'integer' : 'string',
	value,
})

describe('decodeVarbind', () => {
	it('decodes the SMI types net-snmp hands over', () => {
		expect(decodeVarbind({ oid: '.1.2.0', type: 2, value: -5 })).toEqual({ oid: '1.2.0', type: 'integer', value: -5 })
		expect(decodeVarbind({ oid: '1.2.0', type: 4, value: Buffer.from('OK') })).toEqual({
			oid: '1.2.0',
			type: 'string',
			value: 'OK',
		})
		expect(decodeVarbind({ oid: '1.2.0', type: 70, value: Buffer.from([0, 0, 0, 1, 0, 0, 0, 0]) })).toEqual({
			oid: '1.2.0',
			type: 'counter64',
			value: 2 ** 32,
		})
		expect(decodeVarbind({ oid: '1.2.0', type: 129, value: null })).toEqual({
			oid: '1.2.0',
			type: 'missing',
			value: null,
		})
		expect(decodeVarbind({ oid: '1.2.0', type: 6, value: '.1.3.6' })).toEqual({
			oid: '1.2.0',
			type: 'oid',
			value: '1.3.6',
		})
		expect(decodeVarbind({ oid: '1.2.0', type: 200, value: 'x' })).toEqual({
			oid: '1.2.0',
			type: 'opaque',
			value: null,
		})
	})
})

describe('rules', () => {
	const values = new Map([
		['1.1.0', v('1.1.0', 3)],
		['1.2.0', v('1.2.0', 'LOCKED')],
		['1.3.0', v('1.3.0', '-2.5')],
	])
	it('first match wins, none matching is up', () => {
		expect(evaluateRules([{ oid: '1.1.0', op: 'gt', value: 5, means: 'down' }], values)).toBe('up')
		expect(
			evaluateRules(
				[
					{ oid: '1.1.0', op: 'ge', value: 3, means: 'degraded' },
					{ oid: '1.2.0', op: 'eq', value: 'LOCKED', means: 'down' },
				],
				values,
			),
		).toBe('degraded')
		expect(evaluateRules([{ oid: '.1.2.0', op: 'ne', value: 'LOCKED', means: 'down' }], values)).toBe('up')
		expect(evaluateRules([{ oid: '1.3.0', op: 'lt', value: 0, means: 'degraded' }], values)).toBe('degraded') // numeric text
	})
	it.each([
		['eq', 3, true],
		['ne', 3, false],
		['lt', 4, true],
		['le', 3, true],
		['gt', 3, false],
		['ge', 3, true],
	] as const)('op %s %i', (op, value, holds) => {
		expect(evaluateRules([{ oid: '1.1.0', op, value, means: 'down' }], values)).toBe(holds ? 'down' : 'up')
	})
	it('an unreadable rule OID is unknown, not down', () => {
		expect(evaluateRules([{ oid: '9.9.0', op: 'eq', value: 1, means: 'down' }], values)).toBe('unknown')
	})

	// config/example.yaml's fiber receiver: optical input lost, then receive power below -20 dBm
	const fiber: Rule[] = [
		{ oid: '1.3.6.1.4.1.99999.1.1.0', op: 'eq', value: 0, means: 'down' },
		{ oid: '1.3.6.1.4.1.99999.1.2.0', op: 'lt', value: -20, means: 'degraded' },
	]
	const read = (input: SnmpValue['value'], power: SnmpValue['value'], types: SnmpValue['type'][] = []) =>
		new Map(
			[input, power].map((value, i): [string, SnmpValue] => {
				const oid = fiber[i]!.oid
				const type = types[i] ?? (typeof value === 'number' ? 'integer' : value === null ? 'null' : 'string')
				return [oid, { oid, type, value }]
			}),
		)
	it('a value a rule cannot evaluate (text where a number is expected, NULL, Opaque) is unknown, never up', () => {
		// a dark fiber whose agent answers text: was read as "no rule holds", so up
		expect(evaluateRules(fiber, read('LOS', -3))).toBe('unknown')
		expect(evaluateRules(fiber, read(1, '-27.4 dBm'))).toBe('unknown')
		expect(evaluateRules(fiber, read(null, -3))).toBe('unknown')
		expect(evaluateRules(fiber, read(1, null, ['integer', 'opaque']))).toBe('unknown')
		// a text rule on a NULL: `ne` held for nothing, so a NULL where LOCKED should be read up
		const nul = new Map([['1.2.0', { oid: '1.2.0', type: 'null', value: null } as const]])
		expect(evaluateRules([{ oid: '1.2.0', op: 'ne', value: 'LOCKED', means: 'down' }], nul)).toBe('unknown')
		// the reason names the rule and what the agent answered
		expect(judgeRules(fiber, read(1, '-27.4 dBm'))).toEqual({
			signal: 'unknown',
			reason:
				'rule 2 (1.3.6.1.4.1.99999.1.2.0 lt -20) cannot be evaluated: the agent answered "-27.4 dBm" (string), not a number',
		})
		// what can be evaluated still is: numeric text, and a number
		expect(evaluateRules(fiber, read('1', '-27.4'))).toBe('degraded')
		expect(evaluateRules(fiber, read(1, -3))).toBe('up')
	})
	it('rule order is kept: a rule that holds before one that cannot be evaluated wins; after it, unknown', () => {
		expect(evaluateRules(fiber, read(0, 'n/a'))).toBe('down')
		expect(evaluateRules(fiber, read('LOS', -27))).toBe('unknown')
	})
	it('a NULL varbind from the agent, as net-snmp hands it over, is unknown for every rule', () => {
		const vb = decodeVarbind({ oid: '.1.3.6.1.4.1.99999.1.1.0', type: 5, value: null })
		expect(vb).toEqual({ oid: '1.3.6.1.4.1.99999.1.1.0', type: 'null', value: null })
		const at = new Map([[vb.oid, vb]])
		for (const op of ['eq', 'ne', 'lt', 'le', 'gt', 'ge'] as const)
			for (const value of [0, 'LOCKED'])
				expect(evaluateRules([{ oid: vb.oid, op, value, means: 'down' }], at)).toBe('unknown')
		expect(judgeRules([{ oid: vb.oid, op: 'ne', value: 'LOCKED', means: 'down' }], at).reason).toMatch(
			/cannot be evaluated: the agent answered NULL$/,
		)
	})
})

describe('profiles', () => {
	it('defines every default OID under the experimental arc', () => {
		for (const defs of Object.values(PROFILES))
			for (const d of Object.values(defs)) expect(d.oid.startsWith(`${EXPERIMENTAL_ARC}.`)).toBe(true)
	})
	it('the config schema knows the same object names, and refuses others with the place and the list', () => {
		for (const [profile, names] of Object.entries(SNMP_PROFILE_OBJECTS))
			expect(Object.keys(PROFILES[profile as keyof typeof PROFILES]).sort()).toEqual([...names].sort())
		const r = SnmpDriver.safeParse({
			type: 'snmp',
			host: 'h',
			profile: 'ird',
			profileOids: { locked: '1.3.6.1.4.1.1.0' },
		})
		expect(r.success).toBe(false)
		const issue = r.error?.issues[0]
		expect(issue?.path).toEqual(['profileOids', 'locked'])
		expect(issue?.message).toContain('objects: lock, marginDb')
	})

	it('lays profileOids over the defaults and refuses unknown object names', () => {
		const m = resolveProfile('ird', { lock: '.1.3.6.1.4.1.9.1.0' })
		expect(m.get('lock')).toBe('1.3.6.1.4.1.9.1.0')
		expect(m.get('marginDb')).toBe(PROFILES.ird['marginDb']!.oid)
		expect(() => resolveProfile('ird', { locked: '1.2' })).toThrow(ProfileError)
	})
	it('gateway: counters judged by growth; a counter going backwards is a new baseline', () => {
		const oids = resolveProfile('gateway-2022-7')
		const G = PROFILES['gateway-2022-7']
		const at = (l1: number, l2: number, out: number) =>
			new Map([
				[G['leg1Up']!.oid, v(G['leg1Up']!.oid, l1)],
				[G['leg2Up']!.oid, v(G['leg2Up']!.oid, l2)],
				[G['outputLost']!.oid, v(G['outputLost']!.oid, out)],
			])
		expect(judgeGateway(oids, at(1, 1, 5), null)).toMatchObject({ signal: 'up', health: 'ok', outputLost: 5 })
		expect(judgeGateway(oids, at(1, 1, 9), 5)).toMatchObject({
			signal: 'degraded',
			reason: '4 packets lost after the merge',
		})
		expect(judgeGateway(oids, at(1, 1, 0), 9)).toMatchObject({ signal: 'up', health: 'ok' })
		expect(judgeGateway(oids, at(2, 1, 0), 0)).toMatchObject({ signal: 'up', health: 'degraded' })
		expect(judgeGateway(oids, at(2, 2, 3), 0)).toMatchObject({ signal: 'down', health: 'down' })
		expect(judgeGateway(oids, new Map(), null)).toMatchObject({ signal: 'unknown' })
	})
	it('gateway: legs read as ifOperStatus; a leg not known never counts as down, nor proves protection', () => {
		const oids = resolveProfile('gateway-2022-7')
		const G = PROFILES['gateway-2022-7']
		const at = (l1: number | string, l2: number | string) =>
			new Map([
				[G['leg1Up']!.oid, v(G['leg1Up']!.oid, l1)],
				[G['leg2Up']!.oid, v(G['leg2Up']!.oid, l2)],
			])
		// unknown(4) on both legs: was "both legs down", and a failover on nothing
		expect(judgeGateway(oids, at(4, 4), null)).toMatchObject({
			signal: 'unknown',
			health: 'unknown',
			legs: [
				{ leg: 1, up: null, status: 4 },
				{ leg: 2, up: null, status: 4 },
			],
			reason: 'leg 1 unknown(4), leg 2 unknown(4): no leg known to receive',
		})
		for (const notKnown of [3, 4, 5, 0, 8, 'LOS']) {
			// one leg down, the other not known: the video may arrive on that one
			expect(judgeGateway(oids, at(2, notKnown), null)).toMatchObject({ signal: 'unknown', health: 'unknown' })
			// one leg up: the signal is up, but protection is not proven
			expect(judgeGateway(oids, at(1, notKnown), null)).toMatchObject({
				signal: 'up',
				health: 'degraded',
				reason: expect.stringMatching(/^protection not proven: leg 2 /) as unknown,
			})
		}
		// down(2), notPresent(6), lowerLayerDown(7) are evidence the leg does not receive
		for (const [a, b] of [
			[6, 7],
			[2, 6],
			[7, 2],
		] as const)
			expect(judgeGateway(oids, at(a, b), null)).toMatchObject({ signal: 'down', reason: 'both legs down' })
		expect(judgeGateway(oids, at(1, 7), null)).toMatchObject({ reason: 'protection lost: leg 2 down' })
	})
	it('ird: lock and margin', () => {
		const oids = resolveProfile('ird')
		const at = (lock: number, margin?: number) => {
			const m = new Map([[oids.get('lock')!, v(oids.get('lock')!, lock)]])
			if (margin !== undefined) m.set(oids.get('marginDb')!, v(oids.get('marginDb')!, margin))
			return m
		}
		expect(judgeIrd(oids, at(1, 30))).toMatchObject({ signal: 'up', marginDb: 3 })
		expect(judgeIrd(oids, at(1))).toMatchObject({ signal: 'up', marginDb: null })
		expect(judgeIrd(oids, at(1, 9))).toMatchObject({ signal: 'degraded' })
		expect(judgeIrd(oids, at(2, 30))).toMatchObject({ signal: 'down' })
		expect(judgeIrd(oids, new Map())).toMatchObject({ signal: 'unknown' })
	})
	it('ird: only the unlocked value the profile defines (2) is down; a value it does not define is unknown', () => {
		const oids = resolveProfile('ird')
		const lock = oids.get('lock')!
		const at = (value: number | string) => new Map([[lock, v(lock, value)]])
		expect(judgeIrd(oids, at(2))).toMatchObject({ signal: 'down', lock: false })
		for (const undefinedValue of [0, 3, 255, -1])
			expect(judgeIrd(oids, at(undefinedValue))).toMatchObject({
				signal: 'unknown',
				health: 'unknown',
				reason: `lock status ${undefinedValue} is not a value the profile defines (1 locked, 2 unlocked)`,
			})
		expect(judgeIrd(oids, at('LOCKED'))).toMatchObject({
			signal: 'unknown',
			reason: 'lock status not readable: the agent answered "LOCKED" (string)',
		})
	})
})
