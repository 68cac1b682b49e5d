// The alarm vocabulary of docs/contract.md §7: codes, their severities, and how an alarm's id names its condition.
// Shared by the engine (its alarms' ids), the power monitor and the runtime's alarm manager, so that one condition
// has one id wherever it is raised, cleared, journaled or acknowledged.
import type { FeedKey } from './model.ts'

export type AlarmSeverity = 'critical' | 'major' | 'minor' | 'warning'

export const ALARM_SEVERITY: Readonly<Record<string, AlarmSeverity>> = {
	'no-path': 'critical',
	'no-signal': 'major',
	'at-risk': 'major',
	'take-unconfirmed': 'critical',
	'external-take': 'major',
	'off-path': 'critical',
	'on-air-failed': 'critical',
	'device-stale': 'minor',
	'power-on-battery': 'major',
	'power-low-battery': 'critical',
	'journal-failed': 'critical',
	'ha-standby-lost': 'major',
	// content checks (docs/contract.md §10): a device's picture or sound, and the analyser that judges them
	black: 'major',
	freeze: 'major',
	silence: 'major',
	'ts-errors': 'major',
	'content-analyser-failed': 'minor',
}

/** A code's severity; a code not in the table is a warning. */
export function severityOf(code: string): AlarmSeverity {
	return ALARM_SEVERITY[code] ?? 'warning'
}

/**
 * The id of one condition: `<code>:<subject>`. A feed's alarm is `<code>:<event>/<feed>`, a device's
 * `<code>:<device>`, the daemon's own (journal-failed) the bare code. at-risk has two causes that stand and clear
 * apart, so each is its own alarm: `at-risk:<event>/<feed>:paths` (too few healthy discrete paths, the engine's) and
 * `at-risk:<event>/<feed>:power` (a device of the feed short of protected power, the power monitor's).
 */
export const alarmId = {
	feed: (code: string, feed: FeedKey): string => (code === 'at-risk' ? `at-risk:${feed}:paths` : `${code}:${feed}`),
	atRiskPower: (feed: FeedKey): string => `at-risk:${feed}:power`,
	device: (code: string, device: string): string => `${code}:${device}`,
}
