// The node's role in a pair (docs/contract.md §9), as the rest of the daemon asks it: may a routing request leave
// now, may a command be taken here, may this node speak for the site on MQTT. One object answers all three, so
// that the takes, the command path and the MQTT client gate on the same fact. Alone (no `ha`), every answer is yes.

export type RoleName = 'active' | 'standby' | 'alone'

export interface NodeStatus {
	name: string
	role: RoleName
	/** the active node's name (alone: this one); null while none is known */
	active: string | null
	/** the active's own lease by its own clock, ms left (see fence.ts); null on a standby or alone */
	leaseRemainingMs: number | null
}

/** A routing request or a command may go ahead (with the lease revision it goes under), or not, and why. */
export type Permit = { ok: true; lease?: number } | { ok: false; why: string }

export interface Role {
	status(): NodeStatus
	/** a routing request may leave now: alone, or active with a lease valid by this node's own clock */
	mayRoute(): Permit
	/** an operator command is taken here (the error names the active) */
	mayCommand(): Permit
	/** retained site state (feeds, devices, alarms) goes out from this node */
	speaking(): boolean
	/** an MQTT command is this node's to answer: the active's, or a standby's while no node is active */
	answers(): boolean
}

export const OPEN: Permit = { ok: true }

/** One daemon alone (no `ha`): v1 as it was. */
export function aloneRole(name: string): Role {
	return {
		status: () => ({ name, role: 'alone', active: name, leaseRemainingMs: null }),
		mayRoute: () => OPEN,
		mayCommand: () => OPEN,
		speaking: () => true,
		answers: () => true,
	}
}

/** What a standby answers to a command. */
export function standbyError(active: string | null): string {
	return active === null ? 'standby; no node is active' : `standby; active is ${active}`
}
