// The one incremental line splitter of the line protocols (Megatec/Q1 over serial, NUT's upsd over TCP), bounded:
// a peer that never sends a terminator (noise on a serial line, a wrong port) cannot make it grow. A line longer
// than maxLine is dropped whole, with a resync at the next terminator, and reported (counted and onOverflow).
// Terminators split across chunks are handled: only the terminator ends a line, wherever the chunk ends.
//
// Terminators as the protocols need them:
// - 'cr': Megatec answers end in CR (protocol sheet: "<cr>"); an LF anywhere is dropped, so a UPS or adapter
//   that sends CRLF or LFCR gives the same lines.
// - 'lf': NUT lines end in LF (net-protocol.txt); a CR right before the LF is dropped (CRLF).

export interface LineSplitterOptions {
	terminator: 'cr' | 'lf'
	/** the longest line kept, in characters before the terminator (the CR of a CRLF counts) */
	maxLine: number
	/** called once for every line dropped for its length */
	onOverflow?: () => void
}

export class LineSplitter {
	#buf = ''
	#discarding = false
	/** lines dropped for their length since the splitter was made */
	overflows = 0
	readonly #end: string
	readonly #drop: string | null
	readonly #o: LineSplitterOptions

	constructor(o: LineSplitterOptions) {
		this.#o = o
		this.#end = o.terminator === 'cr' ? '\r' : '\n'
		this.#drop = o.terminator === 'cr' ? '\n' : null
	}

	/** characters held waiting for their terminator (never more than maxLine) */
	get buffered(): number {
		return this.#buf.length
	}

	/** Feeds a chunk; returns the lines it completed, without their terminators. */
	push(chunk: string): string[] {
		const out: string[] = []
		let data = this.#drop === null ? chunk : chunk.replaceAll(this.#drop, '')
		for (;;) {
			const end = data.indexOf(this.#end)
			if (end < 0) {
				if (!this.#discarding) {
					this.#buf += data
					if (this.#buf.length > this.#o.maxLine) this.#overflow(true)
				}
				return out
			}
			const piece = data.slice(0, end)
			data = data.slice(end + 1)
			if (this.#discarding) {
				// the end of an over-long line: in sync again from the next character
				this.#discarding = false
				continue
			}
			const line = this.#buf + piece
			this.#buf = ''
			if (line.length > this.#o.maxLine) this.#overflow(false)
			else out.push(this.#end === '\n' && line.endsWith('\r') ? line.slice(0, -1) : line)
		}
	}

	#overflow(stillOpen: boolean): void {
		this.#buf = ''
		this.#discarding = stillOpen
		this.overflows++
		this.#o.onOverflow?.()
	}
}
