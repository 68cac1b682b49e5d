// Controller redundancy (docs/contract.md §9): the `ha` section and a node's name. Two daemons or more with the same
// config form a pair through etcd; each says which node it is with `--node NAME` or SIGPATH_NODE.
import { z } from 'zod'
import { Id, Secret } from './primitives.ts'

export const Ha = z
	.strictObject({
		etcd: z
			.strictObject({
				endpoints: z
					.array(z.string().regex(/^https?:\/\/[^/\s]+\/?$/, 'must be an http:// or https:// URL (HOST:PORT)'))
					.min(1)
					.describe('etcd client URLs, every member of the cluster (three: the two edge servers and a witness)'),
				username: z.string().min(1).optional().describe('etcd user (etcd authentication)'),
				password: Secret.optional().describe('etcd password'),
				tls: z
					.strictObject({
						ca: z.string().min(1).describe('CA certificate file'),
						cert: z.string().min(1).optional().describe('client certificate file'),
						key: z.string().min(1).optional().describe('client key file'),
					})
					.optional()
					.describe('TLS files (https:// endpoints)'),
			})
			.describe("the etcd cluster that holds the leadership, the node registry and each feed's mode and lock"),
		leaseMs: z
			.number()
			.int()
			.min(2000)
			.max(60_000)
			.refine((ms) => ms % 1000 === 0, 'must be whole seconds (etcd leases are granted in seconds)')
			.default(2000)
			.describe(
				"the leadership lease: the etcd lease TTL (whole seconds, at least 2 s: etcd raises shorter ones); a standby is active within leaseMs + 1000 ms of the active's death",
			),
	})
	.describe('controller redundancy: an active/standby pair (or more) through etcd (docs/contract.md §9)')
export type Ha = z.infer<typeof Ha>

/** A node's name: in etcd keys and MQTT topics, so an id. */
export const NodeName = Id

export class NodeNameError extends Error {
	override name = 'NodeNameError'
}

/**
 * This node's name: `--node` first, then SIGPATH_NODE. A pair needs one on every node (the names are how a standby
 * says who is active, and two nodes with one name would take each other for themselves); alone it is optional
 * (default: the host name).
 */
export function nodeName(flag: string | undefined, env: NodeJS.ProcessEnv, ha: boolean, host: string): string {
	const name = flag ?? (env['SIGPATH_NODE'] || undefined)
	if (name === undefined) {
		if (ha) throw new NodeNameError('ha: this node needs a name: --node NAME or SIGPATH_NODE')
		return host
	}
	const r = NodeName.safeParse(name)
	if (!r.success)
		throw new NodeNameError(`node name "${name}": ${r.error.issues[0]?.message ?? 'invalid'} (--node or SIGPATH_NODE)`)
	return name
}

/**
 * A pair shares one MQTT broker: each node's embedded broker would be a site of its own, with panels on one of them
 * only. So `ha` needs `mqtt`.
 */
export function checkHa(cfg: { ha?: Ha | undefined; mqtt?: unknown }, ctx: z.RefinementCtx): void {
	if (cfg.ha && cfg.mqtt === undefined)
		ctx.addIssue({
			code: 'custom',
			path: ['ha'],
			message: "a pair needs the site's MQTT broker (mqtt.url): each node's embedded broker would be a separate site",
		})
}
