// The FACS command's payload, the same over MQTT and HTTP: `{ "feed"?, "operator"? }`, or nothing (the whole event).
import { z } from 'zod'
import { MAX_PAYLOAD_BYTES } from '../control/payloads.ts'
import { Id } from '../domain/primitives.ts'

const FacsCommand = z.strictObject({
	feed: Id.optional(),
	operator: z.string().min(1).max(200).optional(),
})

/** Parses a FACS command payload: empty is `{}`; returns the command or why not (one line). */
export function parseFacsPayload(
	payload: Buffer,
): { ok: true; feed?: string | undefined; operator?: string | undefined } | { ok: false; error: string } {
	if (payload.length > MAX_PAYLOAD_BYTES) return { ok: false, error: `the payload is over ${MAX_PAYLOAD_BYTES} bytes` }
	if (payload.length === 0) return { ok: true }
	let json: unknown
	try {
		json = JSON.parse(payload.toString('utf8'))
	} catch {
		return { ok: false, error: 'the payload is not JSON' }
	}
	const r = FacsCommand.safeParse(json)
	if (!r.success) {
		const i = r.error.issues[0]
		return { ok: false, error: `${i?.path.join('.') || 'payload'}: ${i?.message ?? 'invalid'}` }
	}
	return { ok: true, ...r.data }
}
