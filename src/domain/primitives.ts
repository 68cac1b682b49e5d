// Small shared schemas: ids, ports, host:port, secrets, durations.
import { z } from 'zod'

/** Ids appear in MQTT topics and URLs: no '/', '+', '#', spaces or leading punctuation. */
export const Id = z
	.string()
	.regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'must be 1-64 of A-Z a-z 0-9 . _ -, starting with a letter or digit')

/** A 1-based router port, as labelled on the router. */
export const Port1 = z.number().int().min(1).max(65535)

export const TcpPort = z.number().int().min(1).max(65535)

export const Host = z.string().min(1).max(253).describe('IPv4/IPv6 address or host name')

export const Millis = z.number().int().min(0).max(86_400_000)

/**
 * A secret: either the value itself or `{ env: NAME }`, read from the environment at start.
 * Secrets never appear in logs, on the status endpoint or in `--json` output: see redact().
 */
export const Secret = z.union([
	z.string().min(1).describe('the secret itself (prefer { env: NAME })'),
	z.strictObject({
		env: z
			.string()
			.regex(/^[A-Za-z_][A-Za-z0-9_]*$/)
			.describe('environment variable holding the secret'),
	}),
])
export type Secret = z.infer<typeof Secret>

/**
 * T with every `{ env: NAME }` secret resolved to its value: what drivers receive. The caller resolves
 * (secrets.ts resolveSecrets) so that drivers never read the environment themselves.
 */
export type Resolved<T> = T extends { env: string }
	? string
	: T extends readonly (infer U)[]
		? Resolved<U>[]
		: T extends object
			? { [K in keyof T]: Resolved<T[K]> }
			: T

/** `HOST:PORT`, with IPv6 in brackets. */
export const Listen = z
	.string()
	.regex(/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'must be HOST:PORT (IPv6 as [::1]:PORT)')
	.refine((s) => {
		const port = Number(s.slice(s.lastIndexOf(':') + 1))
		return port >= 0 && port <= 65535
	}, 'port must be 0-65535')

export function splitListen(listen: string): { host: string; port: number } {
	const i = listen.lastIndexOf(':')
	let host = listen.slice(0, i)
	if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1)
	return { host, port: Number(listen.slice(i + 1)) }
}

/** Numeric OID, leading dot optional; normalised without the dot. */
export const Oid = z
	.string()
	.regex(/^\.?\d+(\.\d+)+$/, 'must be a numeric OID such as 1.3.6.1.2.1.33.1.4.1.0')
	.transform((s) => (s.startsWith('.') ? s.slice(1) : s))
