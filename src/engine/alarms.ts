// The engine's alarms (docs/contract.md §4, §4a, §7), evaluated after each decision: off-path, no-path, no-signal,
// on-air-failed about the path on air, and at-risk about the feed's healthy discrete paths. Each is held on the feed
// (`alarms[code]`: the path it was raised on) and output once when raised and once when cleared.
import { maxDiscrete } from '../rule/index.ts'
import { alarmText, clearText, explainTriggers, failureText, withCauses } from './decide.ts'
import { classOf, countsAsHealthy, isBad, type FeedRt, type PathRt } from './state.ts'
import type { AlarmCode, Output } from './types.ts'

/** Every alarm of a feed after its evaluation at t; `noPath`: rule 1 applies and no candidate is eligible. */
export function feedAlarms(f: FeedRt, noPath: boolean, t: number, out: Output[]): void {
	const a = f.active
	setAlarm(f, 'off-path', a === null, t, out, () => [`the router shows none of the paths of ${f.key}`])
	if (a === null) {
		for (const code of ['no-path', 'no-signal', 'on-air-failed'] as const)
			setAlarm(f, code, false, t, out, () => ['the feed is off-path'])
	} else activeAlarms(f, a, noPath, t, out)
	if (f.risk) {
		const risk = f.risk
		const n = f.graceOver ? healthyDiscrete(f) : risk.required
		const count = `${n} healthy discrete path${n === 1 ? '' : 's'}; the feed requires ${risk.required}`
		const atRisk = n < risk.required
		setAlarm(
			f,
			'at-risk',
			atRisk,
			t,
			out,
			() => [count],
			atRisk ? undefined : `${f.key}: enough healthy discrete paths again (${count})`,
		)
	}
}

/** The alarms about the path on air: no-path, no-signal, and on-air-failed (§4a: a failed path on air is never silent). */
function activeAlarms(f: FeedRt, a: PathRt, noPath: boolean, t: number, out: Output[]): void {
	setAlarm(f, 'no-path', noPath, t, out, () => [
		`${a.id} failed at ${a.lastFailure ?? '?'} and is down; no other path is eligible`,
		...f.paths.filter((p) => p !== a).map((p) => `${p.id}: ${classOf(p)} (signal ${p.signal ?? 'none'})`),
	])
	setAlarm(f, 'no-signal', a.signal === null && a.nullLong, t, out, () => [
		`active path ${a.id} has had no signal since ${a.nullSince ?? '?'} (lossMs ${f.lossMs})`,
	])
	// raised when the active path has failed and no switch followed; it stands on that path until it is healthy
	// again, and clears at once when another path is on air
	const raisedOn = f.alarms['on-air-failed']
	if (raisedOn !== null && raisedOn !== a.id) setAlarm(f, 'on-air-failed', false, t, out, () => [`${a.id} is on air`])
	const failed = (a.failedOutage && isBad(a.signal)) || (raisedOn === a.id && classOf(a) !== 'healthy')
	const why = f.locked ? 'the feed is locked' : f.mode === 'manual' ? 'the feed is manual' : 'no other path is eligible'
	setAlarm(
		f,
		'on-air-failed',
		failed,
		t,
		out,
		() => [failureText(a, f.lossMs), why],
		failed ? `${f.key}: active path ${a.id} has failed and is still on air (${why})` : undefined,
	)
}

/**
 * Raises or clears one alarm of a feed; nothing when it already stands as asked. `message` says it (raised or
 * cleared, as `on`); absent, the code's raise or clear text.
 */
export function setAlarm(
	f: FeedRt,
	code: AlarmCode,
	on: boolean,
	t: number,
	out: Output[],
	because: () => string[],
	message?: string,
): void {
	const raised = f.alarms[code]
	if ((raised !== null) === on) return
	const path = raised ?? f.active?.id ?? null
	// off-path is held with '' (no path is on air); every other alarm with the path it is about
	f.alarms[code] = on ? (path ?? '') : null
	out.push({
		kind: 'alarm',
		t,
		feed: f.key,
		alarm: code,
		active: on,
		path: path === '' ? null : path,
		message:
			message ??
			(on ? alarmText[code](f.key, path) : clearText[code](f.key, path === '' ? null : path, f.active?.id ?? null)),
		explain: {
			rule: code,
			triggers: explainTriggers(withCauses(f.active ? [f.active] : [], f.triggers)),
			because: because(),
		},
	})
}

/** The most discrete paths among those healthy now (memoised per set of healthy paths). */
export function healthyDiscrete(f: FeedRt): number {
	if (!f.risk) return 0
	let mask = 0
	const ids: string[] = []
	f.paths.forEach((p, i) => {
		if (countsAsHealthy(p)) {
			mask |= 1 << i
			ids.push(p.id)
		}
	})
	const memo = f.risk.memo
	let n = memo.get(mask)
	if (n === undefined) memo.set(mask, (n = maxDiscrete(ids, f.risk.conflicts)))
	return n
}
