// Secrets: resolved from the environment at start, redacted wherever a config or payload is shown.
import type { Resolved, Secret } from './primitives.ts'

export type { Resolved } from './primitives.ts'

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

/**
 * A deep copy with every secret under a SECRET_KEYS key resolved to a plain string: what the runtime, the CLI and the
 * lab hand to drivers (a device, a driver config, the `traps` section), so drivers never read the environment.
 * A missing variable throws SecretError naming it, before anything starts. The same keys as redact(), so what
 * is resolved is exactly what is redacted: the resolved copy must still only be logged through redact().
 */
export function resolveSecrets<T>(value: T, env: NodeJS.ProcessEnv = process.env): Resolved<T> {
	// one cast: the walk below does what Resolved<T> says, which TypeScript cannot follow through a recursion
	return resolveValue(value, false, env) as Resolved<T>
}

function resolveValue(value: unknown, secret: boolean, env: NodeJS.ProcessEnv): unknown {
	if (Array.isArray(value)) return value.map((v) => resolveValue(v, secret, env))
	if (value !== null && typeof value === 'object') {
		const obj = value as Record<string, unknown>
		if (secret && typeof obj['env'] === 'string' && Object.keys(obj).length === 1)
			return resolveSecret({ env: obj['env'] }, env)
		const out: Record<string, unknown> = {}
		for (const [k, v] of Object.entries(obj)) out[k] = resolveValue(v, SECRET_KEYS.has(k), env)
		return out
	}
	return value
}

/**
 * Every `{ env: NAME }` secret whose variable is unset or empty, with where it sits in the config
 * (`devices[3].driver.password`): what `sigpath check` warns about, and what `sigpath run` would refuse to start on.
 */
export function unsetSecrets(
	value: unknown,
	env: NodeJS.ProcessEnv = process.env,
): { path: string; variable: string }[] {
	const out: { path: string; variable: string }[] = []
	const walk = (v: unknown, path: string, secret: boolean): void => {
		if (Array.isArray(v)) return v.forEach((x, i) => walk(x, `${path}[${i}]`, secret))
		if (v === null || typeof v !== 'object') return
		const obj = v as Record<string, unknown>
		const name = obj['env']
		if (secret && typeof name === 'string' && Object.keys(obj).length === 1) {
			if (env[name] === undefined || env[name] === '') out.push({ path, variable: name })
			return
		}
		for (const [k, x] of Object.entries(obj)) walk(x, path ? `${path}.${k}` : k, SECRET_KEYS.has(k))
	}
	walk(value, '', false)
	return out
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
