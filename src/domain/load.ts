// Reading a config file: size cap, YAML with alias limits, zod validation, and errors that name the exact place
// (`events[0].feeds[1].paths[2].input.router: unknown device "rtr-9" (line 42)`), never a stack trace.
import { readFileSync, statSync } from 'node:fs'
import { CORE_SCHEMA, load as loadYaml, YAMLException } from 'js-yaml'
import { isNode, LineCounter, parseDocument, type Document } from 'yaml'
import type { z } from 'zod'
import { Config, fmtPath } from './config.ts'
import { REDACTED, SECRET_KEYS } from './secrets.ts'

/** A config past this is refused unread: a real BOC is a few hundred KiB; this leaves room and keeps parsing fast. */
export const MAX_CONFIG_BYTES = 4 * 1024 * 1024

export interface ConfigProblem {
	/** `events[0].feeds[1]...`, or '' for the whole file */
	path: string
	message: string
	/** 1-based line in the file where the parser knows it */
	line?: number
}

export class ConfigError extends Error {
	override name = 'ConfigError'
	constructor(
		readonly file: string,
		readonly problems: readonly ConfigProblem[],
	) {
		super(`${file}: invalid config:\n${problems.map(formatProblem).join('\n')}`)
	}
}

export function formatProblem(p: ConfigProblem): string {
	const where = p.path === '' ? '' : `${p.path}: `
	const line = p.line !== undefined ? ` (line ${p.line})` : ''
	return `${where}${p.message}${line}`
}

/** Reads and validates FILE. Throws ConfigError (and only ConfigError) on any problem. */
export function loadConfigFile(file: string): Config {
	return loadConfigFileText(file).config
}

/** As loadConfigFile, with the file's text (the daemon hashes it into its boot record and compares it on reload). */
export function loadConfigFileText(file: string): { config: Config; text: string } {
	let size: number
	try {
		size = statSync(file).size
	} catch (err) {
		throw new ConfigError(file, [
			{ path: '', message: `cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}` },
		])
	}
	if (size > MAX_CONFIG_BYTES)
		throw new ConfigError(file, [
			{
				path: '',
				message: `file is ${(size / 1048576).toFixed(1)} MiB; a config is at most ${MAX_CONFIG_BYTES / 1048576} MiB`,
			},
		])
	let text: string
	try {
		text = readFileSync(file, 'utf8')
	} catch (err) {
		throw new ConfigError(file, [
			{ path: '', message: `cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}` },
		])
	}
	return { config: parseConfigText(text, file), text }
}

/**
 * Parses YAML (or JSON) text into a validated Config.
 *
 * Two parsers, on purpose: js-yaml reads the file (several times faster than `yaml` on a large BOC, and the daemon
 * re-reads on every reload); only when something is wrong is the file parsed again with `yaml`, whose Document keeps
 * the source positions that let an error name its line. Both read YAML 1.2's core schema, so they agree on what the
 * text means (no timestamps, no `yes`/`no` booleans, no merge keys).
 */
export function parseConfigText(text: string, file = '<config>'): Config {
	if (text.length > MAX_CONFIG_BYTES)
		throw new ConfigError(file, [{ path: '', message: `config is larger than ${MAX_CONFIG_BYTES / 1048576} MiB` }])
	if (text.split('\n').every((l) => /^\s*(#.*)?$/.test(l)))
		throw new ConfigError(file, [{ path: '', message: 'the file is empty' }])
	let data: unknown
	try {
		data = loadYaml(text, { schema: CORE_SCHEMA, filename: file })
	} catch (err) {
		if (!(err instanceof YAMLException)) throw err
		const line = err.mark?.line
		const reason = err.reason.replace(/^duplicated mapping key$/, 'Map keys must be unique')
		throw new ConfigError(file, [
			{ path: '', message: `YAML: ${reason}`, ...(line !== undefined ? { line: line + 1 } : {}) },
		])
	}
	if (data === null || data === undefined) throw new ConfigError(file, [{ path: '', message: 'the file is empty' }])
	// js-yaml resolves an alias to the same object: a "billion laughs" file is small in memory but enormous to walk.
	if (expandedNodes(data, new Map(), MAX_EXPANDED_NODES) > MAX_EXPANDED_NODES)
		throw new ConfigError(file, [{ path: '', message: 'YAML: Excessive alias count (the aliases expand too far)' }])
	const r = Config.safeParse(data, { reportInput: true })
	if (r.success) return r.data
	const lines = new LineCounter()
	const doc = parseDocument(text, { lineCounter: lines, strict: true })
	throw new ConfigError(file, zodProblems(r.error, doc, lines))
}

/** A config expands to at most this many nodes once aliases are followed (a large BOC is ~100k). */
const MAX_EXPANDED_NODES = 2_000_000

function expandedNodes(v: unknown, memo: Map<object, number>, limit: number): number {
	if (v === null || typeof v !== 'object') return 1
	const known = memo.get(v)
	if (known !== undefined) return known
	memo.set(v, limit + 1) // a cycle (a self-referencing alias) counts as too large
	let n = 1
	for (const child of Array.isArray(v) ? v : Object.values(v)) {
		n += expandedNodes(child, memo, limit)
		if (n > limit) break
	}
	memo.set(v, n)
	return n
}

/** Validates already-parsed data; `doc` and `lines` (when the data came from YAML) give line numbers. */
export function validateConfig(data: unknown, file = '<config>', doc?: Document, lines?: LineCounter): Config {
	const r = Config.safeParse(data, { reportInput: true })
	if (r.success) return r.data
	throw new ConfigError(file, zodProblems(r.error, doc, lines))
}

export function zodProblems(error: z.ZodError, doc?: Document, lines?: LineCounter): ConfigProblem[] {
	const out: ConfigProblem[] = []
	const seen = new Set<string>()
	for (const issue of error.issues) {
		const path = issue.path.filter((k): k is string | number => typeof k !== 'symbol')
		const secret = SECRET_KEYS.has(String(path[path.length - 1]))
		const p: ConfigProblem = {
			path: fmtPath(path),
			message: issueMessage(secret ? ({ ...issue, input: REDACTED } as Issue) : issue),
		}
		// an unknown key is best shown on its own line, not its parent's
		const at = issue.code === 'unrecognized_keys' && issue.keys[0] !== undefined ? [...path, issue.keys[0]] : path
		const line = lineOf(at, doc, lines)
		if (line !== undefined) p.line = line
		const key = `${p.path}\0${p.message}`
		if (!seen.has(key)) {
			seen.add(key)
			out.push(p)
		}
	}
	return out
}

type Issue = z.core.$ZodIssue

function issueMessage(i: Issue): string {
	switch (i.code) {
		case 'unrecognized_keys':
			return `unknown key${i.keys.length > 1 ? 's' : ''} ${i.keys.map((k) => `"${k}"`).join(', ')}`
		case 'invalid_type':
			return i.input === undefined ? `required (${i.expected})` : `expected ${i.expected}, got ${describe(i.input)}`
		case 'invalid_union':
			if ('note' in i && i.note === 'No matching discriminator') return `${i.message}`
			return `${i.message}: expected one of the accepted forms`
		case 'invalid_value':
			return `must be one of ${i.values.map((v) => JSON.stringify(v)).join(', ')}, got ${describe(i.input)}`
		default:
			return i.message
	}
}

function describe(v: unknown): string {
	if (v === null) return 'null'
	if (Array.isArray(v)) return 'an array'
	if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v)
	if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return `${typeof v} ${v}`
	return typeof v === 'object' ? 'an object' : typeof v
}

function lineOf(path: (string | number)[], doc?: Document, lines?: LineCounter): number | undefined {
	if (!doc || !lines) return undefined
	// walk down as far as the document goes: a missing key is reported at its parent
	for (let n = path.length; n >= 0; n--) {
		const node = doc.getIn(path.slice(0, n), true)
		if (isNode(node) && node.range) return lines.linePos(node.range[0]).line
	}
	return undefined
}
