// The one place where 1-based router ports (as labelled on the router, as in the config: docs/contract.md §2) become the
// 0-based numbers on the wire and back. Both Videohub (manual: "ports are always numbered starting at zero in the
// protocol, which matches port one on the chassis") and SW-P-08 (destination/source numbers from 0) are 0-based.

/** 1-based port -> wire number */
export function toWire(port: number): number {
	return port - 1
}

/** wire number -> 1-based port */
export function fromWire(wire: number): number {
	return wire + 1
}

/** true when `port` is a valid 1-based port of a router with `count` ports (any positive integer when unknown) */
export function portInRange(port: number, count: number | undefined): boolean {
	return Number.isInteger(port) && port >= 1 && (count === undefined || port <= count)
}
