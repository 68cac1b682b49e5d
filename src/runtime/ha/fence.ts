// The fence (docs/contract.md §9): a node sends a routing request only while its lease is valid by its OWN
// monotonic clock. etcd expires the lease TTL after it last received a keep-alive, and that instant is no earlier
// than the instant the keep-alive was SENT; so a grant counts from the send (T), never from the answer, and holds
// until T + leaseMs − margin. A node that was paused (SIGSTOP, a long GC) and resumes finds its fence closed by its
// own clock before it has heard anything from etcd: it sends nothing.
//
// The margin covers what the two clocks may disagree on over one lease: etcd's lease check runs every 500 ms and
// expires a lease no earlier than its TTL, and clocks on two machines drift by far less than a millisecond a
// second; 25 % of the lease, and at least 500 ms, is ample. With leaseMs 2000 and keep-alives every leaseMs/3
// (667 ms), a keep-alive has 833 ms to be answered before the fence closes.

export function marginMs(leaseMs: number): number {
	return Math.max(500, Math.round(leaseMs / 4))
}

export class Fence {
	private until = -Infinity
	private sentAt = -Infinity

	constructor(
		readonly leaseMs: number,
		private readonly now: () => number,
	) {}

	/** A keep-alive (or the grant) SENT at `sentAt` was answered with the lease still alive. */
	granted(sentAt: number): void {
		if (sentAt <= this.sentAt) return // an older answer arriving late extends nothing
		this.sentAt = sentAt
		this.until = sentAt + this.leaseMs - marginMs(this.leaseMs)
	}

	/** The lease is gone (expired, revoked, another lease): closed until the next grant. */
	close(): void {
		this.until = -Infinity
		this.sentAt = -Infinity
	}

	valid(): boolean {
		return this.now() < this.until
	}

	/** ms left by this node's clock (0 when closed) */
	remainingMs(): number {
		return Math.max(0, Math.floor(this.until - this.now()))
	}

	/** the instant (monotonic ms) the fence closes unless renewed */
	get closesAt(): number {
		return this.until
	}
}
