// A binary min-heap of timers keyed by (due, seq): seq keeps timers due at the same ms in the order they were made,
// so that firing order never depends on the heap's shape. Cancelling is lazy: the owner bumps a generation counter
// and stale entries are dropped when they reach the top.

export interface TimerEntry<T> {
	due: number
	seq: number
	gen: number
	item: T
}

export class TimerHeap<T> {
	private readonly a: TimerEntry<T>[] = []
	private seq = 0

	get size(): number {
		return this.a.length
	}

	push(due: number, gen: number, item: T): void {
		const a = this.a
		const e: TimerEntry<T> = { due, seq: this.seq++, gen, item }
		a.push(e)
		let i = a.length - 1
		while (i > 0) {
			const p = (i - 1) >> 1
			if (!less(e, a[p]!)) break
			a[i] = a[p]!
			i = p
		}
		a[i] = e
	}

	peek(): TimerEntry<T> | undefined {
		return this.a[0]
	}

	pop(): TimerEntry<T> | undefined {
		const a = this.a
		const top = a[0]
		const last = a.pop()
		if (top === undefined || last === undefined || a.length === 0) return top
		let i = 0
		const n = a.length
		for (;;) {
			const l = 2 * i + 1
			if (l >= n) break
			const r = l + 1
			const c = r < n && less(a[r]!, a[l]!) ? r : l
			if (!less(a[c]!, last)) break
			a[i] = a[c]!
			i = c
		}
		a[i] = last
		return top
	}
}

function less<T>(x: TimerEntry<T>, y: TimerEntry<T>): boolean {
	return x.due < y.due || (x.due === y.due && x.seq < y.seq)
}
