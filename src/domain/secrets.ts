// Secrets: resolved from the environment at start, redacted wherever a config or payload is shown.
import type { Secret } from './primitives.ts'

/** Keys whose values are secrets wherever they appear in a config. */
export const SECRET_KEYS: ReadonlySet<string> = new Set([
	'community',
	'passphrase',
	'password',
	'authKey',
	'privKey',
	'token',
])

export const REDACTED = '[redacted]'

export class SecretError extends Error {
	override name = 'SecretError'
}

/** Resolves a secret; `{ env }` reads the named environment variable, which must be set and non-empty. */
export function resolveSecret(secret: Secret, env: NodeJS.ProcessEnv = process.env): string {
	if (typeof secret === 'string') return secret
	const value = env[secret.env]
	if (value === undefined || value === '') throw new SecretError(`environment variable ${secret.env} is not set`)
	return value
}

/** A deep copy with every secret replaced; `{ env: NAME }` stays visible (it names, it does not reveal). */
export function redact<T>(value: T): T {
	return redactValue(value, false) as T
}

function redactValue(value: unknown, secret: boolean): unknown {
	if (Array.isArray(value)) return value.map((v) => redactValue(v, secret))
	if (value !== null && typeof value === 'object') {
		const obj = value as Record<string, unknown>
		if (secret && typeof obj['env'] === 'string' && Object.keys(obj).length === 1) return { env: obj['env'] }
		const out: Record<string, unknown> = {}
		for (const [k, v] of Object.entries(obj)) out[k] = redactValue(v, SECRET_KEYS.has(k))
		return out
	}
	if (secret && value !== undefined && value !== null) return REDACTED
	return value
}

/** pino `redact` paths covering the secret keys at any depth up to a config's nesting. */
export const PINO_REDACT_PATHS: string[] = [...SECRET_KEYS].flatMap((k) => [k, `*.${k}`, `*.*.${k}`, `*.*.*.${k}`])
