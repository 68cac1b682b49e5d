// MQTT payloads of docs/contract.md §5, validated by zod. Unknown keys are errors; a bad payload changes nothing.
import { z } from 'zod'
import type { AlarmSeverity } from '../domain/alarms.ts'
import { Id } from '../domain/primitives.ts'

/** A payload over this is refused unread (docs/contract.md §5). */
export const MAX_PAYLOAD_BYTES = 16 * 1024

export const SetCommand = z
	.strictObject({
		action: z.enum(['take', 'auto', 'manual', 'lock', 'unlock']).describe('what to do'),
		path: Id.optional().describe('the path to take (take only)'),
		force: z.boolean().optional().describe('take an ineligible path (take only; never overrides a lock)'),
		operator: z.string().min(1).max(64).optional().describe('who asks, as the panel claims it'),
	})
	.superRefine((c, ctx) => {
		if (c.action === 'take' && c.path === undefined)
			ctx.addIssue({ code: 'custom', path: ['path'], message: 'take needs a path' })
		if (c.action !== 'take' && c.path !== undefined)
			ctx.addIssue({ code: 'custom', path: ['path'], message: `${c.action} takes no path` })
		if (c.action !== 'take' && c.force !== undefined)
			ctx.addIssue({ code: 'custom', path: ['force'], message: `${c.action} takes no force` })
	})
export type SetCommand = z.infer<typeof SetCommand>

export type CommandResult = { ok: true } | { ok: false; error: string }

export type PathClass = 'healthy' | 'recovering' | 'degraded' | 'ineligible' | 'failed'

export interface FeedState {
	active: string | null
	mode: 'auto' | 'manual'
	locked: boolean
	paths: Record<string, { signal: 'up' | 'down' | 'degraded' | null; state: PathClass }>
	compliance: { compliant: boolean; healthyDiscretePaths: number; required: number }
}

export interface DeviceState {
	connected: boolean
	health: 'ok' | 'degraded' | 'down' | 'unknown'
	detail: Record<string, unknown>
}

export type { AlarmSeverity } from '../domain/alarms.ts'

/** An alarm's lifecycle events (docs/contract.md §7). */
export type AlarmState = 'raised' | 'cleared' | 'acknowledged'

/**
 * An alarm: one condition with its lifecycle (docs/contract.md §7). The active list (MQTT `alarms/active`, GET
 * /alarms, /status `alarms`) is made of these. Times are wall clock, ISO 8601.
 */
export interface AlarmRecord {
	/** stable for one condition: code and subject (src/domain/alarms.ts alarmId) */
	id: string
	code: string
	severity: AlarmSeverity
	feed?: string
	device?: string
	/** the condition as it was raised */
	message: string
	raisedAt: string
	clearedAt?: string
	ack?: { by: string; at: string }
}

/**
 * One lifecycle event, on MQTT `sigpath/<site>/alarms` and the dashboard's push channel: the v1 fields (`t`,
 * `severity`, `code`, `device`?, `feed`?, `message`) and the alarm's v2 fields with its `state`. `t` is when this
 * happened; `message` says it (a clear reads as a clear); `severity` is `cleared` on a clear, as v1 published it.
 */
export interface Alarm extends Omit<AlarmRecord, 'severity'> {
	t: string
	state: AlarmState
	severity: AlarmSeverity | 'cleared'
}

/** An acknowledgement over MQTT (`sigpath/<site>/alarms/ack`): the alarm's id and who, as the panel claims it. */
export const AckCommand = z.strictObject({
	id: z.string().min(1).max(512).describe("the alarm's id"),
	operator: z.string().min(1).max(64).optional().describe('who acknowledges, as the panel claims it'),
})
export type AckCommand = z.infer<typeof AckCommand>

/** The body of POST /alarms/<id>/ack: empty, or who acknowledges. */
export const AckBody = AckCommand.omit({ id: true })

export type AckResult = { ok: true; alarm: AlarmRecord } | { ok: false; error: string }

/**
 * The journal's head, retained on `sigpath/<site>/journal/head` (docs/contract.md §8): the last record on disk, to be
 * kept elsewhere and given to `sigpath journal verify --head SEQ:HASH`.
 */
export interface JournalHeadState {
	seq: number
	hash: string
	/** wall time when it was known durable, ISO 8601 */
	at: string
}

/** The longest reason parseSetPayload gives: one line an operator reads in a log, an MQTT reply or an HTTP 400. */
export const MAX_REASON_CHARS = 300

/**
 * Text from a payload made safe to show: every control character (C0, C1, U+2028/2029) escaped as JSON writes it, so
 * a reason stays one line (a newline in it would forge a second log line), and cut to `max` characters with `...`.
 * Found by the payload fuzz test: JSON.parse quotes the payload in its message, NUL and newlines included.
 */
export function printable(text: string, max: number): string {
	const out: string[] = []
	for (const c of text) {
		if (out.length === max) return `${out.join('')}...`
		const code = c.codePointAt(0)!
		const control = code <= 0x1f || (code >= 0x7f && code <= 0x9f) || code === 0x2028 || code === 0x2029
		if (!control) out.push(c)
		else if (c === '\n') out.push('\\n')
		else if (c === '\r') out.push('\\r')
		else if (c === '\t') out.push('\\t')
		else out.push(`\\u${code.toString(16).padStart(4, '0')}`)
	}
	return out.join('')
}

/**
 * Parses a `set` payload. Returns the command or a one-line reason (printable, at most MAX_REASON_CHARS); never
 * throws. Size is checked first, so a 1 MB payload is refused without being decoded.
 */
export function parseSetPayload(payload: Buffer): { ok: true; command: SetCommand } | { ok: false; error: string } {
	return parsePayload(SetCommand, payload)
}

/** Parses an alarm acknowledgement (MQTT `alarms/ack`) as parseSetPayload parses a command. */
export function parseAckPayload(payload: Buffer): { ok: true; command: AckCommand } | { ok: false; error: string } {
	return parsePayload(AckCommand, payload)
}

/** A JSON payload against its schema: size first, then JSON, then the schema; one printable line when refused. */
export function parsePayload<T>(
	schema: z.ZodType<T>,
	payload: Buffer,
): { ok: true; command: T } | { ok: false; error: string } {
	if (payload.length > MAX_PAYLOAD_BYTES)
		return { ok: false, error: `payload is ${payload.length} bytes; at most ${MAX_PAYLOAD_BYTES} are read` }
	const refuse = (reason: string) => ({ ok: false as const, error: printable(reason, MAX_REASON_CHARS) })
	let data: unknown
	try {
		data = JSON.parse(payload.toString('utf8'))
	} catch (err) {
		return refuse(`payload is not JSON: ${printable((err as Error).message, 200)}`)
	}
	const r = schema.safeParse(data)
	if (r.success) return { ok: true, command: r.data }
	const issue = r.error.issues[0]!
	const where = issue.path.length ? `${issue.path.map((k) => printable(String(k), 60)).join('.')}: ` : ''
	const msg =
		issue.code === 'unrecognized_keys'
			? `unknown key ${issue.keys.map((k) => `"${printable(k, 60)}"`).join(', ')}`
			: issue.message
	return refuse(`${where}${msg}`)
}
