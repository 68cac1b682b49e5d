// MQTT payloads of docs/contract.md §5, validated by zod. Unknown keys are errors; a bad payload changes nothing.
import { z } from 'zod'
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

/** `sigpath/<site>/panels/<panel>/alarms/ack` (docs/contract.md §5a, §7): the alarm's id, and who pressed the button. */
export const AckCommand = z.strictObject({
	id: z.string().min(1).max(256).describe('the alarm id'),
	operator: z.string().min(1).max(64).optional().describe('who acknowledges, as the panel claims it'),
})
export type AckCommand = z.infer<typeof AckCommand>

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

export interface Alarm {
	/** wall-clock time, ISO 8601 */
	t: string
	severity: 'critical' | 'major' | 'minor' | 'warning' | 'info' | 'cleared'
	code: string
	device?: string
	feed?: string
	message: string
}

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
	return parsePayload(payload, SetCommand)
}

/** Parses an alarm `ack` payload, with the same limits and reasons as parseSetPayload. */
export function parseAckPayload(payload: Buffer): { ok: true; command: AckCommand } | { ok: false; error: string } {
	return parsePayload(payload, AckCommand)
}

function parsePayload<T>(
	payload: Buffer,
	schema: z.ZodType<T>,
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
