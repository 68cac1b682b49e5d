// The record kinds the daemon writes to the journal, their payloads (zod), and how engine outputs become records.
//
// Time: every payload that comes from the engine carries `t`, the engine time: ms since the daemon's start (the
// `boot` record; `boot.mono` is the CLOCK_MONOTONIC ms at engine t=0, so t = mono - boot.mono at the instant the
// daemon fed the observation). A replay timeline uses exactly these t (and `at`), so a run of the daemon is one
// timeline: `journal timeline` copies them unchanged.
import { z } from 'zod'
import {
	CommandRecord,
	DeviceRecord,
	ExternalRecord,
	FollowRecord,
	InputRecord,
	SignalRecord,
	StartRecord,
	toRecord,
	UpsRecord,
} from '../engine/timeline.ts'
import { refusalRecord } from '../engine/replay.ts'
import type { Observation, Output } from '../engine/types.ts'

const T = z.number().int().min(0)

export const Payloads = {
	/** a daemon start: engine time restarts at 0 */
	boot: z.strictObject({
		version: z.string(),
		pid: z.number().int(),
		/** CLOCK_MONOTONIC ms at engine t=0 */
		mono: z.number(),
		/** sha256 of the config file's text, so that an incident is replayed against the config it ran with */
		config: z.string().optional(),
	}),
	/** a clean stop (SIGTERM, a reload, the lab's quit): the last record of a run that did not crash */
	shutdown: z.strictObject({ reason: z.string() }),
	/**
	 * records the journal could not keep: while the disk refused writes its memory queue filled up, and these were
	 * dropped before they were chained (docs/contract.md §8). Written by the journal itself, right after the records
	 * it did keep, as soon as the disk takes writes again.
	 */
	dropped: z.strictObject({
		/** how many records */
		dropped: z.number().int().min(1),
		/** wall time of the first and the last of them */
		first: z.string(),
		last: z.string(),
		/** how many of each kind */
		kinds: z.record(z.string(), z.number().int().min(1)),
		/** why the disk refused them (the last error) */
		reason: z.string(),
	}),
	/**
	 * the oldest journal files are about to be removed (journal.retainDays, retention.ts): written, and durable, before
	 * they go, so that `verify` accepts a journal that starts at `from` and no earlier cut
	 */
	retention: z.strictObject({
		/** the seq the journal starts at once they are gone: the first record of the oldest file kept */
		from: z.number().int().min(2),
		/** the files removed, oldest first */
		files: z.array(z.string()),
		/** every record in them is older than this (wall time, ISO 8601) */
		before: z.string(),
		retainDays: z.number().int().min(1),
	}),
	/** a feed's start: the crosspoint read from the router, mode and lock restored from the journal */
	start: StartRecord.extend({
		mode: z.enum(['auto', 'manual']),
		locked: z.boolean(),
		/** what the journal said before this start (recovery); null when it knew nothing of the feed */
		recovered: z
			.strictObject({ active: z.string().nullable(), mode: z.enum(['auto', 'manual']), locked: z.boolean() })
			.nullable()
			.optional(),
	}),
	/**
	 * a path, device or UPS report, as the engine received it, or a crosspoint change seen on the router that sigpath
	 * did not command (`external`), or the active node's state that a pair's standby follows (`follow`)
	 */
	observation: z.union([SignalRecord, DeviceRecord, UpsRecord, ExternalRecord, FollowRecord, InputRecord]),
	/** an operator command and what became of it */
	command: CommandRecord.extend({
		/** where it came from: mqtt, http, midi, cli */
		via: z.string().optional(),
		/**
		 * who sent it, as proven (docs/contract.md §5a, §6a): the MQTT user of a panel's topic, or the name of the HTTP
		 * token; null when nothing proves it (the v1 MQTT topic, MIDI). `operator` is the claim of the person at it.
		 * Absent in records written before v2.
		 */
		panel: z.string().nullable().optional(),
		result: z.enum(['accepted', 'refused']),
		reason: z.string().optional(),
	}),
	decision: z.strictObject({
		t: T,
		feed: z.string(),
		/** null: the feed was off-path */
		from: z.string().nullable(),
		to: z.string(),
		cause: z.enum(['failover', 'revert', 'take']),
		operator: z.string().optional(),
		explain: z.unknown().optional(),
	}),
	/**
	 * an alarm raised (`active`) or cleared (docs/contract.md §7). `feed` is empty for an alarm about a device or the
	 * daemon. The engine's records carry no `id`: theirs is `<alarm>:<feed>` (at-risk: `at-risk:<feed>:paths`); the
	 * alarm manager's carry theirs, with the device and severity.
	 */
	alarm: z.strictObject({
		t: T,
		feed: z.string(),
		alarm: z.string(),
		active: z.boolean(),
		path: z.string().optional(),
		message: z.string(),
		id: z.string().optional(),
		device: z.string().optional(),
		severity: z.enum(['critical', 'major', 'minor', 'warning']).optional(),
	}),
	/**
	 * an alarm acknowledged by an operator (docs/contract.md §7): it stays active until its condition clears. `by` is
	 * what the alarm shows; `operator` the person as the payload claims it, `panel` the panel or token that sent it
	 * (null: the shared v1 topic), `via` mqtt or http.
	 */
	ack: z.strictObject({
		t: T,
		id: z.string(),
		alarm: z.string(),
		feed: z.string().optional(),
		device: z.string().optional(),
		by: z.string(),
		operator: z.string().optional(),
		panel: z.string().nullable(),
		via: z.string(),
	}),
	refusal: z.strictObject({
		t: T,
		feed: z.string(),
		command: z.string(),
		path: z.string().optional(),
		operator: z.string().optional(),
		refused: z.string(),
		message: z.string(),
	}),
	/** rule 4: the switch the engine would have made on a manual or locked feed (audit only; not replayed) */
	suppressed: z.strictObject({
		t: T,
		feed: z.string(),
		from: z.string(),
		to: z.string(),
		cause: z.enum(['failover', 'revert', 'take']),
		because: z.enum(['manual', 'locked']),
		explain: z.unknown().optional(),
	}),
	/** a routing request sent to a router for a decision, and its outcome on the router's own tally */
	take: z.strictObject({
		t: T,
		feed: z.string(),
		path: z.string(),
		router: z.string(),
		output: z.number().int().min(1),
		input: z.number().int().min(1),
		/** fenced: not sent, because this node was not the active one with a valid lease (docs/contract.md §9) */
		result: z.enum(['sent', 'confirmed', 'unconfirmed', 'failed', 'fenced']),
		error: z.string().optional(),
		/** in a pair: the revision of the etcd leadership key this node held (its creation), under which it was sent */
		lease: z.number().int().min(1).optional(),
	}),
	/**
	 * a FACS tour (docs/contract.md §10): its start, each path taken to the QC output and measured, the QC output put
	 * back, and its end with the whole report; or its refusal
	 */
	facs: z.strictObject({
		t: T,
		event: z.string(),
		phase: z.enum(['start', 'path', 'restore', 'end', 'refused']),
		feed: z.string().optional(),
		path: z.string().optional(),
		router: z.string().optional(),
		output: z.number().int().min(1).optional(),
		input: z.number().int().min(1).optional(),
		operator: z.string().optional(),
		via: z.string().optional(),
		pass: z.boolean().optional(),
		message: z.string().optional(),
		/** the path's figures (phase path) or the report (phase end) */
		result: z.unknown().optional(),
	}),
	/** a crosspoint as the router reports it (feed and path when it is a feed's output and lands on a path) */
	tally: z.strictObject({
		t: T,
		router: z.string(),
		output: z.number().int().min(1),
		input: z.number().int().min(1),
		feed: z.string().optional(),
		path: z.string().optional(),
	}),
} as const

export type Kind = keyof typeof Payloads
export const KINDS = Object.keys(Payloads) as Kind[]
export type Payload<K extends Kind> = z.infer<(typeof Payloads)[K]>
export type Entry = { [K in Kind]: { kind: K; payload: Payload<K> } }[Kind]

/** Validates a payload read back from a journal; returns why not, or undefined. */
export function checkPayload(kind: string, payload: unknown): string | undefined {
	const schema = (Payloads as Record<string, z.ZodType>)[kind]
	if (!schema) return undefined // kinds added later are kept and skipped by the readers
	const r = schema.safeParse(payload)
	return r.success ? undefined : (r.error.issues[0]?.message ?? 'invalid payload')
}

/**
 * The records the daemon writes for one observation it gave the engine, and the engine's outputs: the observation
 * (or the command with its result) first, then decisions, alarms and refusals in the engine's order.
 */
export function entriesFor(obs: Observation, outputs: readonly Output[], via?: string, panel?: string | null): Entry[] {
	const out: Entry[] = []
	const rec = toRecord(obs)
	if (obs.type === 'start') {
		if (obs.mode === undefined)
			throw new Error('a journaled start record must carry its mode (the config mode or the restored one)')
		out.push({
			kind: 'start',
			payload: { t: obs.t, feed: obs.feed, active: obs.active, mode: obs.mode, locked: obs.locked ?? false },
		})
	} else if (obs.type === 'command') {
		const refusal = outputs.find((o) => o.kind === 'refusal' && o.feed === obs.feed && o.t === obs.t)
		out.push({
			kind: 'command',
			payload: {
				...(rec as Payload<'command'>),
				...(via !== undefined ? { via } : {}),
				...(panel !== undefined ? { panel } : {}),
				result: refusal ? 'refused' : 'accepted',
				...(refusal?.kind === 'refusal' ? { reason: refusal.refused } : {}),
			},
		})
	} else out.push({ kind: 'observation', payload: rec as Payload<'observation'> })
	for (const o of outputs) out.push(...entriesForOutput(o))
	return out
}

/** The journal records of one engine output (accepted commands ride on the `command` record). */
export function entriesForOutput(o: Output): Entry[] {
	switch (o.kind) {
		case 'decision':
			return [
				{
					kind: 'decision',
					payload: {
						t: o.t,
						feed: o.feed,
						from: o.from,
						to: o.to,
						cause: o.cause,
						...(o.operator !== undefined ? { operator: o.operator } : {}),
						explain: o.explain,
					},
				},
			]
		case 'alarm':
			return [
				{
					kind: 'alarm',
					payload: {
						t: o.t,
						feed: o.feed,
						alarm: o.alarm,
						active: o.active,
						...(o.path !== null ? { path: o.path } : {}),
						message: o.message,
					},
				},
			]
		case 'refusal':
			return [{ kind: 'refusal', payload: refusalRecord(o) }]
		case 'suppressed':
			return [
				{
					kind: 'suppressed',
					payload: {
						t: o.t,
						feed: o.feed,
						from: o.from,
						to: o.to,
						cause: o.cause,
						because: o.because,
						explain: o.explain,
					},
				},
			]
		case 'accepted':
			return [] // rides on the `command` record
	}
}
