// Rehearsals: a YAML script of timed faults and expected outcomes, run against the lab (the real daemon and every
// device simulated in its protocol). Pre-event rehearsals, and how an incident becomes a test.
import { z } from 'zod'
import type { Alarm } from '../control/payloads.ts'
import { FAULTS, Lab, type Fault } from './lab.ts'

const Expect = z
	.strictObject({
		feed: z
			.string()
			.regex(/^[^/]+\/[^/]+$/, 'must be EVENT/FEED')
			.optional()
			.describe('the feed the expectation is about'),
		active: z.string().optional().describe('the path on air (the router tally)'),
		mode: z.enum(['auto', 'manual']).optional(),
		locked: z.boolean().optional(),
		compliant: z.boolean().optional().describe('live compliance'),
		paths: z
			.record(z.string(), z.enum(['healthy', 'recovering', 'degraded', 'ineligible', 'failed']))
			.optional()
			.describe('path classes'),
		alarm: z
			.strictObject({
				code: z.string(),
				feed: z.string().optional(),
				device: z.string().optional(),
				cleared: z.boolean().default(false),
			})
			.optional()
			.describe('an alarm seen since the previous step'),
		switches: z.number().int().min(0).optional().describe('switches of the feed since the previous step'),
		within: z
			.number()
			.int()
			.min(0)
			.max(600_000)
			.default(5000)
			.describe('how long the expectation may take to hold, ms (with `polls`: the slack on top of them)'),
		polls: z
			.number()
			.int()
			.min(1)
			.max(100)
			.optional()
			.describe(
				"the expectation may also take this many poll intervals of the alarm's device (its driver's pollMs in the lab config)",
			),
		hold: z.number().int().min(0).max(600_000).default(0).describe('and then it must keep holding this long, ms'),
	})
	.refine((e) => e.feed !== undefined || e.alarm !== undefined, { message: 'an expectation names a feed or an alarm' })
	.refine((e) => e.polls === undefined || e.alarm?.device !== undefined, {
		message: 'polls counts the poll intervals of a device: the expectation names an alarm with a device',
	})

const Step = z
	.strictObject({
		at: z
			.number()
			.int()
			.min(0)
			.optional()
			.describe('ms after the start of the rehearsal (default: right after the previous step)'),
		note: z.string().optional(),
		fault: z
			.strictObject({ action: z.enum(FAULTS), device: z.string(), rate: z.number().min(0).max(1).optional() })
			.optional(),
		expect: Expect.optional(),
	})
	.refine((s) => (s.fault === undefined) !== (s.expect === undefined), {
		message: 'a step is a fault or an expectation',
	})

export const Scenario = z.strictObject({
	name: z.string().min(1),
	description: z.string().optional(),
	config: z.string().default('config/lab.yaml').describe('the lab config the rehearsal runs on'),
	steps: z.array(Step).min(1),
})
export type Scenario = z.infer<typeof Scenario>

export interface StepResult {
	index: number
	kind: 'fault' | 'expect'
	ok: boolean
	/** ms since the rehearsal started when the step finished */
	atMs: number
	text: string
}

/** Runs a scenario on a started lab. Failures are reported, not thrown: every step runs. */
export async function rehearse(scenario: Scenario, lab: Lab): Promise<StepResult[]> {
	const daemon = lab.daemon!
	const alarms: Alarm[] = []
	const switches: { feed: string }[] = []
	daemon.events.on('alarm', (a) => alarms.push(a))
	daemon.events.on('switch', (s) => switches.push(s))
	const t0 = performance.now()
	const since = () => Math.round(performance.now() - t0)
	let alarmMark = 0
	let switchMark = 0
	const results: StepResult[] = []
	for (const [index, step] of scenario.steps.entries()) {
		if (step.at !== undefined) {
			const wait = step.at - (performance.now() - t0)
			if (wait > 0) await new Promise((r) => setTimeout(r, wait))
		}
		if (step.fault) {
			const f: Fault = {
				action: step.fault.action,
				device: step.fault.device,
				...(step.fault.rate !== undefined ? { rate: step.fault.rate } : {}),
			}
			try {
				const done = await lab.fault(f)
				results.push({ index, kind: 'fault', ok: true, atMs: since(), text: done })
			} catch (err) {
				results.push({ index, kind: 'fault', ok: false, atMs: since(), text: (err as Error).message })
			}
			alarmMark = alarms.length
			switchMark = switches.length
			continue
		}
		const e = step.expect!
		const budget = budgetOf(e, lab)
		if (typeof budget === 'string') {
			results.push({ index, kind: 'expect', ok: false, atMs: since(), text: `${describeExpect(e)}: ${budget}` })
			continue
		}
		const started = performance.now()
		const check = (): string | null => {
			if (e.feed !== undefined) {
				const st = daemon.feedState(e.feed as `${string}/${string}`)
				if (e.active !== undefined && st.active !== e.active) return `active is ${st.active ?? 'none'}, not ${e.active}`
				if (e.mode !== undefined && st.mode !== e.mode) return `mode is ${st.mode}, not ${e.mode}`
				if (e.locked !== undefined && st.locked !== e.locked) return `locked is ${st.locked}`
				if (e.compliant !== undefined && st.compliance.compliant !== e.compliant)
					return `compliant is ${st.compliance.compliant}`
				for (const [p, cls] of Object.entries(e.paths ?? {}))
					if (st.paths[p]?.state !== cls) return `path ${p} is ${st.paths[p]?.state ?? 'unknown'}, not ${cls}`
				if (e.switches !== undefined) {
					const n = switches.slice(switchMark).filter((s) => s.feed === e.feed).length
					if (n !== e.switches) return `${n} switches, not ${e.switches}`
				}
			}
			if (e.alarm) {
				const a = e.alarm
				const seen = alarms
					.slice(alarmMark)
					.some(
						(x) =>
							x.code === a.code &&
							(a.feed === undefined || x.feed === a.feed) &&
							(a.device === undefined || x.device === a.device) &&
							x.state === (a.cleared ? 'cleared' : 'raised'),
					)
				if (!seen)
					return `no ${a.cleared ? 'cleared ' : ''}${a.code} alarm${a.feed ? ` for ${a.feed}` : ''}${a.device ? ` for ${a.device}` : ''}`
			}
			return null
		}
		let why = check()
		while (why !== null && performance.now() - started < budget.ms) {
			await new Promise((r) => setTimeout(r, 5))
			why = check()
		}
		const tookMs = Math.round(performance.now() - started)
		if (why === null && e.hold > 0) {
			const until = performance.now() + e.hold
			while (why === null && performance.now() < until) {
				await new Promise((r) => setTimeout(r, 10))
				why = check()
			}
			if (why !== null) why = `held less than ${e.hold} ms: ${why}`
		}
		const what = describeExpect(e)
		results.push({
			index,
			kind: 'expect',
			ok: why === null,
			atMs: since(),
			text:
				why === null
					? `${what}: after ${tookMs} ms${budget.polls ? ` (${budget.polls})` : ''}${e.hold ? `, held ${e.hold} ms` : ''}`
					: `${what}: FAILED within ${budget.ms} ms${budget.polls ? ` (${budget.polls})` : ''}: ${why}`,
		})
	}
	return results
}

/**
 * How long an expectation may take: `within`, plus `polls` poll intervals of its alarm's device as the lab config
 * sets them (what a polled device's change waits for is its next poll). A string: why it cannot be judged.
 */
function budgetOf(e: z.infer<typeof Expect>, lab: Lab): { ms: number; polls?: string } | string {
	if (e.polls === undefined) return { ms: e.within }
	const id = e.alarm!.device!
	const driver = lab.config.devices.find((d) => d.id === id)?.driver
	const pollMs = driver && 'pollMs' in driver ? driver.pollMs : undefined
	if (pollMs === undefined) return `FAILED: ${id} is not a polled device of the lab config (no pollMs)`
	return {
		ms: e.polls * pollMs + e.within,
		polls: `${e.polls} poll${e.polls > 1 ? 's' : ''} of ${id} at ${pollMs} ms + ${e.within} ms`,
	}
}

function describeExpect(e: z.infer<typeof Expect>): string {
	const parts: string[] = []
	if (e.active !== undefined) parts.push(`on ${e.active}`)
	if (e.mode !== undefined) parts.push(e.mode)
	if (e.locked !== undefined) parts.push(e.locked ? 'locked' : 'unlocked')
	if (e.compliant !== undefined) parts.push(e.compliant ? 'compliant' : 'not compliant')
	for (const [p, c] of Object.entries(e.paths ?? {})) parts.push(`${p} ${c}`)
	if (e.switches !== undefined) parts.push(`${e.switches} switches`)
	if (e.alarm)
		parts.push(
			`alarm ${e.alarm.code}${e.alarm.cleared ? ' cleared' : ''}${e.alarm.device ? ` (${e.alarm.device})` : ''}`,
		)
	return `${e.feed ?? ''} ${parts.join(', ')}`.trim()
}
