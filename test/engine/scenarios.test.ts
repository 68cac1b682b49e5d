// docs/contract.md §4, rule by rule and sentence by sentence: one scenario table per section, each row a timeline and the
// exact outputs it must give (at the millisecond). pgm: lossMs 300, clearMs 10000, preference primary; ranked
// fiber, sat, inet (method order, whatever the config order). iso: lossMs 500, clearMs 2000, preference equal.
import { describe, expect, it } from 'vitest'
import type { TimelineRecord } from '../../src/engine/index.ts'
import { cmd, dev, ext, run, sig, start, up3 } from './helpers.ts'

interface Row {
	name: string
	records: TimelineRecord[]
	expect: string[]
	/** default 30000: replay stops at the last record's t unless told to run on */
	until?: number
	feeds?: string[]
	/** include the alarms of §4a (external-take, off-path, on-air-failed); the §4 tables leave them out */
	routerAlarms?: boolean
}

function table(title: string, rows: Row[]): void {
	describe(title, () => {
		it.each(rows.map((r) => [r.name, r] as const))('%s', (_name, r) => {
			const opts = {
				until: r.until ?? 30_000,
				...(r.feeds ? { feeds: r.feeds } : {}),
				...(r.routerAlarms ? { routerAlarms: true } : {}),
			}
			expect(run(r.records, opts)).toEqual(r.expect)
		})
	})
}

table('ranking and signal', [
	{
		name: 'the primary is the first approved method (fiber), not the first path of the config (inet)',
		records: [...up3, sig(1000, 'pgm/fiber', 'down')],
		expect: ['1300 pgm fiber>sat failover'],
	},
	{
		name: 'a path signal is the worst of its own report and its devices (down < degraded < up)',
		records: [...up3, dev(0, 'fiber-rx', 'up'), dev(1000, 'venue-enc', 'degraded')],
		expect: ['1300 pgm fiber>sat failover'],
	},
	{
		name: 'unknown withdraws that source only: the path falls back to its other reports',
		records: [...up3, dev(1000, 'fiber-rx', 'down'), dev(1200, 'fiber-rx', 'unknown')],
		expect: [],
	},
	{
		name: 'a report of the input router applies to every path landing on it',
		records: [...up3, dev(1000, 'rtr-1', 'down')],
		expect: ['1300 pgm no-path +'],
	},
	{
		name: 'repeating a report changes nothing (the loss count is not restarted)',
		records: [...up3, sig(1000, 'pgm/fiber', 'down'), sig(1200, 'pgm/fiber', 'down')],
		expect: ['1300 pgm fiber>sat failover'],
	},
	{
		name: 'a path whose sources all withdrew has no signal',
		records: [...up3, sig(1000, 'pgm/fiber', 'unknown')],
		expect: ['1300 pgm no-signal +'],
	},
])

table('failure (lossMs)', [
	{
		name: 'failover at exactly down + lossMs',
		records: [...up3, sig(1000, 'pgm/fiber', 'down')],
		expect: ['1300 pgm fiber>sat failover'],
	},
	{ name: 'not one ms before', records: [...up3, sig(1000, 'pgm/fiber', 'down')], until: 1299, expect: [] },
	{
		name: 'a blip shorter than lossMs: nothing',
		records: [...up3, sig(1000, 'pgm/fiber', 'down'), sig(1299, 'pgm/fiber', 'up')],
		expect: [],
	},
	{
		name: 'up at the failure instant comes after it: the timer fires first',
		records: [...up3, sig(1000, 'pgm/fiber', 'down'), sig(1300, 'pgm/fiber', 'up')],
		expect: ['1300 pgm fiber>sat failover', '11300 pgm sat>fiber revert'],
		until: 20000,
	},
	{
		name: 'down and degraded in any mix count as one stretch',
		records: [...up3, sig(1000, 'pgm/fiber', 'degraded'), sig(1200, 'pgm/fiber', 'down')],
		expect: ['1300 pgm fiber>sat failover'],
	},
	{
		name: 'a stretch with no signal ends the count',
		records: [
			...up3,
			sig(1000, 'pgm/fiber', 'down'),
			sig(1200, 'pgm/fiber', 'unknown'),
			sig(1250, 'pgm/fiber', 'down'),
		],
		expect: ['1550 pgm fiber>sat failover'],
	},
	{
		name: 'a path fails whether or not it is active (a failed candidate is only recovering once up)',
		records: [...up3, sig(1000, 'pgm/sat', 'down'), sig(1400, 'pgm/sat', 'up'), sig(2000, 'pgm/fiber', 'down')],
		expect: ['2300 pgm fiber>inet failover', '11400 pgm inet>sat revert'],
	},
	{
		name: 'at: the loss counts from the instant the condition began',
		records: [...up3, sig(1045, 'pgm/fiber', 'down', 1000)],
		expect: ['1300 pgm fiber>sat failover'],
	},
	{
		name: 'at: a report that arrives after its lossMs has run fails the path at once',
		records: [...up3, sig(1400, 'pgm/fiber', 'down', 1000)],
		expect: ['1400 pgm fiber>sat failover'],
	},
	{
		name: 'at: clamped to no earlier than the previous report of the same source',
		records: [...up3, sig(1100, 'pgm/fiber', 'up'), sig(1200, 'pgm/fiber', 'down', 900)],
		expect: ['1400 pgm fiber>sat failover'],
	},
	{
		name: 'at: a device report counts from its at too',
		records: [...up3, dev(1100, 'fiber-rx', 'down', 1000)],
		expect: ['1300 pgm fiber>sat failover'],
	},
])

table('rule 1: the active path failed and is down', [
	{
		name: 'healthy beats recovering whatever the rank',
		records: [...up3, sig(100, 'pgm/sat', 'down'), sig(500, 'pgm/sat', 'up'), sig(1000, 'pgm/fiber', 'down')],
		expect: ['1300 pgm fiber>inet failover', '10500 pgm inet>sat revert'],
	},
	{
		name: 'recovering beats degraded',
		records: [
			...up3,
			sig(100, 'pgm/sat', 'down'),
			sig(500, 'pgm/sat', 'up'),
			sig(600, 'pgm/inet', 'degraded'),
			sig(1000, 'pgm/fiber', 'down'),
		],
		expect: ['1300 pgm fiber>sat failover'],
	},
	{
		name: 'degraded when nothing better',
		records: [...up3, sig(0, 'pgm/sat', 'down'), sig(0, 'pgm/inet', 'degraded'), sig(1000, 'pgm/fiber', 'down')],
		expect: ['1300 pgm fiber>inet failover'],
	},
	{
		name: 'never to an ineligible path: stay and raise no-path, then switch as soon as one is eligible',
		records: [
			...up3,
			sig(0, 'pgm/sat', 'down'),
			sig(0, 'pgm/inet', 'down'),
			sig(1000, 'pgm/fiber', 'down'),
			sig(2000, 'pgm/inet', 'degraded'),
		],
		expect: ['1300 pgm no-path +', '2000 pgm fiber>inet failover', '2000 pgm no-path -'],
	},
	{
		name: 'no-path clears when the active path comes back',
		records: [sig(0, 'pgm/fiber', 'up'), sig(1000, 'pgm/fiber', 'down'), sig(3000, 'pgm/fiber', 'up')],
		expect: ['1300 pgm no-path +', '3000 pgm no-path -'],
	},
	{
		name: 'a device down takes several paths and feeds down',
		records: [...up3, sig(0, 'iso/fiber2', 'up'), sig(0, 'iso/sat2', 'up'), dev(1000, 'venue-enc', 'down')],
		feeds: ['pgm', 'iso'],
		expect: ['1300 pgm fiber>sat failover', '1500 iso fiber2>sat2 failover'],
	},
	{
		name: 'the router down takes every path of every feed: no-path everywhere, no switch',
		records: [...up3, sig(0, 'iso/fiber2', 'up'), sig(0, 'iso/sat2', 'up'), dev(1000, 'rtr-1', 'down')],
		feeds: ['pgm', 'iso'],
		expect: ['1300 pgm no-path +', '1500 iso no-path +'],
	},
	{
		name: 'rules 1 and 2 never act on an active path with no signal yet (no-signal is an alarm, not a switch)',
		records: [sig(0, 'pgm/sat', 'up'), sig(0, 'pgm/inet', 'up')],
		until: 5000,
		expect: ['300 pgm no-signal +'],
	},
])

table('rule 2: the active path failed and is degraded', [
	{
		name: 'with a healthy candidate: failover',
		records: [...up3, sig(1000, 'pgm/fiber', 'degraded')],
		expect: ['1300 pgm fiber>sat failover'],
	},
	{
		name: 'without a healthy candidate: stay (recovering and degraded do not count), no no-path',
		records: [
			...up3,
			sig(0, 'pgm/sat', 'down'),
			sig(2000, 'pgm/sat', 'up'),
			sig(0, 'pgm/inet', 'degraded'),
			sig(1000, 'pgm/fiber', 'degraded'),
		].sort((a, b) => a.t - b.t),
		until: 11999,
		expect: [],
	},
	{
		name: 'then the candidate clears: failover at that instant',
		records: [
			...up3,
			sig(0, 'pgm/sat', 'down'),
			sig(0, 'pgm/inet', 'degraded'),
			sig(1000, 'pgm/fiber', 'degraded'),
			sig(2000, 'pgm/sat', 'up'),
		],
		until: 13000,
		expect: ['12000 pgm fiber>sat failover'],
	},
	{
		name: 'degraded then down: rule 1 takes over with whatever is eligible',
		records: [
			...up3,
			sig(0, 'pgm/sat', 'down'),
			sig(0, 'pgm/inet', 'degraded'),
			sig(1000, 'pgm/fiber', 'degraded'),
			sig(2000, 'pgm/fiber', 'down'),
		],
		expect: ['2000 pgm fiber>inet failover'],
	},
])

table('rule 3: revert (preference primary) and preference equal', [
	{
		name: 'revert after clearMs up since the failure',
		records: [...up3, sig(1000, 'pgm/fiber', 'down'), sig(2000, 'pgm/fiber', 'up')],
		until: 20000,
		expect: ['1300 pgm fiber>sat failover', '12000 pgm sat>fiber revert'],
	},
	{
		name: 'not one ms before',
		records: [...up3, sig(1000, 'pgm/fiber', 'down'), sig(2000, 'pgm/fiber', 'up')],
		until: 11999,
		expect: ['1300 pgm fiber>sat failover'],
	},
	{
		name: 'any drop restarts the clearMs count',
		records: [
			...up3,
			sig(1000, 'pgm/fiber', 'down'),
			sig(2000, 'pgm/fiber', 'up'),
			sig(5000, 'pgm/fiber', 'degraded'),
			sig(5100, 'pgm/fiber', 'up'),
		],
		until: 20000,
		expect: ['1300 pgm fiber>sat failover', '15100 pgm sat>fiber revert'],
	},
	{
		name: 'a path that never failed is healthy at once: revert as soon as the feed is back in auto',
		records: [...up3, cmd(100, 'pgm', 'take', { path: 'inet' }), cmd(200, 'pgm', 'auto')],
		expect: ['100 pgm fiber>inet take', '200 pgm inet>fiber revert'],
	},
	{
		name: 'preference equal: no revert',
		records: [
			sig(0, 'iso/fiber2', 'up'),
			sig(0, 'iso/sat2', 'up'),
			sig(1000, 'iso/fiber2', 'down'),
			sig(1600, 'iso/fiber2', 'up'),
		],
		until: 60000,
		feeds: ['iso'],
		expect: ['1500 iso fiber2>sat2 failover'],
	},
	{
		name: 'preference equal: still fails over back when the active fails',
		records: [
			sig(0, 'iso/fiber2', 'up'),
			sig(0, 'iso/sat2', 'up'),
			sig(1000, 'iso/fiber2', 'down'),
			sig(1600, 'iso/fiber2', 'up'),
			sig(5000, 'iso/sat2', 'down'),
		],
		feeds: ['iso'],
		expect: ['1500 iso fiber2>sat2 failover', '5500 iso sat2>fiber2 failover'],
	},
	{
		name: 'once cleared a path stays healthy until it fails again (a short drop after clearing does not matter)',
		records: [
			...up3,
			sig(1000, 'pgm/sat', 'down'),
			sig(1500, 'pgm/sat', 'up'),
			sig(11500, 'pgm/sat', 'degraded'),
			sig(11600, 'pgm/sat', 'up'),
			sig(12000, 'pgm/fiber', 'down'),
		],
		expect: ['12300 pgm fiber>sat failover'],
	},
])

table('rule 4 and commands', [
	{
		name: 'manual: no automatic switch; auto switches at once',
		records: [...up3, cmd(500, 'pgm', 'manual'), sig(1000, 'pgm/fiber', 'down'), cmd(2000, 'pgm', 'auto')],
		expect: ['2000 pgm fiber>sat failover'],
	},
	{
		name: 'locked: no automatic switch, and the lock holds through auto; unlock switches at once',
		records: [
			...up3,
			cmd(500, 'pgm', 'lock'),
			sig(1000, 'pgm/fiber', 'down'),
			cmd(2000, 'pgm', 'auto'),
			cmd(3000, 'pgm', 'unlock'),
		],
		expect: ['3000 pgm fiber>sat failover'],
	},
	{
		name: 'manual still raises no-path (an alarm is not a switch)',
		records: [sig(0, 'pgm/fiber', 'up'), cmd(0, 'pgm', 'manual'), sig(1000, 'pgm/fiber', 'down')],
		until: 1300,
		expect: ['1300 pgm no-path +'],
	},
	{
		name: 'take switches with cause take and sets manual: no revert afterwards',
		records: [...up3, cmd(1000, 'pgm', 'take', { path: 'sat', operator: 'bco-1' })],
		until: 60000,
		expect: ['1000 pgm fiber>sat take'],
	},
	{
		name: 'take refused when locked, force or not; a refused take changes nothing',
		records: [
			...up3,
			cmd(500, 'pgm', 'lock'),
			cmd(1000, 'pgm', 'take', { path: 'sat' }),
			cmd(1001, 'pgm', 'take', { path: 'sat', force: true }),
			cmd(2000, 'pgm', 'unlock'),
			sig(3000, 'pgm/fiber', 'down'),
		],
		expect: ['1000 pgm refused locked', '1001 pgm refused locked', '3300 pgm fiber>sat failover'],
	},
	{
		name: 'take refused when the path is ineligible (down or no signal); forced, accepted',
		records: [
			sig(0, 'pgm/fiber', 'up'),
			sig(0, 'pgm/sat', 'down'),
			cmd(1000, 'pgm', 'take', { path: 'sat' }),
			cmd(1001, 'pgm', 'take', { path: 'inet' }),
			cmd(1002, 'pgm', 'take', { path: 'inet', force: true, operator: 'bco-2' }),
		],
		expect: [
			'1000 pgm refused ineligible',
			'1001 pgm refused ineligible',
			'1002 pgm fiber>inet take',
			'1002 pgm no-signal +',
		],
	},
	{
		name: 'a take of the active path only sets manual',
		records: [
			...up3,
			cmd(500, 'pgm', 'take', { path: 'fiber' }),
			sig(1000, 'pgm/fiber', 'down'),
			cmd(5000, 'pgm', 'auto'),
		],
		expect: ['5000 pgm fiber>sat failover'],
	},
	{
		name: 'a take of a degraded or recovering path is accepted without force',
		records: [...up3, sig(0, 'pgm/sat', 'degraded'), cmd(100, 'pgm', 'take', { path: 'sat' })],
		expect: ['100 pgm fiber>sat take'],
	},
	{
		name: "a timer expiring at a record's t fires before the record",
		records: [...up3, sig(1000, 'pgm/fiber', 'down'), cmd(1300, 'pgm', 'take', { path: 'inet' })],
		expect: ['1300 pgm fiber>sat failover', '1300 pgm sat>inet take'],
	},
	{
		name: 'records at one t apply in file order, each followed by an evaluation',
		records: [...up3, sig(1000, 'pgm/fiber', 'down'), sig(1300, 'pgm/sat', 'down'), sig(1300, 'pgm/sat', 'up')],
		expect: ['1300 pgm fiber>sat failover'],
	},
])

table('start', [
	{
		name: 'without a start record: the primary, auto, unlocked',
		records: [...up3, sig(1000, 'pgm/fiber', 'down')],
		expect: ['1300 pgm fiber>sat failover'],
	},
	{
		name: 'the start path stays: a path ranked above is no revert target until up clearMs after t=0',
		records: [start(0, 'pgm', 'sat'), ...up3],
		until: 9999,
		expect: [],
	},
	{
		name: '... and reverts once it has been',
		records: [start(0, 'pgm', 'sat'), ...up3],
		until: 10000,
		expect: ['10000 pgm sat>fiber revert'],
	},
	{
		name: '... without a break (a drop restarts the count)',
		records: [start(0, 'pgm', 'sat'), ...up3, sig(4000, 'pgm/fiber', 'down'), sig(4100, 'pgm/fiber', 'up')],
		until: 20000,
		expect: ['14100 pgm sat>fiber revert'],
	},
	{
		name: 'for rules 1 and 2 a path ranked above the start path is classed as usual',
		records: [start(0, 'pgm', 'sat'), ...up3, sig(1000, 'pgm/sat', 'down')],
		expect: ['1300 pgm sat>fiber failover'],
	},
	{
		name: 'a manual start survives: no revert, no failover',
		records: [start(0, 'pgm', 'sat', { mode: 'manual' }), ...up3, sig(1000, 'pgm/sat', 'down')],
		until: 30000,
		expect: [],
	},
	{
		name: 'a locked start survives an auto command',
		records: [start(0, 'pgm', 'inet', { locked: true }), ...up3, cmd(100, 'pgm', 'auto')],
		until: 30000,
		expect: [],
	},
	{
		name: 'a start record later than t=0 starts the feed then: its timers count from there',
		records: [start(5000, 'pgm', 'inet'), sig(5000, 'pgm/inet', 'up'), sig(5000, 'pgm/fiber', 'up')],
		until: 15000,
		expect: ['15000 pgm inet>fiber revert'],
	},
])

table('alarms', [
	{
		name: 'no-signal: the active path without signal for lossMs, cleared when it reports',
		records: [sig(0, 'pgm/sat', 'up'), sig(500, 'pgm/fiber', 'up')],
		expect: ['300 pgm no-signal +', '500 pgm no-signal -'],
	},
	{
		name: 'at-risk: a critical feed below its required healthy discrete paths, raised once and cleared once',
		records: [
			sig(0, 'crit/a', 'up'),
			sig(0, 'crit/b', 'up'),
			sig(0, 'crit/c', 'up'),
			sig(1000, 'crit/b', 'down'),
			sig(1050, 'crit/b', 'up'),
			sig(2000, 'crit/b', 'down'),
			sig(2200, 'crit/b', 'up'),
		],
		feeds: ['crit'],
		until: 5000,
		expect: ['2100 crit at-risk +', '3200 crit at-risk -'],
	},
	{
		name: 'at-risk waits lossMs after the start before judging (signals are first reported then)',
		records: [sig(0, 'crit/a', 'up'), sig(50, 'crit/b', 'up'), sig(150, 'crit/c', 'up')],
		feeds: ['crit'],
		until: 5000,
		expect: ['100 crit at-risk +', '150 crit at-risk -'],
	},
])

table('following the router (§4a)', [
	{
		name: 'another controller takes sat on a locked feed: sat is on air at once, manual, external-take',
		records: [...up3, cmd(500, 'pgm', 'lock'), ext(1000, 'pgm', 'sat', 9)],
		expect: ['1000 pgm external-take +'],
		routerAlarms: true,
	},
	{
		name: 'then the real on-air path (sat) fails: on-air-failed, never silence; fiber is no longer watched as on air',
		records: [
			...up3,
			cmd(500, 'pgm', 'lock'),
			ext(1000, 'pgm', 'sat', 9),
			sig(2000, 'pgm/fiber', 'down'),
			sig(3000, 'pgm/sat', 'down'),
		],
		expect: ['1000 pgm external-take +', '3300 pgm on-air-failed +'],
		routerAlarms: true,
	},
	{
		name: 'unlocked and in auto: the external take still wins (manual); auto then reverts to the primary',
		records: [...up3, ext(1000, 'pgm', 'inet'), cmd(2000, 'pgm', 'auto', { operator: 'bco-1' })],
		expect: ['1000 pgm external-take +', '2000 pgm external-take -', '2000 pgm inet>fiber revert'],
		routerAlarms: true,
	},
	{
		name: 'an input of no path: off-path stands, no automatic switch, until the router shows a path again',
		records: [...up3, ext(1000, 'pgm', null, 30), sig(2000, 'pgm/fiber', 'down'), ext(5000, 'pgm', 'sat')],
		expect: ['1000 pgm off-path +', '5000 pgm external-take +', '5000 pgm off-path -'],
		routerAlarms: true,
	},
	{
		name: 'an operator take from off-path brings the feed back: the decision is from off-path',
		records: [...up3, ext(1000, 'pgm', null), cmd(2000, 'pgm', 'take', { path: 'fiber', operator: 'bco-1' })],
		expect: ['1000 pgm off-path +', '2000 pgm off-path>fiber take', '2000 pgm off-path -'],
		routerAlarms: true,
	},
	{
		name: 'a start off-path (the router showed none of the paths at start)',
		records: [start(0, 'pgm', null, { mode: 'manual' }), sig(0, 'pgm/fiber', 'up')],
		expect: ['0 pgm off-path +'],
		routerAlarms: true,
	},
	{
		name: 'manual: the failed path on air raises on-air-failed, which clears when it is healthy again',
		records: [...up3, cmd(500, 'pgm', 'manual'), sig(1000, 'pgm/fiber', 'down'), sig(2000, 'pgm/fiber', 'up')],
		until: 13_000,
		expect: ['1300 pgm on-air-failed +', '12000 pgm on-air-failed -'],
		routerAlarms: true,
	},
	{
		name: "the router's status of an input: None is down for every path landing on it; withdrawn, the path recovers",
		records: [
			...up3,
			{ t: 1000, router: 'rtr-1', input: 1, state: 'down' },
			{ t: 2000, router: 'rtr-1', input: 1, state: 'unknown' },
		],
		until: 13_000,
		expect: ['1300 pgm fiber>sat failover', '12000 pgm sat>fiber revert'],
	},
	{
		name: 'an input no path lands on changes nothing',
		records: [...up3, { t: 1000, router: 'rtr-1', input: 7, state: 'down' }],
		expect: [],
	},
	{
		name: 'a command for a path the feed does not have replays as refused (a journal always replays)',
		records: [...up3, cmd(1000, 'pgm', 'take', { path: 'nope', operator: 'bco-1' })],
		expect: ['1000 pgm refused unknown-path'],
	},
])
